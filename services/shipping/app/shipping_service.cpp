#include "app/shipping_service.hpp"

#include "app/shipment_events.hpp"
#include "mercato/core/ids.hpp"

namespace mercato::shipping {

Result<CreateOutcome> ShippingService::create(const ShipmentRequest& request, std::string traceparent) {
  MERCATO_ASSIGN_OR_RETURN(auto normalized, normalize_request(request));
  auto shipment = new_shipment(new_time_ordered_uuid(), normalized, now_utc());
  auto created = shipment_created_event(shipment, std::move(traceparent));
  auto inserted = repository_.insert(shipment, std::span(&created, 1));
  if (inserted) return CreateOutcome{std::move(shipment), true};
  if (inserted.error().code != ErrorCode::kConflict) return std::move(inserted).error();
  // The order already has a shipment (perhaps inserted a moment ago by a concurrent identical request):
  // shipments are never deleted, so the winner is there to compare with.
  MERCATO_ASSIGN_OR_RETURN(auto existing, repository_.find_by_order(normalized.order_id));
  if (existing.empty()) return Error::internal("shipment of order " + normalized.order_id + " vanished");
  auto& winner = existing.front();
  if (!is_replay_of(winner, normalized)) {
    return Error::conflict("order_id: order " + normalized.order_id +
                               " already has a shipment with a different customer or address",
                           "order_id");
  }
  return CreateOutcome{std::move(winner), false};
}

Result<Shipment> ShippingService::get(std::string_view id) { return repository_.find(id); }

Result<std::vector<Shipment>> ShippingService::list_for_order(std::string_view order_id) {
  MERCATO_ASSIGN_OR_RETURN(auto valid, validate_reference("order_id", order_id));
  return repository_.find_by_order(valid);
}

Result<Shipment> ShippingService::cancel(std::string_view id, std::string traceparent) {
  return repository_.cancel(id, now_utc(), [&traceparent](const Shipment& s) {
    return std::vector{shipment_cancelled_event(s, traceparent)};
  });
}

Result<ShippingService::OrderShipment> ShippingService::ship_order(const ShipmentRequest& request,
                                                                   std::string traceparent) {
  MERCATO_ASSIGN_OR_RETURN(auto order_id, validate_reference("order_id", request.order_id));
  // The order's shipment first: a repeat of a create that was made is answered with it, even when it
  // would be refused now (a country no longer served). Only a shipment of the same customer and address
  // is that create: one made through the REST API to another address is someone else's, never adopted.
  auto existing = repository_.find_by_order(order_id);
  if (!existing) return std::move(existing).error();
  auto normalized = normalize_request(request);
  if (!existing->empty()) return adopt_or_refuse(std::move(existing->front()), normalized);
  if (!normalized) return OrderShipment{std::nullopt, normalized.error().message};
  if (!settings_.serves(normalized->address.country)) {
    return OrderShipment{std::nullopt,
                         "address.country: the carrier does not deliver to " + normalized->address.country};
  }
  auto outcome = create(*normalized, std::move(traceparent));
  if (outcome) return OrderShipment{std::move(outcome->shipment), {}, outcome->created};
  if (outcome.error().code != ErrorCode::kConflict) return std::move(outcome).error();
  // Created meanwhile with other data (through the REST API): someone else's shipment of the order.
  existing = repository_.find_by_order(order_id);
  if (!existing) return std::move(existing).error();
  if (existing->empty()) return Error::internal("shipment of order " + order_id + " vanished");
  return adopt_or_refuse(std::move(existing->front()), normalized);
}

ShippingService::OrderShipment ShippingService::adopt_or_refuse(Shipment existing,
                                                                const Result<ShipmentRequest>& normalized) {
  if (normalized && is_replay_of(existing, *normalized)) return OrderShipment{std::move(existing)};
  return OrderShipment{std::nullopt, std::string(kShipmentConflict) + ": order " + existing.order_id +
                                         " already has a shipment for another customer or address"};
}

Result<ShippingService::OrderCancel> ShippingService::cancel_order(
    std::string_view order_id, std::string traceparent, const std::optional<ShipmentRequest>& shipment) {
  MERCATO_ASSIGN_OR_RETURN(auto valid, validate_reference("order_id", order_id));
  MERCATO_ASSIGN_OR_RETURN(auto existing, repository_.find_by_order(valid));
  if (existing.empty()) return OrderCancel{};
  if (shipment) {
    // Someone else's shipment of the order (another customer or address) was never the saga's.
    auto normalized = normalize_request(*shipment);
    if (!normalized || !is_replay_of(existing.front(), *normalized)) return OrderCancel{};
  }
  // events_of runs only when the shipment moves to cancelled, inside the transaction that returns it; a
  // cancel that got there first leaves `moved` false and the shipment as it cancelled it.
  bool moved = false;
  auto cancelled = repository_.cancel(existing.front().id, now_utc(), [&](const Shipment& s) {
    moved = true;
    return std::vector{shipment_cancelled_event(s, traceparent)};
  });
  if (!cancelled) return std::move(cancelled).error();
  return OrderCancel{std::move(*cancelled), moved};
}

}  // namespace mercato::shipping
