#include "api/handlers.hpp"

#include <gtest/gtest.h>

#include <array>

namespace mercato::order {
namespace {

constexpr const char* kAddress =
    R"("shipping_address":{"name":"Ann","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

std::string body(const std::string& items, const std::string& extra = "") {
  return R"({"customer_id":"c-1","payment_token":"tok_visa","items":)" + items + "," + kAddress + extra + "}";
}

TEST(ParseNewOrder, ReadsAValidOrder) {
  auto r = parse_new_order(body(
      R"([{"product_id":"apple","quantity":2,"price_cents":150},{"product_id":"pear","quantity":1,"price":2.75}])"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->customer_id, "c-1");
  ASSERT_EQ(r->lines.size(), 2U);
  EXPECT_EQ(r->lines[0].claimed_price_cents, 150);
  EXPECT_EQ(r->lines[1].claimed_price_cents, 275);
  EXPECT_EQ(r->lines[1].claimed_field, "items[1].price");
  EXPECT_EQ(r->shipping_address.country, "DE");
}

struct Case {
  const char* name;
  std::string body;
  const char* field;
};

TEST(ParseNewOrder, NamesTheBadField) {
  const auto cases = std::to_array<Case>({
      {"no items", body("[]"), "items"},
      {"items not array", body(R"({"a":1})"), "items"},
      {"item not object", body("[1]"), "items[0]"},
      {"quantity zero", body(R"([{"product_id":"a","quantity":0}])"), "items[0].quantity"},
      {"quantity float", body(R"([{"product_id":"a","quantity":1.5}])"), "items[0].quantity"},
      {"quantity string", body(R"([{"product_id":"a","quantity":"1"}])"), "items[0].quantity"},
      {"product id bad chars", body(R"([{"product_id":"a/b","quantity":1}])"), "items[0].product_id"},
      {"duplicate product", body(R"([{"product_id":"a","quantity":1},{"product_id":"a","quantity":2}])"),
       "items[1].product_id"},
      {"both prices", body(R"([{"product_id":"a","quantity":1,"price":1.5,"price_cents":150}])"),
       "items[0].price"},
      {"price string", body(R"([{"product_id":"a","quantity":1,"price":"1.50"}])"), "items[0].price"},
      {"price sub-cent", body(R"([{"product_id":"a","quantity":1,"price":1.505}])"), "items[0].price"},
      {"price_cents float", body(R"([{"product_id":"a","quantity":1,"price_cents":1.5}])"),
       "items[0].price_cents"},
      {"price_cents negative", body(R"([{"product_id":"a","quantity":1,"price_cents":-1}])"),
       "items[0].price_cents"},
      {"unknown line field", body(R"([{"product_id":"a","quantity":1,"colour":"red"}])"), "items[0].colour"},
      {"unknown top field", body(R"([{"product_id":"a","quantity":1}])", R"(,"coupon":"X")"), "coupon"},
  });
  for (const auto& c : cases) {
    auto r = parse_new_order(c.body);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed) << c.name;
    EXPECT_EQ(r.error().field, c.field) << c.name << ": " << r.error().message;
  }
}

TEST(ParseNewOrder, RequiresTopLevelFields) {
  EXPECT_EQ(parse_new_order(R"({"items":[]})").error().field, "payment_token");
  EXPECT_EQ(parse_new_order(R"({"customer_id":"c","items":[{"product_id":"a","quantity":1}]})").error().field,
            "payment_token");
  EXPECT_EQ(
      parse_new_order(R"({"customer_id":"c","payment_token":"t","items":[{"product_id":"a","quantity":1}]})")
          .error()
          .field,
      "shipping_address");
  EXPECT_EQ(parse_new_order("not json").error().code, ErrorCode::kMalformedRequest);
}

// customer_id may be left out (a customer's order is theirs: the handler fills it from the token), but
// when sent it must be a valid id.
TEST(ParseNewOrder, CustomerIdIsOptionalButChecked) {
  auto body = [](const std::string& customer) {
    return R"({)" + customer +
           R"("payment_token":"t","items":[{"product_id":"a","quantity":1}],"shipping_address":{"name":"A","line1":"x","city":"y","postal_code":"1","country":"DE"}})";
  };
  auto without = parse_new_order(body(""));
  ASSERT_TRUE(without) << without.error().message;
  EXPECT_EQ(without->customer_id, "");
  EXPECT_EQ(parse_new_order(body(R"("customer_id":"c-1",)"))->customer_id, "c-1");
  EXPECT_EQ(parse_new_order(body(R"("customer_id":"a b",)")).error().field, "customer_id");
  EXPECT_EQ(parse_new_order(body(R"("customer_id":"",)")).error().field, "customer_id");
}

TEST(ParseNewOrder, ChecksTheAddress) {
  auto r = parse_new_order(
      R"({"customer_id":"c","payment_token":"t","items":[{"product_id":"a","quantity":1}],"shipping_address":{"name":"A","line1":"x","city":"y","postal_code":"1","country":"Germany"}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "shipping_address.country");
  auto missing = parse_new_order(
      R"({"customer_id":"c","payment_token":"t","items":[{"product_id":"a","quantity":1}],"shipping_address":{"name":"A"}})");
  EXPECT_EQ(missing.error().field, "shipping_address.line1");
}

TEST(ValidId, AllowsUuidsAndSimpleNames) {
  EXPECT_TRUE(valid_id("3f2b8c1e-9a4d-4c7e-8f21-0b6d5e4a9c13"));
  EXPECT_TRUE(valid_id("SKU_1.2"));
  EXPECT_FALSE(valid_id(""));
  EXPECT_FALSE(valid_id("a b"));
  EXPECT_FALSE(valid_id("../x"));
  EXPECT_FALSE(valid_id(std::string(65, 'a')));
}

}  // namespace
}  // namespace mercato::order
