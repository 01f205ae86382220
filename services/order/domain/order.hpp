// The order aggregate: lines priced by the inventory service, a total in minor units, a status that
// only moves forward. Pure logic: no I/O, no HTTP, no SQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::order {

// Error::not_found for a order: the same answer whether it is missing or hidden from the caller.
inline Error order_not_found(std::string_view id) { return Error::not_found("order", id); }

enum class Status { kPending, kPendingPayment, kConfirmed, kCancelled };
std::string_view to_string(Status status) noexcept;
std::optional<Status> parse_status(std::string_view text) noexcept;

// Who cancelled an order: the customer (or an operator on their behalf), or the saga (a step failed, the
// deadline passed). kUnknown for cancellations recorded before order.cancelled said (its v1).
enum class CancelledBy { kUnknown, kCustomer, kSaga };
std::string_view to_string(CancelledBy by) noexcept;
std::optional<CancelledBy> parse_cancelled_by(std::string_view text) noexcept;

struct Address {
  std::string name;
  std::string line1;
  std::string line2;
  std::string city;
  std::string postal_code;
  std::string country;  // ISO 3166-1 alpha-2

  friend bool operator==(const Address&, const Address&) = default;
};

// Field-level checks of an address; errors name "shipping_address.<field>".
Result<void> validate(const Address& address);

struct Line {
  std::string product_id;
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;  // from the inventory service, never from the client

  friend bool operator==(const Line&, const Line&) = default;
};

struct Order {
  std::string id;
  std::string customer_id;
  std::vector<Line> lines;
  std::int64_t total_cents = 0;
  Status status = Status::kPending;
  std::string reason;  // why it was cancelled
  std::string payment_token;
  Address shipping_address;
  SystemTime created_at{};
  SystemTime updated_at{};
  CancelledBy cancelled_by = CancelledBy::kUnknown;  // who cancelled it, when cancelled
  // How the order's saga runs ("orchestration", "choreography"; "none": placed without one). Fixed at
  // placement.
  std::string saga = "none";
  // How many events the order's stream holds (domain/order_history.hpp); 0 for an order not yet placed.
  std::int64_t version = 0;

  friend bool operator==(const Order&, const Order&) = default;
};

// Sum of quantity × unit price; kUnprocessable when it would overflow int64 cents.
Result<std::int64_t> total_of(const std::vector<Line>& lines);

// A price the client sent: `price_cents`, or the article's decimal `price` in major units. A decimal
// with more than two places cannot be a price in cents and is refused.
Result<std::int64_t> cents_from_decimal(double price, std::string_view field);

}  // namespace mercato::order
