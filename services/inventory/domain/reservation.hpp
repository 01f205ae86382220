// Reservations: stock held for one order, all lines or none, then committed (sold) or released (back to
// available). Pure logic: no I/O, no HTTP, no SQL. The repositories load the products a request names,
// run these functions and store what they return inside one transaction, so the rules live here once.
//
//   reserved ──commit──▶ committed      (reserved → sold for every line)
//      │
//      └─────release──▶ released       (reserved → available for every line)
//
// Committing a committed reservation, or releasing a released one, is a no-op (retries are safe); the
// other two moves out of a final state are conflicts.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/product.hpp"
#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::inventory {

inline constexpr std::size_t kMaxReservationLines = 100;
inline constexpr std::int64_t kMaxQuantity = 1'000'000;

enum class ReservationStatus { kReserved, kCommitted, kReleased };

// "reserved", "committed", "released".
std::string_view to_string(ReservationStatus status) noexcept;
std::optional<ReservationStatus> parse_reservation_status(std::string_view text) noexcept;

struct ReservationLine {
  std::string product_id;
  std::int64_t quantity = 0;
  std::int64_t price_cents = 0;  // the product's unit price when the reservation was made

  friend bool operator==(const ReservationLine&, const ReservationLine&) = default;
};

struct Reservation {
  std::string order_id;
  ReservationStatus status = ReservationStatus::kReserved;
  std::vector<ReservationLine> items;  // in the order the request gave them
  SystemTime created_at{};
  SystemTime updated_at{};

  friend bool operator==(const Reservation&, const Reservation&) = default;
};

struct ItemRequest {
  std::string product_id;
  std::int64_t quantity = 0;
};

struct ReservationRequest {
  std::string order_id;
  std::vector<ItemRequest> items;
};

// Shape rules, each error naming its field: order_id an id, 1..100 items, each product_id an id and
// each quantity 1..1e6, no product twice (the repeat is named: "items[2].product_id").
Result<void> validate(const ReservationRequest& request);

// Whether `request` asks for exactly the lines `existing` holds, in any order: then it is a replay of
// the same order's reservation, not a different one.
bool same_items(const Reservation& existing, const ReservationRequest& request);

// Reserves a validated request. `products[i]` is the stored product request.items[i] names (nullopt
// when there is none). All or nothing: on success every product has moved its quantity from available
// to reserved and the new reservation is returned; on failure (kUnprocessable naming
// "items[i].product_id" for an unknown product or "items[i].quantity" for too little stock) `products`
// is left exactly as it was given.
Result<Reservation> reserve(const ReservationRequest& request, std::span<std::optional<Product>> products,
                            SystemTime now);

// Moves `reservation` to `target` (kCommitted or kReleased). Returns true when it moved, false when it
// was already there (nothing to do), kConflict when it is in the other final state.
Result<bool> transition(Reservation& reservation, ReservationStatus target, SystemTime now);

// The stock move of one line when its reservation moves to `target`: reserved → sold (kCommitted) or
// reserved → available (kReleased). kInternal if the product holds less reserved than the line, which
// only a bug or a hand-edited database can cause.
Result<void> settle_line(Product& product, std::int64_t quantity, ReservationStatus target, SystemTime now);

}  // namespace mercato::inventory
