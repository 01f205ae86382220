// A product's stock record and its rules: identifiers, the admin's input, create and replace. Pure logic:
// no I/O, no HTTP, no SQL.
//
// Stock of one product is split three ways: `available` (can be reserved), `reserved` (promised to an
// order that has not finished yet) and `sold`. Reservations move units between them, never create or
// destroy any; only an admin's PUT sets `available`.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::inventory {

inline constexpr std::size_t kMaxIdBytes = 64;
inline constexpr std::size_t kMaxNameBytes = 200;
inline constexpr std::int64_t kMaxPriceCents = 1'000'000'000'000;
inline constexpr std::int64_t kMaxAvailable = 1'000'000'000;

struct Product {
  std::string product_id;
  std::string name;
  std::int64_t price_cents = 0;
  std::int64_t available = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
  SystemTime created_at{};
  SystemTime updated_at{};

  friend bool operator==(const Product&, const Product&) = default;
};

// Product and order ids: 1..64 characters of [A-Za-z0-9._-]. "." and ".." are refused too: they travel
// in URL paths, where clients and proxies rewrite them as dot-segments. A validation error names `field`.
Result<void> check_id(std::string_view id, std::string_view field);

// What an admin sends to create or replace a product.
struct ProductInput {
  std::string name;
  std::int64_t price_cents = 0;
  std::int64_t available = 0;

  friend bool operator==(const ProductInput&, const ProductInput&) = default;
};

// Trims spaces around the name, then checks: name 1..200 bytes without control characters,
// price_cents 0..1e12, available 0..1e9. Errors name the field.
Result<ProductInput> normalize(ProductInput input);

// A new product with nothing reserved or sold.
Product make_product(std::string product_id, const ProductInput& input, SystemTime now);

// Sets name, price and available; keeps reserved and sold, which belong to orders in flight and done.
void replace(Product& product, const ProductInput& input, SystemTime now);

}  // namespace mercato::inventory
