#include "domain/shipment.hpp"

#include <gtest/gtest.h>

namespace mercato::shipping {
namespace {

Address valid_address() { return {"Ann Lee", "1 Main St", "", "Berlin", "10115", "DE"}; }

void expect_invalid(const Address& a, const std::string& field) {
  auto r = normalize_address(a);
  ASSERT_FALSE(r) << field;
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(r.error().field, field);
}

TEST(NormalizeAddress, AcceptsAValidAddressAndTrimsSpaces) {
  auto r = normalize_address({"  Ann Lee ", " 1 Main St", "  ", "Berlin  ", " 10115 ", "DE"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, valid_address());
  auto with_line2 = valid_address();
  with_line2.line2 = "Apt 3";
  EXPECT_EQ(normalize_address(with_line2)->line2, "Apt 3");
  auto utf8 = valid_address();
  utf8.city = "München";
  EXPECT_TRUE(normalize_address(utf8));
}

TEST(NormalizeAddress, RejectsEmptyRequiredLinesNamingTheField) {
  for (auto [field, member] :
       {std::pair{"address.name", &Address::name}, std::pair{"address.line1", &Address::line1},
        std::pair{"address.city", &Address::city}, std::pair{"address.postal_code", &Address::postal_code}}) {
    auto a = valid_address();
    a.*member = "";
    expect_invalid(a, field);
    a.*member = "   ";
    expect_invalid(a, field);
  }
}

TEST(NormalizeAddress, EnforcesLengthLimitsInBytes) {
  for (auto [field, member] :
       {std::pair{"address.name", &Address::name}, std::pair{"address.line1", &Address::line1},
        std::pair{"address.line2", &Address::line2}, std::pair{"address.city", &Address::city}}) {
    auto a = valid_address();
    a.*member = std::string(200, 'x');
    EXPECT_TRUE(normalize_address(a)) << field;
    a.*member = std::string(201, 'x');
    expect_invalid(a, field);
  }
  auto a = valid_address();
  a.postal_code = std::string(20, '9');
  EXPECT_TRUE(normalize_address(a));
  a.postal_code = std::string(21, '9');
  expect_invalid(a, "address.postal_code");
  a = valid_address();
  a.name.clear();
  for (int i = 0; i < 101; ++i) a.name += "ü";  // 101 characters but 202 bytes: bytes are counted
  expect_invalid(a, "address.name");
}

TEST(NormalizeAddress, RejectsControlCharacters) {
  auto a = valid_address();
  a.line1 = "1 Main\nSt";
  expect_invalid(a, "address.line1");
  a = valid_address();
  a.line2 = "x\ty";
  expect_invalid(a, "address.line2");
  a = valid_address();
  a.postal_code = std::string(
      "10\0"
      "115",
      6);
  expect_invalid(a, "address.postal_code");
}

TEST(NormalizeAddress, CountryMustBeAnAssignedUpperCaseAlpha2Code) {
  for (const char* ok : {"DE", "US", "GB", "AD", "ZW", "JP", "BR"}) {
    auto a = valid_address();
    a.country = ok;
    EXPECT_TRUE(normalize_address(a)) << ok;
  }
  for (const char* bad : {"", "D", "de", "De", "DEU", "D1", " DE", "ZZ", "XX", "AA", "UK", "ÄÖ"}) {
    auto a = valid_address();
    a.country = bad;
    expect_invalid(a, "address.country");
  }
}

TEST(IsIsoCountry, KnowsTheAssignedCodes) {
  EXPECT_TRUE(is_iso_country("FR"));
  EXPECT_TRUE(is_iso_country("SS"));   // South Sudan, 2011
  EXPECT_FALSE(is_iso_country("YU"));  // withdrawn
  EXPECT_FALSE(is_iso_country("fr"));
}

TEST(NormalizeRequest, ValidatesIdsAndAddress) {
  ShipmentRequest ok{"order-1", "cust-1", valid_address()};
  ASSERT_TRUE(normalize_request(ok));

  auto r = normalize_request({"", "cust-1", valid_address()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "order_id");
  r = normalize_request({std::string(129, 'o'), "cust-1", valid_address()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "order_id");
  EXPECT_TRUE(normalize_request({std::string(128, 'o'), "cust-1", valid_address()}));
  r = normalize_request({"order-1", "", valid_address()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "customer_id");
  r = normalize_request({"order-1", "c\x01", valid_address()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "customer_id");
  auto bad = valid_address();
  bad.country = "de";
  r = normalize_request({"order-1", "cust-1", bad});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "address.country");
}

TEST(NewShipment, StartsCreatedWithBothTimestampsNow) {
  SystemTime now{std::chrono::milliseconds{1234}};
  auto s = new_shipment("s1", {"o1", "c1", valid_address()}, now);
  EXPECT_EQ(s.id, "s1");
  EXPECT_EQ(s.order_id, "o1");
  EXPECT_EQ(s.customer_id, "c1");
  EXPECT_EQ(s.address, valid_address());
  EXPECT_EQ(s.status, ShipmentStatus::kCreated);
  EXPECT_EQ(s.created_at, now);
  EXPECT_EQ(s.updated_at, now);
}

TEST(IsReplayOf, SameOrderCustomerAndAddressOnly) {
  auto s = new_shipment("s1", {"o1", "c1", valid_address()}, SystemTime{});
  EXPECT_TRUE(is_replay_of(s, {"o1", "c1", valid_address()}));
  EXPECT_FALSE(is_replay_of(s, {"o1", "c2", valid_address()}));
  auto moved = valid_address();
  moved.line2 = "Apt 3";
  EXPECT_FALSE(is_replay_of(s, {"o1", "c1", moved}));
  moved = valid_address();
  moved.country = "AT";
  EXPECT_FALSE(is_replay_of(s, {"o1", "c1", moved}));
  // Status does not matter: a cancelled shipment is still the answer to its own request.
  cancel(s, SystemTime{std::chrono::milliseconds{5}});
  EXPECT_TRUE(is_replay_of(s, {"o1", "c1", valid_address()}));
}

TEST(Cancel, MovesCreatedToCancelledOnceAndIsIdempotent) {
  auto s = new_shipment("s1", {"o1", "c1", valid_address()}, SystemTime{});
  SystemTime t1{std::chrono::milliseconds{10}};
  SystemTime t2{std::chrono::milliseconds{20}};
  EXPECT_TRUE(cancel(s, t1));
  EXPECT_EQ(s.status, ShipmentStatus::kCancelled);
  EXPECT_EQ(s.updated_at, t1);
  EXPECT_FALSE(cancel(s, t2));
  EXPECT_EQ(s.status, ShipmentStatus::kCancelled);
  EXPECT_EQ(s.updated_at, t1);
  EXPECT_EQ(s.created_at, SystemTime{});
}

TEST(ShipmentStatus, RoundTripsThroughText) {
  for (auto s : {ShipmentStatus::kCreated, ShipmentStatus::kCancelled})
    EXPECT_EQ(parse_status(to_string(s)), s);
  EXPECT_EQ(to_string(ShipmentStatus::kCreated), "created");
  EXPECT_EQ(to_string(ShipmentStatus::kCancelled), "cancelled");
  EXPECT_FALSE(parse_status("shipped"));
  EXPECT_FALSE(parse_status("Created"));
}

}  // namespace
}  // namespace mercato::shipping
