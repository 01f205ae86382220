#include "app/inventory_service.hpp"

#include "app/inventory_events.hpp"

namespace mercato::inventory {

Result<PutProductResult> InventoryService::put_product(std::string_view product_id, ProductInput input,
                                                       const std::string& traceparent) {
  MERCATO_RETURN_IF_ERROR(check_id(product_id, "product_id"));
  MERCATO_ASSIGN_OR_RETURN(auto normalized, normalize(std::move(input)));
  auto now = now_utc();
  auto updated = inventory_product_updated_event(product_id, normalized, now, traceparent);
  return repository_.put_product(std::string(product_id), normalized, now, std::span(&updated, 1));
}

Result<Product> InventoryService::get_product(std::string_view product_id) {
  MERCATO_RETURN_IF_ERROR(check_id(product_id, "product_id"));
  return repository_.find_product(product_id);
}

Result<ReserveResult> InventoryService::reserve(const ReservationRequest& request,
                                                const std::string& traceparent, std::string_view saga) {
  MERCATO_RETURN_IF_ERROR(validate(request));
  auto now = now_utc();
  auto reserved = inventory_reserved_event(request, now, traceparent, saga);
  return repository_.reserve(request, now, std::span(&reserved, 1));
}

Result<SettleResult> InventoryService::commit(std::string_view order_id, const std::string& traceparent) {
  MERCATO_RETURN_IF_ERROR(check_id(order_id, "order_id"));
  return repository_.settle(order_id, ReservationStatus::kCommitted, now_utc(),
                            [&traceparent](const Reservation& committed) {
                              return std::vector{inventory_settled_event(committed, {}, traceparent)};
                            });
}

Result<SettleResult> InventoryService::release(std::string_view order_id, std::string_view reason,
                                               const std::string& traceparent) {
  MERCATO_RETURN_IF_ERROR(check_id(order_id, "order_id"));
  return repository_.settle(order_id, ReservationStatus::kReleased, now_utc(),
                            [&](const Reservation& released) {
                              return std::vector{inventory_settled_event(released, reason, traceparent)};
                            });
}

Result<Reservation> InventoryService::get_reservation(std::string_view order_id) {
  MERCATO_RETURN_IF_ERROR(check_id(order_id, "order_id"));
  return repository_.find_reservation(order_id);
}

}  // namespace mercato::inventory
