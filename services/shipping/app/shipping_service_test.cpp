// The use cases over the SQL repository on a SQLite file of the test's own: idempotent create, validation
// before storage, cancel, and the events each publishes.
#include "app/shipping_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <set>
#include <thread>

#include "adapters/sql_shipment_repository.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::shipping {
namespace {

ShipmentRequest request(std::string order_id = "order-1") {
  return {std::move(order_id), "cust-1", {"Ann Lee", "1 Main St", "", "Berlin", "10115", "DE"}};
}

class ShippingServiceTest : public ::testing::Test {
 protected:
  mercato::testing::SqliteDatabase db_{"shipping"};
  SqlShipmentRepository repo_{db_.get()};
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
  threads.reserve(kThreads);
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

constexpr const char* kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

std::set<std::string> keys_of(const boost::json::object& o) {
  std::set<std::string> keys;
  for (const auto& kv : o) keys.emplace(kv.key());
  return keys;
}

TEST_F(ShippingServiceTest, CreatingAShipmentPublishesShipmentCreatedKeyedByTheOrder) {
  auto r = service_.create(request("order-7"), kTrace);
  ASSERT_TRUE(r) << r.error().message;
  auto appended = db_.outbox();
  ASSERT_EQ(appended.size(), 1U);
  const auto& e = appended[0];
  EXPECT_EQ(e.type, "shipment.created");
  EXPECT_EQ(e.subject, "order-7") << "the order id, so one order's events stay in sequence";
  EXPECT_EQ(e.source, "/mercato/shipping");
  EXPECT_EQ(e.traceparent, kTrace);
  EXPECT_EQ(events::schema_version(e), 1);
  auto data = boost::json::parse(e.data).as_object();
  EXPECT_EQ(keys_of(data), (std::set<std::string>{"shipment_id", "order_id", "customer_id", "status",
                                                  "address", "created_at"}));
  EXPECT_EQ(data.at("shipment_id").as_string(), r->shipment.id);
  EXPECT_EQ(data.at("order_id").as_string(), "order-7");
  EXPECT_EQ(data.at("customer_id").as_string(), "cust-1");
  EXPECT_EQ(data.at("status").as_string(), "created");
  EXPECT_EQ(data.at("created_at").as_string(), format_rfc3339(r->shipment.created_at));
  const auto& address = data.at("address").as_object();
  EXPECT_EQ(address.at("name").as_string(), "Ann Lee");
  EXPECT_EQ(address.at("line1").as_string(), "1 Main St");
  EXPECT_EQ(address.at("line2").as_string(), "");
  EXPECT_EQ(address.at("city").as_string(), "Berlin");
  EXPECT_EQ(address.at("postal_code").as_string(), "10115");
  EXPECT_EQ(address.at("country").as_string(), "DE");
}

TEST_F(ShippingServiceTest, AReplayedConflictingOrInvalidCreatePublishesNothing) {
  ASSERT_TRUE(service_.create(request()));
  ASSERT_TRUE(service_.create(request()));  // replay
  auto other = request();
  other.customer_id = "cust-2";
  ASSERT_FALSE(service_.create(other));  // conflict
  auto bad = request("order-2");
  bad.address.country = "Germany";
  ASSERT_FALSE(service_.create(bad));  // invalid
  EXPECT_EQ(db_.outbox().size(), 1U) << "only the first create";
}

TEST_F(ShippingServiceTest, CancellingPublishesShipmentCancelledOnce) {
  auto created = service_.create(request("order-9"));
  ASSERT_TRUE(created);
  auto cancelled = service_.cancel(created->shipment.id, kTrace);
  ASSERT_TRUE(cancelled);
  ASSERT_TRUE(service_.cancel(created->shipment.id));  // idempotent: publishes nothing
  ASSERT_FALSE(service_.cancel("nope"));
  auto appended = db_.outbox();
  ASSERT_EQ(appended.size(), 2U);
  const auto& e = appended[1];
  EXPECT_EQ(e.type, "shipment.cancelled");
  EXPECT_EQ(e.subject, "order-9");
  EXPECT_EQ(e.source, "/mercato/shipping");
  EXPECT_EQ(e.traceparent, kTrace);
  auto data = boost::json::parse(e.data).as_object();
  EXPECT_EQ(keys_of(data), (std::set<std::string>{"shipment_id", "order_id", "customer_id", "status",
                                                  "created_at", "cancelled_at"}));
  EXPECT_EQ(data.at("shipment_id").as_string(), created->shipment.id);
  EXPECT_EQ(data.at("order_id").as_string(), "order-9");
  EXPECT_EQ(data.at("status").as_string(), "cancelled");
  EXPECT_EQ(data.at("cancelled_at").as_string(), format_rfc3339(cancelled->updated_at));
}

TEST_F(ShippingServiceTest, ParallelIdenticalCreatesPublishOneEvent) {
  std::vector<std::thread> threads;
  threads.reserve(20);
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([this] { ASSERT_TRUE(service_.create(request("order-race"))); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(db_.outbox().size(), 1U);
}

}  // namespace
}  // namespace mercato::shipping
