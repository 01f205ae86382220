#include "domain/order.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace mercato::order {
namespace {

Address good_address() { return {"Ann Lee", "1 Main St", "", "Berlin", "10115", "DE"}; }

TEST(OrderStatus, RoundTripsThroughText) {
  for (auto s : {Status::kPending, Status::kPendingPayment, Status::kConfirmed, Status::kCancelled}) {
    EXPECT_EQ(parse_status(to_string(s)), s);
  }
  EXPECT_FALSE(parse_status("shipped"));
}

TEST(Address, AcceptsACompleteAddress) { EXPECT_TRUE(validate(good_address())); }

TEST(Address, NamesTheBadField) {
  auto a = good_address();
  a.city = "";
  EXPECT_EQ(validate(a).error().field, "shipping_address.city");
  a = good_address();
  a.country = "Germany";
  EXPECT_EQ(validate(a).error().field, "shipping_address.country");
  a = good_address();
  a.country = "ZZ";
  EXPECT_EQ(validate(a).error().field, "shipping_address.country");
  a = good_address();
  a.country = "de";
  EXPECT_EQ(validate(a).error().field, "shipping_address.country");
  a = good_address();
  a.postal_code = std::string(21, '1');
  EXPECT_EQ(validate(a).error().field, "shipping_address.postal_code");
  a = good_address();
  a.line1 = "a\nb";
  EXPECT_EQ(validate(a).error().field, "shipping_address.line1");
}

TEST(Total, SumsLinesInCents) {
  auto t = total_of({{"a", 2, 1999}, {"b", 1, 1}});
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 3999);
}

TEST(Total, RefusesOverflow) {
  auto t = total_of({{"a", 1'000'000, std::numeric_limits<std::int64_t>::max() / 10}});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kUnprocessable);
}

TEST(DecimalPrice, ConvertsTwoDecimalPlacesExactly) {
  EXPECT_EQ(*cents_from_decimal(19.99, "p"), 1999);
  EXPECT_EQ(*cents_from_decimal(0.1 + 0.2, "p"), 30);
  EXPECT_EQ(*cents_from_decimal(5, "p"), 500);
}

TEST(DecimalPrice, RefusesSubCentAndNegative) {
  EXPECT_EQ(cents_from_decimal(19.999, "items[0].price").error().field, "items[0].price");
  EXPECT_FALSE(cents_from_decimal(-1, "p"));
  EXPECT_FALSE(cents_from_decimal(std::numeric_limits<double>::infinity(), "p"));
}

}  // namespace
}  // namespace mercato::order
