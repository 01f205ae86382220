#include "domain/reservation.hpp"

#include <gtest/gtest.h>

#include <array>

namespace mercato::inventory {
namespace {

const SystemTime kT0{std::chrono::milliseconds{1000}};
const SystemTime kT1{std::chrono::milliseconds{2000}};

ReservationRequest request(std::vector<ItemRequest> items, std::string order_id = "order-1") {
  return {std::move(order_id), std::move(items)};
}

Product product(std::string id, std::int64_t available, std::int64_t price = 100) {
  return Product{std::move(id), "P", price, available, 0, 0, kT0, kT0};
}

TEST(ReservationStatus, RoundTripsThroughItsWireName) {
  for (auto s : {ReservationStatus::kReserved, ReservationStatus::kCommitted, ReservationStatus::kReleased}) {
    EXPECT_EQ(parse_reservation_status(to_string(s)), s);
  }
  EXPECT_EQ(to_string(ReservationStatus::kCommitted), "committed");
  EXPECT_FALSE(parse_reservation_status("RESERVED"));
}

TEST(ValidateReservation, AcceptsUpToTheLimits) {
  EXPECT_TRUE(validate(request({{"a", 1}})));
  std::vector<ItemRequest> many;
  for (std::size_t i = 0; i < kMaxReservationLines; ++i)
    many.push_back({"p" + std::to_string(i), kMaxQuantity});
  EXPECT_TRUE(validate(request(many)));
}

TEST(ValidateReservation, RefusesBadShapesNamingTheField) {
  std::vector<ItemRequest> too_many;
  for (std::size_t i = 0; i <= kMaxReservationLines; ++i) too_many.push_back({"p" + std::to_string(i), 1});
  struct Case {
    ReservationRequest in;
    const char* field;
  };
  const auto cases = std::to_array<Case>({
      {request({{"a", 1}}, ""), "order_id"},
      {request({{"a", 1}}, "bad id"), "order_id"},
      {request({{"a", 1}}, std::string(65, 'o')), "order_id"},
      {request({}), "items"},
      {request(too_many), "items"},
      {request({{"a", 1}, {"", 1}}), "items[1].product_id"},
      {request({{"a", 1}, {"b/c", 1}}), "items[1].product_id"},
      {request({{"a", 0}}), "items[0].quantity"},
      {request({{"a", -3}}), "items[0].quantity"},
      {request({{"a", 1}, {"b", kMaxQuantity + 1}}), "items[1].quantity"},
      {request({{"a", 1}, {"b", 1}, {"a", 2}}), "items[2].product_id"},
  });
  for (const auto& c : cases) {
    auto r = validate(c.in);
    ASSERT_FALSE(r) << c.field;
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed) << c.field;
    EXPECT_EQ(r.error().field, c.field);
  }
}

TEST(SameItems, IgnoresOrderButNotQuantitiesOrProducts) {
  Reservation r{"o", ReservationStatus::kReserved, {{"a", 1, 10}, {"b", 2, 20}}, kT0, kT0};
  EXPECT_TRUE(same_items(r, request({{"a", 1}, {"b", 2}})));
  EXPECT_TRUE(same_items(r, request({{"b", 2}, {"a", 1}})));
  EXPECT_FALSE(same_items(r, request({{"a", 1}, {"b", 3}})));
  EXPECT_FALSE(same_items(r, request({{"a", 1}})));
  EXPECT_FALSE(same_items(r, request({{"a", 1}, {"b", 2}, {"c", 1}})));
  EXPECT_FALSE(same_items(r, request({{"a", 1}, {"c", 2}})));
}

TEST(Reserve, MovesAvailableToReservedAndRecordsUnitPrices) {
  std::vector<std::optional<Product>> products{product("a", 5, 150), product("b", 2, 990)};
  auto r = reserve(request({{"a", 3}, {"b", 2}}), products, kT1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r,
            (Reservation{"order-1", ReservationStatus::kReserved, {{"a", 3, 150}, {"b", 2, 990}}, kT1, kT1}));
  EXPECT_EQ(products[0]->available, 2);
  EXPECT_EQ(products[0]->reserved, 3);
  EXPECT_EQ(products[0]->updated_at, kT1);
  EXPECT_EQ(products[1]->available, 0);
  EXPECT_EQ(products[1]->reserved, 2);
}

TEST(Reserve, IsAllOrNothingWhenALaterLineLacksStock) {
  std::vector<std::optional<Product>> products{product("a", 5), product("b", 1)};
  auto before = products;
  auto r = reserve(request({{"a", 3}, {"b", 2}}), products, kT1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().field, "items[1].quantity");
  EXPECT_NE(r.error().message.find("product b has 1 available, 2 requested"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(products, before);
}

TEST(Reserve, UnknownProductIsUnprocessableNamingTheLine) {
  std::vector<std::optional<Product>> products{product("a", 5), std::nullopt};
  auto before = products;
  auto r = reserve(request({{"a", 1}, {"ghost", 1}}), products, kT1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().field, "items[1].product_id");
  EXPECT_NE(r.error().message.find("ghost"), std::string::npos);
  EXPECT_EQ(products, before);
}

TEST(Reserve, TakesTheLastUnitExactly) {
  std::vector<std::optional<Product>> products{product("a", 4)};
  ASSERT_TRUE(reserve(request({{"a", 4}}), products, kT1));
  EXPECT_EQ(products[0]->available, 0);
  EXPECT_EQ(products[0]->reserved, 4);
}

Reservation reserved() { return {"o", ReservationStatus::kReserved, {{"a", 2, 10}}, kT0, kT0}; }

TEST(Transition, ReservedToCommittedThenCommitAgainIsANoOp) {
  auto r = reserved();
  auto moved = transition(r, ReservationStatus::kCommitted, kT1);
  ASSERT_TRUE(moved);
  EXPECT_TRUE(*moved);
  EXPECT_EQ(r.status, ReservationStatus::kCommitted);
  EXPECT_EQ(r.updated_at, kT1);
  auto again = transition(r, ReservationStatus::kCommitted, SystemTime{std::chrono::milliseconds{3000}});
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(r.updated_at, kT1);
}

TEST(Transition, ReservedToReleasedThenReleaseAgainIsANoOp) {
  auto r = reserved();
  auto moved = transition(r, ReservationStatus::kReleased, kT1);
  ASSERT_TRUE(moved);
  EXPECT_TRUE(*moved);
  EXPECT_EQ(r.status, ReservationStatus::kReleased);
  auto again = transition(r, ReservationStatus::kReleased, kT1);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
}

TEST(Transition, CommittedCannotBeReleasedNorReleasedCommitted) {
  auto committed = reserved();
  committed.status = ReservationStatus::kCommitted;
  auto before = committed;
  auto r = transition(committed, ReservationStatus::kReleased, kT1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(committed, before);

  auto released = reserved();
  released.status = ReservationStatus::kReleased;
  auto c = transition(released, ReservationStatus::kCommitted, kT1);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kConflict);
  EXPECT_NE(c.error().message.find("released"), std::string::npos);
}

TEST(Transition, NothingMovesBackToReserved) {
  auto r = reserved();
  EXPECT_FALSE(transition(r, ReservationStatus::kReserved, kT1));
}

TEST(SettleLine, CommitMovesReservedToSoldAndReleaseBackToAvailable) {
  Product p{"a", "P", 10, 1, 5, 0, kT0, kT0};
  ASSERT_TRUE(settle_line(p, 2, ReservationStatus::kCommitted, kT1));
  EXPECT_EQ(p, (Product{"a", "P", 10, 1, 3, 2, kT0, kT1}));
  ASSERT_TRUE(settle_line(p, 3, ReservationStatus::kReleased, kT1));
  EXPECT_EQ(p, (Product{"a", "P", 10, 4, 0, 2, kT0, kT1}));
}

TEST(SettleLine, RefusesToTakeMoreThanIsReserved) {
  Product p{"a", "P", 10, 1, 1, 0, kT0, kT0};
  auto before = p;
  auto r = settle_line(p, 2, ReservationStatus::kCommitted, kT1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(p, before);
}

}  // namespace
}  // namespace mercato::inventory
