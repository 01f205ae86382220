#include "domain/product.hpp"

#include <algorithm>

namespace mercato::inventory {
namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

Result<void> check_id(std::string_view id, std::string_view field) {
  auto fail = [&](std::string why) {
    return Error::validation(std::string(field), std::string(field) + ": " + std::move(why));
  };
  if (id.empty()) return fail("must not be empty");
  if (id.size() > kMaxIdBytes) return fail("must be at most " + std::to_string(kMaxIdBytes) + " characters");
  if (!std::all_of(id.begin(), id.end(), id_char)) {
    return fail("may contain only letters, digits, '.', '_' and '-'");
  }
  if (id == "." || id == "..") return fail("must not be '.' or '..'");
  return {};
}

Result<ProductInput> normalize(ProductInput input) {
  auto first = input.name.find_first_not_of(' ');
  if (first == std::string::npos) return Error::validation("name", "name: must not be empty");
  input.name = input.name.substr(first, input.name.find_last_not_of(' ') - first + 1);
  if (input.name.size() > kMaxNameBytes) {
    return Error::validation("name", "name: must be at most " + std::to_string(kMaxNameBytes) + " bytes");
  }
  if (std::any_of(input.name.begin(), input.name.end(),
                  [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
    return Error::validation("name", "name: must not contain control characters");
  }
  if (input.price_cents < 0 || input.price_cents > kMaxPriceCents) {
    return Error::validation("price_cents",
                             "price_cents: must be between 0 and " + std::to_string(kMaxPriceCents));
  }
  if (input.available < 0 || input.available > kMaxAvailable) {
    return Error::validation("available",
                             "available: must be between 0 and " + std::to_string(kMaxAvailable));
  }
  return input;
}

Product make_product(std::string product_id, const ProductInput& input, SystemTime now) {
  return Product{std::move(product_id), input.name, input.price_cents, input.available, 0, 0, now, now};
}

void replace(Product& product, const ProductInput& input, SystemTime now) {
  product.name = input.name;
  product.price_cents = input.price_cents;
  product.available = input.available;
  product.updated_at = now;
}

}  // namespace mercato::inventory
