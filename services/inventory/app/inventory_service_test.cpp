// The use cases over the SQL repository on a SQLite file of the test's own: input is checked before anything
// reaches the repository.
#include "app/inventory_service.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/sql_inventory_repository.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::inventory {
namespace {

class InventoryServiceTest : public ::testing::Test {
 protected:
  static boost::json::object data_of(const events::CloudEvent& e) {
    return boost::json::parse(e.data).as_object();
  }
  static boost::json::array lines(std::initializer_list<std::pair<const char*, std::int64_t>> items) {
    boost::json::array out;
    for (const auto& [id, quantity] : items) out.push_back({{"product_id", id}, {"quantity", quantity}});
    return out;
  }

  mercato::testing::SqliteDatabase db_{"inventory"};
  SqlInventoryRepository repository_{db_.get()};
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
  for (const auto& r : {service_.commit("bad id"), service_.release("")}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
    EXPECT_EQ(r.error().field, "order_id");
  }
  EXPECT_EQ(service_.get_reservation("..").error().field, "order_id");
  EXPECT_EQ(service_.commit("unknown").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_.get_product("x y").error().field, "product_id");
}

TEST_F(InventoryServiceTest, FullLifecycle) {
  ASSERT_TRUE(service_.put_product("a", {"A", 250, 3}));
  auto r = service_.reserve({"o1", {{"a", 3}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reservation.items.at(0).price_cents, 250);
  EXPECT_EQ(service_.commit("o1")->reservation.status, ReservationStatus::kCommitted);
  auto p = service_.get_product("a");
  EXPECT_EQ(p->available + p->reserved + p->sold, 3);
  EXPECT_EQ(p->sold, 3);
}

// --- events -----------------------------------------------------------------------------------------

constexpr const char* kTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

TEST_F(InventoryServiceTest, PuttingAProductAppendsProductUpdatedKeyedByTheProduct) {
  auto created = service_.put_product("mug", {"  Mug  ", 250, 7}, kTrace);
  ASSERT_TRUE(created);
  auto outbox = db_.outbox();
  ASSERT_EQ(outbox.size(), 1U);
  const auto& e = outbox[0];
  EXPECT_EQ(e.type, "inventory.product_updated");
  EXPECT_EQ(e.subject, "mug");
  EXPECT_EQ(e.source, "/mercato/inventory");
  EXPECT_EQ(e.traceparent, kTrace);
  auto data = data_of(e);
  EXPECT_EQ(data.at("product_id").as_string(), "mug");
  EXPECT_EQ(data.at("name").as_string(), "Mug") << "the normalized name";
  EXPECT_EQ(data.at("price_cents").as_int64(), 250);
  EXPECT_EQ(data.at("available").as_int64(), 7);
  EXPECT_EQ(data.at("updated_at").as_string(), format_rfc3339(created->product.updated_at));
  ASSERT_FALSE(service_.put_product("mug", {"", 1, 1}));  // 400: nothing stored, nothing published
  ASSERT_TRUE(service_.put_product("mug", {"Mug", 300, 7}));
  EXPECT_EQ(db_.outbox().size(), 2U) << "a replace publishes too";
}

TEST_F(InventoryServiceTest, AReservationAppendsInventoryReservedOnceKeyedByTheOrder) {
  ASSERT_TRUE(service_.put_product("a", {"A", 250, 10}));
  ASSERT_TRUE(service_.put_product("b", {"B", 100, 10}));
  auto before = db_.outbox().size();
  auto r = service_.reserve({"o1", {{"b", 1}, {"a", 3}}}, kTrace);
  ASSERT_TRUE(r);
  auto replay = service_.reserve({"o1", {{"a", 3}, {"b", 1}}});
  ASSERT_TRUE(replay);
  EXPECT_FALSE(replay->created);
  ASSERT_FALSE(service_.reserve({"o2", {{"a", 11}}}));           // 422: not enough stock
  ASSERT_FALSE(service_.reserve({"o3", {{"a", 1}, {"a", 1}}}));  // 400
  auto outbox = db_.outbox();
  ASSERT_EQ(outbox.size(), before + 1);
  const auto& e = outbox.back();
  EXPECT_EQ(e.type, "inventory.reserved");
  EXPECT_EQ(e.subject, "o1");
  EXPECT_EQ(e.traceparent, kTrace);
  auto data = data_of(e);
  EXPECT_EQ(data.at("order_id").as_string(), "o1");
  EXPECT_EQ(data.at("lines").as_array(), lines({{"b", 1}, {"a", 3}}));
  EXPECT_EQ(data.at("reserved_at").as_string(), format_rfc3339(r->reservation.created_at));
}

TEST_F(InventoryServiceTest, CommitAndReleaseAppendTheirEventOnlyWhenTheReservationMoves) {
  ASSERT_TRUE(service_.put_product("a", {"A", 250, 10}));
  ASSERT_TRUE(service_.reserve({"o1", {{"a", 2}}}));
  ASSERT_TRUE(service_.reserve({"o2", {{"a", 1}}}));
  auto before = db_.outbox().size();
  auto committed = service_.commit("o1", kTrace);
  ASSERT_TRUE(committed);
  EXPECT_TRUE(committed->moved);
  auto retried = service_.commit("o1");  // a retry: no-op
  ASSERT_TRUE(retried);
  EXPECT_FALSE(retried->moved);
  EXPECT_EQ(retried->reservation, committed->reservation);
  ASSERT_FALSE(service_.release("o1", "too late"));  // 409
  auto released = service_.release("o2", "payment_declined");
  ASSERT_TRUE(released);
  EXPECT_TRUE(released->moved);
  auto released_again = service_.release("o2");  // a retry: no-op
  ASSERT_TRUE(released_again);
  EXPECT_FALSE(released_again->moved);
  ASSERT_FALSE(service_.commit("missing"));
  auto outbox = db_.outbox();
  ASSERT_EQ(outbox.size(), before + 2);
  const auto& c = outbox[before];
  EXPECT_EQ(c.type, "inventory.committed");
  EXPECT_EQ(c.subject, "o1");
  EXPECT_EQ(c.traceparent, kTrace);
  auto cdata = data_of(c);
  EXPECT_EQ(cdata.at("order_id").as_string(), "o1");
  EXPECT_EQ(cdata.at("lines").as_array(), lines({{"a", 2}}));
  EXPECT_EQ(cdata.at("committed_at").as_string(), format_rfc3339(committed->reservation.updated_at));
  EXPECT_FALSE(cdata.contains("reason"));
  const auto& r = outbox[before + 1];
  EXPECT_EQ(r.type, "inventory.released");
  EXPECT_EQ(r.subject, "o2");
  auto rdata = data_of(r);
  EXPECT_EQ(rdata.at("lines").as_array(), lines({{"a", 1}}));
  EXPECT_EQ(rdata.at("reason").as_string(), "payment_declined");
  EXPECT_EQ(rdata.at("released_at").as_string(), format_rfc3339(released->reservation.updated_at));
}

TEST_F(InventoryServiceTest, AReleaseWithoutAReasonHasNoReasonField) {
  ASSERT_TRUE(service_.put_product("a", {"A", 250, 10}));
  ASSERT_TRUE(service_.reserve({"o1", {{"a", 2}}}));
  ASSERT_TRUE(service_.release("o1"));
  auto data = data_of(db_.outbox().back());
  EXPECT_FALSE(data.contains("reason"));
  EXPECT_TRUE(data.contains("released_at"));
}

}  // namespace
}  // namespace mercato::inventory
