#include "adapters/memory_inventory_repository.hpp"

#include <optional>
#include <vector>

namespace mercato::inventory {
namespace {

// As the outbox tables do: a malformed event refuses the whole change (checked before anything changes).
Result<void> check(std::span<const events::CloudEvent> events) {
  for (const auto& e : events) {
    if (auto valid = events::validate(e); !valid) return valid;
  }
  return {};
}

}  // namespace

Result<PutProductResult> MemoryInventoryRepository::put_product(const std::string& product_id,
                                                                const ProductInput& input, SystemTime now,
                                                                std::span<const events::CloudEvent> events) {
  std::lock_guard lock(mutex_);
  MERCATO_RETURN_IF_ERROR(check(events));
  outbox_.insert(outbox_.end(), events.begin(), events.end());
  auto it = products_.find(product_id);
  if (it == products_.end()) {
    auto product = make_product(product_id, input, now);
    products_.emplace(product_id, product);
    return PutProductResult{std::move(product), true};
  }
  replace(it->second, input, now);
  return PutProductResult{it->second, false};
}

Result<Product> MemoryInventoryRepository::find_product(std::string_view product_id) {
  std::lock_guard lock(mutex_);
  auto it = products_.find(product_id);
  if (it == products_.end()) return Error::not_found("product " + std::string(product_id) + " not found");
  return it->second;
}

Result<ReserveResult> MemoryInventoryRepository::reserve(const ReservationRequest& request, SystemTime now,
                                                         std::span<const events::CloudEvent> events) {
  std::lock_guard lock(mutex_);
  if (auto it = reservations_.find(request.order_id); it != reservations_.end()) {
    if (!same_items(it->second, request)) {
      return Error::conflict("order " + request.order_id + " already has a reservation with other items",
                             "order_id");
    }
    return ReserveResult{it->second, false};
  }
  // Work on copies, so a refused request leaves the stored products untouched.
  std::vector<std::optional<Product>> products;
  products.reserve(request.items.size());
  for (const auto& item : request.items) {
    auto it = products_.find(item.product_id);
    products.push_back(it == products_.end() ? std::nullopt : std::optional<Product>(it->second));
  }
  MERCATO_ASSIGN_OR_RETURN(auto reservation, inventory::reserve(request, products, now));
  MERCATO_RETURN_IF_ERROR(check(events));
  for (auto& product : products) products_.find(product->product_id)->second = std::move(*product);
  reservations_.emplace(request.order_id, reservation);
  outbox_.insert(outbox_.end(), events.begin(), events.end());
  return ReserveResult{std::move(reservation), true};
}

Result<SettleResult> MemoryInventoryRepository::settle(std::string_view order_id, ReservationStatus target,
                                                       SystemTime now, const EventsOf& events_of) {
  std::lock_guard lock(mutex_);
  auto it = reservations_.find(order_id);
  if (it == reservations_.end()) {
    return Error::not_found("order " + std::string(order_id) + " has no reservation");
  }
  Reservation reservation = it->second;
  MERCATO_ASSIGN_OR_RETURN(auto moved, transition(reservation, target, now));
  if (!moved) return SettleResult{std::move(reservation), false};
  std::vector<std::pair<Product*, Product>> updated;
  for (const auto& line : reservation.items) {
    auto p = products_.find(line.product_id);
    if (p == products_.end()) return Error::internal("reserved product " + line.product_id + " is missing");
    Product copy = p->second;
    MERCATO_RETURN_IF_ERROR(settle_line(copy, line.quantity, target, now));
    updated.emplace_back(&p->second, std::move(copy));
  }
  std::vector<events::CloudEvent> appended;
  if (events_of) appended = events_of(reservation);
  MERCATO_RETURN_IF_ERROR(check(appended));
  for (auto& [stored, copy] : updated) *stored = std::move(copy);
  it->second = reservation;
  outbox_.insert(outbox_.end(), appended.begin(), appended.end());
  return SettleResult{std::move(reservation), true};
}

std::vector<events::CloudEvent> MemoryInventoryRepository::outbox() {
  std::lock_guard lock(mutex_);
  return outbox_;
}

Result<Reservation> MemoryInventoryRepository::find_reservation(std::string_view order_id) {
  std::lock_guard lock(mutex_);
  auto it = reservations_.find(order_id);
  if (it == reservations_.end()) {
    return Error::not_found("order " + std::string(order_id) + " has no reservation");
  }
  return it->second;
}

}  // namespace mercato::inventory
