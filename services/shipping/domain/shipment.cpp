#include "domain/shipment.hpp"

#include <algorithm>
#include <array>

#include "mercato/core/country.hpp"
#include "mercato/core/enum_names.hpp"
#include "mercato/core/text.hpp"

namespace mercato::shipping {
namespace {

constexpr std::size_t kMaxReferenceBytes = 128;

constexpr auto kStatusNames = enum_names<ShipmentStatus>(
    {{ShipmentStatus::kCreated, "created"}, {ShipmentStatus::kCancelled, "cancelled"}});

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string_view trim_spaces(std::string_view text) {
  auto first = text.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// One address line: trimmed, min..max bytes, no control characters.
Result<std::string> text_field(std::string_view name, std::string_view value, std::size_t min,
                               std::size_t max) {
  std::string field = "address." + std::string(name);
  auto trimmed = trim_spaces(value);
  if (trimmed.size() < min) return Error::validation(field, field + ": must not be empty");
  if (trimmed.size() > max) {
    return Error::validation(field, field + ": must be at most " + std::to_string(max) + " bytes");
  }
  if (has_control(trimmed)) return Error::validation(field, field + ": must not contain control characters");
  return std::string(trimmed);
}

}  // namespace

std::string_view to_string(ShipmentStatus status) noexcept { return kStatusNames.name(status, "created"); }

std::optional<ShipmentStatus> parse_status(std::string_view text) noexcept {
  return kStatusNames.parse(text);
}

bool is_iso_country(std::string_view code) noexcept { return is_iso3166_alpha2(code); }

Result<std::string> validate_reference(std::string_view field, std::string_view value) {
  return check_reference(field, value, kMaxReferenceBytes);
}

Result<Address> normalize_address(const Address& address) {
  Address out;
  MERCATO_ASSIGN_OR_RETURN(auto name, text_field("name", address.name, 1, 200));
  out.name = std::move(name);
  MERCATO_ASSIGN_OR_RETURN(auto line1, text_field("line1", address.line1, 1, 200));
  out.line1 = std::move(line1);
  MERCATO_ASSIGN_OR_RETURN(auto line2, text_field("line2", address.line2, 0, 200));
  out.line2 = std::move(line2);
  MERCATO_ASSIGN_OR_RETURN(auto city, text_field("city", address.city, 1, 200));
  out.city = std::move(city);
  MERCATO_ASSIGN_OR_RETURN(auto postal_code, text_field("postal_code", address.postal_code, 1, 20));
  out.postal_code = std::move(postal_code);
  const std::string field = "address.country";
  const auto& c = address.country;
  bool shape =
      c.size() == 2 && std::all_of(c.begin(), c.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
  if (!shape) {
    return Error::validation(field, field + ": must be an ISO 3166-1 alpha-2 code: two upper-case letters");
  }
  if (!is_iso_country(c)) {
    return Error::validation(field, field + ": '" + c + "' is not an assigned ISO 3166-1 alpha-2 code");
  }
  out.country = c;
  return out;
}

Result<ShipmentRequest> normalize_request(const ShipmentRequest& request) {
  MERCATO_ASSIGN_OR_RETURN(auto order_id, validate_reference("order_id", request.order_id));
  MERCATO_ASSIGN_OR_RETURN(auto customer_id, validate_reference("customer_id", request.customer_id));
  MERCATO_ASSIGN_OR_RETURN(auto address, normalize_address(request.address));
  return ShipmentRequest{std::move(order_id), std::move(customer_id), std::move(address)};
}

Shipment new_shipment(std::string id, ShipmentRequest request, SystemTime now) {
  return Shipment{std::move(id),
                  std::move(request.order_id),
                  std::move(request.customer_id),
                  std::move(request.address),
                  ShipmentStatus::kCreated,
                  now,
                  now};
}

bool is_replay_of(const Shipment& existing, const ShipmentRequest& request) {
  return existing.order_id == request.order_id && existing.customer_id == request.customer_id &&
         existing.address == request.address;
}

bool cancel(Shipment& shipment, SystemTime now) {
  if (shipment.status == ShipmentStatus::kCancelled) return false;
  shipment.status = ShipmentStatus::kCancelled;
  shipment.updated_at = now;
  return true;
}

}  // namespace mercato::shipping
