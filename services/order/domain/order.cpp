#include "domain/order.hpp"

#include <cctype>
#include <cmath>
#include <limits>

#include "mercato/core/country.hpp"
#include "mercato/core/enum_names.hpp"

namespace mercato::order {

namespace {
constexpr auto kStatusNames = enum_names<Status>({{Status::kPending, "pending"},
                                                  {Status::kPendingPayment, "pending_payment"},
                                                  {Status::kConfirmed, "confirmed"},
                                                  {Status::kCancelled, "cancelled"}});
}  // namespace

std::string_view to_string(Status status) noexcept { return kStatusNames.name(status, "pending"); }

std::optional<Status> parse_status(std::string_view text) noexcept { return kStatusNames.parse(text); }

namespace {
constexpr auto kCancelledByNames = enum_names<CancelledBy>(
    {{CancelledBy::kUnknown, "unknown"}, {CancelledBy::kCustomer, "customer"}, {CancelledBy::kSaga, "saga"}});
}  // namespace

std::string_view to_string(CancelledBy by) noexcept { return kCancelledByNames.name(by, "unknown"); }
std::optional<CancelledBy> parse_cancelled_by(std::string_view text) noexcept {
  return kCancelledByNames.parse(text);
}

namespace {

Result<void> text_field(std::string_view value, std::string_view field, std::size_t min, std::size_t max) {
  std::string name = "shipping_address." + std::string(field);
  if (value.size() < min) return Error::validation(name, name + ": must not be empty");
  if (value.size() > max)
    return Error::validation(name, name + ": must be at most " + std::to_string(max) + " bytes");
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20)
      return Error::validation(name, name + ": must not contain control characters");
  }
  return {};
}

}  // namespace

Result<void> validate(const Address& a) {
  if (auto r = text_field(a.name, "name", 1, 200); !r) return r;
  if (auto r = text_field(a.line1, "line1", 1, 200); !r) return r;
  if (auto r = text_field(a.line2, "line2", 0, 200); !r) return r;
  if (auto r = text_field(a.city, "city", 1, 200); !r) return r;
  if (auto r = text_field(a.postal_code, "postal_code", 1, 20); !r) return r;
  // The same rule the shipping service applies, so an accepted order can always be shipped.
  if (!is_iso3166_alpha2(a.country)) {
    return Error::validation(
        "shipping_address.country",
        "shipping_address.country: must be an assigned ISO 3166-1 alpha-2 code such as \"DE\"");
  }
  return {};
}

Result<std::int64_t> total_of(const std::vector<Line>& lines) {
  std::int64_t total = 0;
  for (const auto& l : lines) {
    std::int64_t line = 0;
    if (__builtin_mul_overflow(l.quantity, l.unit_price_cents, &line) ||
        __builtin_add_overflow(total, line, &total)) {
      return Error::unprocessable("order total is too large", "items");
    }
  }
  return total;
}

Result<std::int64_t> cents_from_decimal(double price, std::string_view field) {
  std::string name(field);
  if (!std::isfinite(price) || price < 0 || price > 1e12) {
    return Error::validation(name, name + ": must be between 0 and 1000000000000");
  }
  double cents = price * 100.0;
  double rounded = std::round(cents);
  // Binary floating point cannot hold 19.99 exactly; anything within a millionth of a cent is that cent.
  if (std::fabs(cents - rounded) > 1e-6) {
    return Error::validation(name, name + ": has more than two decimal places; send price_cents instead");
  }
  return static_cast<std::int64_t>(rounded);
}

}  // namespace mercato::order
