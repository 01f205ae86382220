#include "app/shipping_service.hpp"

#include "app/shipment_events.hpp"
#include "mercato/core/ids.hpp"

namespace mercato::shipping {

Result<CreateOutcome> ShippingService::create(const ShipmentRequest& request, std::string traceparent) {
  auto normalized = normalize_request(request);
  if (!normalized) return std::move(normalized).error();
  auto shipment = new_shipment(new_uuid(), *normalized, now_utc());
  auto created = shipment_created_event(shipment, std::move(traceparent));
  auto inserted = repository_.insert(shipment, std::span(&created, 1));
  if (inserted) return CreateOutcome{std::move(shipment), true};
  if (inserted.error().code != ErrorCode::kConflict) return std::move(inserted).error();
  // The order already has a shipment (perhaps inserted a moment ago by a concurrent identical request):
  // shipments are never deleted, so the winner is there to compare with.
  auto existing = repository_.find_by_order(normalized->order_id);
  if (!existing) return std::move(existing).error();
  if (existing->empty()) return Error::internal("shipment of order " + normalized->order_id + " vanished");
  auto& winner = existing->front();
  if (!is_replay_of(winner, *normalized)) {
    return Error::conflict("order_id: order " + normalized->order_id +
                               " already has a shipment with a different customer or address",
                           "order_id");
  }
  return CreateOutcome{std::move(winner), false};
}

Result<Shipment> ShippingService::get(std::string_view id) { return repository_.find(id); }

Result<std::vector<Shipment>> ShippingService::list_for_order(std::string_view order_id) {
  auto valid = validate_reference("order_id", order_id);
  if (!valid) return std::move(valid).error();
  return repository_.find_by_order(*valid);
}

Result<Shipment> ShippingService::cancel(std::string_view id, std::string traceparent) {
  return repository_.cancel(id, now_utc(), [&traceparent](const Shipment& s) {
    return std::vector{shipment_cancelled_event(s, traceparent)};
  });
}

}  // namespace mercato::shipping
