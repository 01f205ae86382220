#include "domain/reservation.hpp"

#include <algorithm>

#include "mercato/core/enum_names.hpp"

namespace mercato::inventory {
namespace {

std::string item_field(std::size_t index, std::string_view name) {
  return "items[" + std::to_string(index) + "]." + std::string(name);
}

constexpr auto kStatusNames = enum_names<ReservationStatus>({{ReservationStatus::kReserved, "reserved"},
                                                             {ReservationStatus::kCommitted, "committed"},
                                                             {ReservationStatus::kReleased, "released"}});

}  // namespace

std::string_view to_string(ReservationStatus status) noexcept {
  return kStatusNames.name(status, "reserved");
}

std::optional<ReservationStatus> parse_reservation_status(std::string_view text) noexcept {
  return kStatusNames.parse(text);
}

Result<void> validate(const ReservationRequest& request) {
  if (auto r = check_id(request.order_id, "order_id"); !r) return r;
  if (request.items.empty() || request.items.size() > kMaxReservationLines) {
    return Error::validation("items",
                             "items: must hold 1 to " + std::to_string(kMaxReservationLines) + " lines");
  }
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    const auto& item = request.items[i];
    auto id_field = item_field(i, "product_id");
    if (auto r = check_id(item.product_id, id_field); !r) return r;
    if (item.quantity < 1 || item.quantity > kMaxQuantity) {
      auto field = item_field(i, "quantity");
      return Error::validation(field, field + ": must be between 1 and " + std::to_string(kMaxQuantity));
    }
    // At most 100 lines: a quadratic scan is cheaper than building a set.
    for (std::size_t j = 0; j < i; ++j) {
      if (request.items[j].product_id == item.product_id) {
        return Error::validation(id_field, id_field + ": product " + item.product_id +
                                               " is already in items[" + std::to_string(j) +
                                               "]; give each product once with the total quantity");
      }
    }
  }
  return {};
}

bool same_items(const Reservation& existing, const ReservationRequest& request) {
  if (existing.items.size() != request.items.size()) return false;
  // Product ids are unique within each side, so matching every requested line is enough.
  return std::all_of(request.items.begin(), request.items.end(), [&](const ItemRequest& item) {
    return std::any_of(existing.items.begin(), existing.items.end(), [&](const ReservationLine& line) {
      return line.product_id == item.product_id && line.quantity == item.quantity;
    });
  });
}

Result<Reservation> reserve(const ReservationRequest& request, std::span<std::optional<Product>> products,
                            SystemTime now) {
  if (products.size() != request.items.size()) {
    return Error::internal("reserve: one product slot per requested line expected");
  }
  // Check every line before touching any product, so a failure leaves all of them as they were.
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    const auto& item = request.items[i];
    if (!products[i]) {
      auto field = item_field(i, "product_id");
      return Error::unprocessable(field + ": product " + item.product_id + " does not exist", field);
    }
    if (products[i]->available < item.quantity) {
      auto field = item_field(i, "quantity");
      return Error::unprocessable(field + ": product " + item.product_id + " has " +
                                      std::to_string(products[i]->available) + " available, " +
                                      std::to_string(item.quantity) + " requested",
                                  field);
    }
  }
  Reservation reservation{request.order_id, ReservationStatus::kReserved, {}, now, now};
  reservation.items.reserve(request.items.size());
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    const auto& item = request.items[i];
    Product& product = *products[i];
    product.available -= item.quantity;
    product.reserved += item.quantity;
    product.updated_at = now;
    reservation.items.push_back({item.product_id, item.quantity, product.price_cents});
  }
  return reservation;
}

Result<bool> transition(Reservation& reservation, ReservationStatus target, SystemTime now) {
  if (target == ReservationStatus::kReserved) {
    return Error::internal("a reservation cannot move back to reserved");
  }
  if (reservation.status == target) return false;
  if (reservation.status != ReservationStatus::kReserved) {
    return Error::conflict("the reservation of order " + reservation.order_id + " is " +
                           std::string(to_string(reservation.status)) + "; it cannot be " +
                           std::string(to_string(target)) + " any more");
  }
  reservation.status = target;
  reservation.updated_at = now;
  return true;
}

Result<void> settle_line(Product& product, std::int64_t quantity, ReservationStatus target, SystemTime now) {
  if (target == ReservationStatus::kReserved) return Error::internal("settle_line: target must be final");
  if (product.reserved < quantity) {
    return Error::internal("product " + product.product_id + " holds " + std::to_string(product.reserved) +
                           " reserved, less than the " + std::to_string(quantity) + " a reservation holds");
  }
  product.reserved -= quantity;
  if (target == ReservationStatus::kCommitted) {
    product.sold += quantity;
  } else {
    product.available += quantity;
  }
  product.updated_at = now;
  return {};
}

}  // namespace mercato::inventory
