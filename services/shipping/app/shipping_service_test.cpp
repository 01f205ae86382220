// The use cases over the in-memory fake: idempotent create, validation before storage, cancel.
#include "app/shipping_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "adapters/memory_shipment_repository.hpp"

namespace mercato::shipping {
namespace {

ShipmentRequest request(std::string order_id = "order-1") {
  return {std::move(order_id), "cust-1", {"Ann Lee", "1 Main St", "", "Berlin", "10115", "DE"}};
}

class ShippingServiceTest : public ::testing::Test {
 protected:
  MemoryShipmentRepository repo_;
  ShippingService service_{repo_};
};

TEST_F(ShippingServiceTest, CreateStoresANewShipment) {
  auto r = service_.create(request());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->shipment.status, ShipmentStatus::kCreated);
  EXPECT_EQ(r->shipment.id.size(), 36U);
  EXPECT_EQ(*service_.get(r->shipment.id), r->shipment);
}

TEST_F(ShippingServiceTest, SameRequestAgainReturnsTheExistingShipment) {
  auto first = service_.create(request());
  ASSERT_TRUE(first);
  auto spaced = request();
  spaced.address.name = "  Ann Lee  ";  // equal after normalization
  auto second = service_.create(spaced);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->shipment, first->shipment);
}

TEST_F(ShippingServiceTest, ReplayAfterCancelReturnsTheCancelledShipment) {
  auto first = service_.create(request());
  ASSERT_TRUE(first);
  ASSERT_TRUE(service_.cancel(first->shipment.id));
  auto again = service_.create(request());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->shipment.status, ShipmentStatus::kCancelled);
}

TEST_F(ShippingServiceTest, SameOrderWithDifferentDataIsConflict) {
  ASSERT_TRUE(service_.create(request()));
  auto other_customer = request();
  other_customer.customer_id = "cust-2";
  auto other_address = request();
  other_address.address.postal_code = "10117";
  for (const auto& r : {other_customer, other_address}) {
    auto res = service_.create(r);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, ErrorCode::kConflict);
    EXPECT_EQ(res.error().field, "order_id");
  }
  EXPECT_EQ(service_.list_for_order("order-1")->front().customer_id, "cust-1");
}

TEST_F(ShippingServiceTest, InvalidRequestStoresNothing) {
  auto bad = request();
  bad.address.country = "Germany";
  auto r = service_.create(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "address.country");
  EXPECT_TRUE(service_.list_for_order("order-1")->empty());
}

TEST_F(ShippingServiceTest, ListForOrderNeedsAnOrderId) {
  auto r = service_.list_for_order("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(r.error().field, "order_id");
}

TEST_F(ShippingServiceTest, CancelIsIdempotentAndUnknownIsNotFound) {
  auto created = service_.create(request());
  ASSERT_TRUE(created);
  auto once = service_.cancel(created->shipment.id);
  ASSERT_TRUE(once);
  EXPECT_EQ(once->status, ShipmentStatus::kCancelled);
  auto twice = service_.cancel(created->shipment.id);
  ASSERT_TRUE(twice);
  EXPECT_EQ(*twice, *once);
  EXPECT_EQ(service_.cancel("nope").error().code, ErrorCode::kNotFound);
}

TEST_F(ShippingServiceTest, ParallelIdenticalCreatesMakeOneShipmentAndAllSeeIt) {
  constexpr int kThreads = 20;
  std::vector<Result<CreateOutcome>> results(kThreads, Error::internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { results[static_cast<std::size_t>(i)] = service_.create(request("order-race")); });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().message;
    created += r->created ? 1 : 0;
    EXPECT_EQ(r->shipment, results.front()->shipment);
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(service_.list_for_order("order-race")->size(), 1U);
}

}  // namespace
}  // namespace mercato::shipping
