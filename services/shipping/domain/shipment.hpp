// The shipment aggregate and its rules: address validation, the per-order idempotency check and the
// status machine (created → cancelled). Pure logic: no I/O, no HTTP, no SQL.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::shipping {

// Error::not_found for a shipment: the same answer whether it is missing or hidden from the caller.
inline Error shipment_not_found(std::string_view id) { return Error::not_found("shipment", id); }

struct Address {
  std::string name;
  std::string line1;
  std::string line2;  // "" when there is none
  std::string city;
  std::string postal_code;
  std::string country;  // ISO 3166-1 alpha-2, upper case

  friend bool operator==(const Address&, const Address&) = default;
};

enum class ShipmentStatus { kCreated, kCancelled };

// "created", "cancelled".
std::string_view to_string(ShipmentStatus status) noexcept;
std::optional<ShipmentStatus> parse_status(std::string_view text) noexcept;

struct Shipment {
  std::string id;
  std::string order_id;
  std::string customer_id;
  Address address;
  ShipmentStatus status = ShipmentStatus::kCreated;
  SystemTime created_at{};
  SystemTime updated_at{};

  friend bool operator==(const Shipment&, const Shipment&) = default;
};

// What a client asks for; validated by normalize_request.
struct ShipmentRequest {
  std::string order_id;
  std::string customer_id;
  Address address;

  friend bool operator==(const ShipmentRequest&, const ShipmentRequest&) = default;
};

// An opaque id from another service: 1..128 bytes, no control characters. Errors name `field`.
Result<std::string> validate_reference(std::string_view field, std::string_view value);

// Trims surrounding spaces from the text fields and checks them: name, line1, city 1..200 bytes, line2
// 0..200, postal_code 1..20, no control characters; country an assigned ISO 3166-1 alpha-2 code in upper
// case. Errors name the field as "address.<name>".
Result<Address> normalize_address(const Address& address);

// Validates the ids and normalizes the address, so equal requests compare equal after normalization.
Result<ShipmentRequest> normalize_request(const ShipmentRequest& request);

// Whether `code` is an officially assigned ISO 3166-1 alpha-2 code ("DE", not "de" or "ZZ").
bool is_iso_country(std::string_view code) noexcept;

// A new shipment for a normalized request, in status created.
Shipment new_shipment(std::string id, ShipmentRequest request, SystemTime now);

// A repeated create for the same order is a replay only when it asks for the same thing; otherwise it is
// a conflicting second shipment for the order.
bool is_replay_of(const Shipment& existing, const ShipmentRequest& request);

// created → cancelled, touching updated_at. Cancelling a cancelled shipment changes nothing (idempotent).
// Returns whether anything changed.
bool cancel(Shipment& shipment, SystemTime now);

}  // namespace mercato::shipping
