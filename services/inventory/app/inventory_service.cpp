#include "app/inventory_service.hpp"

namespace mercato::inventory {

Result<PutProductResult> InventoryService::put_product(std::string_view product_id, ProductInput input) {
  if (auto r = check_id(product_id, "product_id"); !r) return std::move(r).error();
  auto normalized = normalize(std::move(input));
  if (!normalized) return std::move(normalized).error();
  return repository_.put_product(std::string(product_id), *normalized, now_utc());
}

Result<Product> InventoryService::get_product(std::string_view product_id) {
  if (auto r = check_id(product_id, "product_id"); !r) return std::move(r).error();
  return repository_.find_product(product_id);
}

Result<ReserveResult> InventoryService::reserve(const ReservationRequest& request) {
  if (auto r = validate(request); !r) return std::move(r).error();
  return repository_.reserve(request, now_utc());
}

Result<Reservation> InventoryService::commit(std::string_view order_id) {
  if (auto r = check_id(order_id, "order_id"); !r) return std::move(r).error();
  return repository_.settle(order_id, ReservationStatus::kCommitted, now_utc());
}

Result<Reservation> InventoryService::release(std::string_view order_id) {
  if (auto r = check_id(order_id, "order_id"); !r) return std::move(r).error();
  return repository_.settle(order_id, ReservationStatus::kReleased, now_utc());
}

Result<Reservation> InventoryService::get_reservation(std::string_view order_id) {
  if (auto r = check_id(order_id, "order_id"); !r) return std::move(r).error();
  return repository_.find_reservation(order_id);
}

}  // namespace mercato::inventory
