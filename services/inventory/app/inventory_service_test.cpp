// The use cases over the in-memory fake: input is checked before anything reaches the repository.
#include "app/inventory_service.hpp"

#include <gtest/gtest.h>

#include "adapters/memory_inventory_repository.hpp"

namespace mercato::inventory {
namespace {

class InventoryServiceTest : public ::testing::Test {
 protected:
  MemoryInventoryRepository repository_;
  InventoryService service_{repository_};
};

TEST_F(InventoryServiceTest, PutChecksTheIdAndNormalizesTheInput) {
  auto bad = service_.put_product("a/b", {"Mug", 1, 1});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "product_id");
  auto blank = service_.put_product("mug", {"  ", 1, 1});
  ASSERT_FALSE(blank);
  EXPECT_EQ(blank.error().field, "name");
  EXPECT_FALSE(repository_.find_product("mug"));

  auto ok = service_.put_product("mug", {"  Mug  ", 1, 1});
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->created);
  EXPECT_EQ(repository_.find_product("mug")->name, "Mug");
  EXPECT_FALSE(service_.put_product("mug", {"Mug", 2, 2})->created);
}

TEST_F(InventoryServiceTest, InvalidReservationRequestsReachNoStock) {
  ASSERT_TRUE(service_.put_product("a", {"A", 1, 10}));
  auto dup = service_.reserve({"o1", {{"a", 1}, {"a", 2}}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(dup.error().field, "items[1].product_id");
  EXPECT_EQ(service_.get_product("a")->reserved, 0);
  EXPECT_FALSE(repository_.find_reservation("o1"));
}

TEST_F(InventoryServiceTest, CommitReleaseAndGetCheckTheOrderId) {
  for (const auto& r : {service_.commit("bad id"), service_.release(""), service_.get_reservation("..")}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
    EXPECT_EQ(r.error().field, "order_id");
  }
  EXPECT_EQ(service_.commit("unknown").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_.get_product("x y").error().field, "product_id");
}

TEST_F(InventoryServiceTest, FullLifecycle) {
  ASSERT_TRUE(service_.put_product("a", {"A", 250, 3}));
  auto r = service_.reserve({"o1", {{"a", 3}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reservation.items.at(0).price_cents, 250);
  EXPECT_EQ(service_.commit("o1")->status, ReservationStatus::kCommitted);
  auto p = service_.get_product("a");
  EXPECT_EQ(p->available + p->reserved + p->sold, 3);
  EXPECT_EQ(p->sold, 3);
}

}  // namespace
}  // namespace mercato::inventory
