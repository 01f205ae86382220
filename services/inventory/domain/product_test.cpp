#include "domain/product.hpp"

#include <gtest/gtest.h>

#include <array>

namespace mercato::inventory {
namespace {

TEST(CheckId, AcceptsLettersDigitsDotUnderscoreDash) {
  EXPECT_TRUE(check_id("sku-1", "product_id"));
  EXPECT_TRUE(check_id("A.b_C-9", "product_id"));
  EXPECT_TRUE(check_id("3f2b8c1e-9a4d-4c7e-8f21-0b6d5e4a9c13", "order_id"));
  EXPECT_TRUE(check_id(std::string(64, 'x'), "product_id"));
  EXPECT_TRUE(check_id("...", "product_id"));
}

TEST(CheckId, RefusesEmptyLongOddCharactersAndDotSegments) {
  for (const std::string& bad :
       {std::string(), std::string(65, 'x'), std::string("a b"), std::string("a/b"), std::string("sku%41"),
        std::string("ü"), std::string("a\nb"), std::string("."), std::string(".."), std::string("a+b")}) {
    auto r = check_id(bad, "items[3].product_id");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
    EXPECT_EQ(r.error().field, "items[3].product_id");
    EXPECT_EQ(r.error().message.rfind("items[3].product_id: ", 0), 0U) << r.error().message;
  }
}

ProductInput input(std::string name, std::int64_t price = 100, std::int64_t available = 5) {
  return {std::move(name), price, available};
}

TEST(NormalizeProductInput, TrimsNameAndKeepsNumbers) {
  auto r = normalize(input("  Red mug ", 1299, 7));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, input("Red mug", 1299, 7));
  EXPECT_TRUE(normalize(input(std::string(200, 'n'), 0, 0)));
  EXPECT_TRUE(normalize(input("Kaffeetasse für Jürgen", kMaxPriceCents, kMaxAvailable)));
}

TEST(NormalizeProductInput, RefusesBadFieldsNamingThem) {
  struct Case {
    ProductInput in;
    const char* field;
  };
  const auto cases = std::to_array<Case>({
      {input(""), "name"},
      {input("   "), "name"},
      {input(std::string(201, 'n')), "name"},
      {input("tab\there"), "name"},
      {input("del\x7f"), "name"},
      {input("ok", -1), "price_cents"},
      {input("ok", kMaxPriceCents + 1), "price_cents"},
      {input("ok", 1, -1), "available"},
      {input("ok", 1, kMaxAvailable + 1), "available"},
  });
  for (const auto& c : cases) {
    auto r = normalize(c.in);
    ASSERT_FALSE(r) << c.in.name << " " << c.in.price_cents << " " << c.in.available;
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
    EXPECT_EQ(r.error().field, c.field);
  }
}

TEST(Product, MakeStartsWithNothingReservedOrSold) {
  SystemTime now{std::chrono::milliseconds{1000}};
  auto p = make_product("sku", input("Mug", 250, 9), now);
  EXPECT_EQ(p, (Product{"sku", "Mug", 250, 9, 0, 0, now, now}));
}

TEST(Product, ReplaceSetsNamePriceAvailableAndKeepsReservedAndSold) {
  SystemTime t0{std::chrono::milliseconds{1000}};
  SystemTime t1{std::chrono::milliseconds{2000}};
  Product p{"sku", "Mug", 250, 9, 3, 4, t0, t0};
  replace(p, input("Big mug", 300, 20), t1);
  EXPECT_EQ(p, (Product{"sku", "Big mug", 300, 20, 3, 4, t0, t1}));
}

}  // namespace
}  // namespace mercato::inventory
