// The create use case against fakes: what is checked, in which order, and that nothing is stored when a
// check fails.
#include "app/order_service.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <map>

#include "adapters/sql_order_repository.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"

namespace mercato::order {
namespace {

struct FakeDirectory : CustomerDirectory {
  std::map<std::string, bool> known;
  std::optional<Error> failure;
  int calls = 0;
  boost::asio::awaitable<Result<bool>> exists(const std::string& id, const CallContext&) override {
    ++calls;
    if (failure) co_return *failure;
    co_return known.count(id) != 0;
  }
};

struct FakeCatalog : Catalog {
  std::map<std::string, std::int64_t> known;
  int calls = 0;
  boost::asio::awaitable<Result<Prices>> prices_of(std::vector<std::string> ids, const CallContext&) {
    ++calls;
    asked.push_back(ids);
    Prices out;
    for (const auto& id : ids) {
      if (auto it = known.find(id); it != known.end()) out[id] = it->second;
    }
    co_return out;
  }
  boost::asio::awaitable<Result<Prices>> prices(std::vector<std::string> ids,
                                                const CallContext& ctx) override {
    return prices_of(std::move(ids), ctx);
  }
  std::vector<std::vector<std::string>> asked;
};

class OrderServiceTest : public ::testing::Test {
 protected:
  OrderServiceTest()
      : dir_(std::filesystem::temp_directory_path() / ("mercato-order-svc-" + random_hex(8))),
        db_(sql::Database::open(sqlite::DatabaseSettings{.path = (dir_ / "order.db").string()})),
        repo_(*db_),
        service_(repo_, directory_, catalog_) {
    directory_.known["cust-1"] = true;
    catalog_.known["apple"] = 150;
    catalog_.known["pear"] = 275;
  }
  ~OrderServiceTest() override { std::filesystem::remove_all(dir_); }

  Result<Order> create(const NewOrder& input) {
    boost::asio::io_context io;
    std::optional<Result<Written>> out;
    CallContext ctx;
    boost::asio::co_spawn(
        io, [&]() -> boost::asio::awaitable<void> { out = co_await service_.create(input, ctx); },
        boost::asio::detached);
    io.run();
    if (!*out) return out->error();
    EXPECT_GT((*out)->position, 0) << "a placement answers the position it reached";
    return (*out)->order;
  }

  static NewOrder valid() {
    return NewOrder{"cust-1",
                    {{"apple", 2, std::nullopt, {}}, {"pear", 1, 275, "items[1].price_cents"}},
                    "tok_visa",
                    {"Ann", "1 Main St", "", "Berlin", "10115", "DE"}};
  }

  std::int64_t stored_count() {
    auto page = repo_.list_all(0, 100);
    return page ? static_cast<std::int64_t>(page->orders.size()) : -1;
  }

  std::filesystem::path dir_;
  std::unique_ptr<sql::Database> db_;
  SqlOrderRepository repo_;
  FakeDirectory directory_;
  FakeCatalog catalog_;
  OrderService service_;
};

TEST_F(OrderServiceTest, PricesFromTheCatalogAndStoresPending) {
  auto order = create(valid());
  ASSERT_TRUE(order) << order.error().message;
  EXPECT_EQ(order->status, Status::kPending);
  EXPECT_EQ(order->total_cents, 2 * 150 + 275);
  EXPECT_EQ(order->lines[0].unit_price_cents, 150);
  EXPECT_EQ(*repo_.find(order->id), *order);
}

TEST_F(OrderServiceTest, PricesEveryLineInOneCallAskingForEachProductOnce) {
  auto input = valid();
  input.lines.push_back({"apple", 3, std::nullopt, {}});
  auto order = create(input);
  ASSERT_TRUE(order) << order.error().message;
  ASSERT_EQ(catalog_.asked.size(), 1U);
  EXPECT_EQ(catalog_.asked[0], (std::vector<std::string>{"apple", "pear"}));
  EXPECT_EQ(order->total_cents, 5 * 150 + 275);
}

// The order and its order.created event are written in one transaction: the outbox holds the event
// with the order's data, keyed by the order id.
TEST_F(OrderServiceTest, PlacingAnOrderAppendsOrderCreatedToTheOutbox) {
  auto order = create(valid());
  ASSERT_TRUE(order);
  auto store = events::open_store(*db_);
  auto unsent = store->unsent(10);
  ASSERT_TRUE(unsent);
  ASSERT_EQ(unsent->size(), 1u);
  const auto& e = (*unsent)[0].event;
  EXPECT_EQ(e.type, "order.created");
  EXPECT_EQ(e.subject, order->id);
  EXPECT_EQ(e.source, "/mercato/order");
  auto data = boost::json::parse(e.data).as_object();
  EXPECT_EQ(data.at("order_id").as_string(), order->id);
  EXPECT_EQ(data.at("total_cents").as_int64(), order->total_cents);
  EXPECT_EQ(data.at("lines").as_array().size(), order->lines.size());
}

TEST_F(OrderServiceTest, ARefusedOrderPublishesNothing) {
  auto input = valid();
  input.customer_id = "stranger";
  ASSERT_FALSE(create(input));
  EXPECT_EQ(*events::open_store(*db_)->unsent_count(), 0);
}

TEST_F(OrderServiceTest, UnknownCustomerIs422AndNothingStored) {
  auto input = valid();
  input.customer_id = "stranger";
  auto order = create(input);
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(order.error().field, "customer_id");
  EXPECT_EQ(catalog_.calls, 0);
  EXPECT_EQ(stored_count(), 0);
}

// A customer's own token proves they exist (users are never deleted): their placement does not ask the
// user service, and so goes on while it is down. Anyone else's (an admin placing for a customer) still
// asks, and is refused when it says no.
TEST_F(OrderServiceTest, ACustomerPlacingForThemselvesIsNotLookedUpAgain) {
  directory_.failure = Error::unavailable("cannot connect");
  auto input = valid();
  input.customer_is_caller = true;
  auto order = create(input);
  ASSERT_TRUE(order) << order.error().message;
  EXPECT_EQ(directory_.calls, 0);
  EXPECT_EQ(order->customer_id, "cust-1");

  input.customer_is_caller = false;
  auto asked = create(input);
  ASSERT_FALSE(asked);
  EXPECT_EQ(asked.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(directory_.calls, 1);
  EXPECT_EQ(stored_count(), 1);
}

TEST_F(OrderServiceTest, UnknownProductIs422NamingTheLine) {
  auto input = valid();
  input.lines[1].product_id = "plum";
  auto order = create(input);
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(order.error().field, "items[1].product_id");
  EXPECT_EQ(stored_count(), 0);
}

TEST_F(OrderServiceTest, ClientPriceThatDiffersIsRefused) {
  auto input = valid();
  input.lines[1].claimed_price_cents = 1;
  auto order = create(input);
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(order.error().field, "items[1].price_cents");
  EXPECT_EQ(stored_count(), 0);
}

TEST_F(OrderServiceTest, UserServiceDownIsPassedOnAsUnavailable) {
  directory_.failure = Error::unavailable("cannot connect");
  auto order = create(valid());
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(stored_count(), 0);
}

TEST_F(OrderServiceTest, BadAddressIsRefusedBeforeAnyCall) {
  auto input = valid();
  input.shipping_address.country = "Deutschland";
  auto order = create(input);
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().field, "shipping_address.country");
  EXPECT_EQ(catalog_.calls, 0);
}

// The cancellation's event continues the request's trace (docs/observability.md, "Traces").
TEST_F(OrderServiceTest, ACancellationCarriesTheRequestsTrace) {
  auto order = create(valid());
  ASSERT_TRUE(order);
  const std::string trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  ASSERT_TRUE(service_.cancel(order->id, "no longer needed", trace));
  auto unsent = events::open_store(*db_)->unsent(10);
  ASSERT_TRUE(unsent);
  ASSERT_EQ(unsent->size(), 2U);
  EXPECT_EQ((*unsent)[1].event.type, "order.cancelled");
  EXPECT_EQ((*unsent)[1].event.traceparent, trace);
}

TEST_F(OrderServiceTest, CancelIsIdempotentAndConfirmedCannotBeCancelled) {
  auto order = create(valid());
  ASSERT_TRUE(order);
  auto first = service_.cancel(order->id, "no longer needed");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->order.status, Status::kCancelled);
  EXPECT_EQ(first->order.cancelled_by, CancelledBy::kCustomer);
  EXPECT_GT(first->position, 0);
  auto again = service_.cancel(order->id, "other reason");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->order.reason, "no longer needed");
  EXPECT_EQ(again->position, 0) << "a repeat adds nothing";
  auto unsent = events::open_store(*db_)->unsent(10);
  ASSERT_TRUE(unsent);
  ASSERT_EQ(unsent->size(), 2u) << "order.created, then one order.cancelled (the repeat changes nothing)";
  EXPECT_EQ((*unsent)[1].event.type, "order.cancelled");
  EXPECT_EQ(service_.cancel("missing", "x").error().code, ErrorCode::kNotFound);

  auto second = create(valid());
  ASSERT_TRUE(second);
  ASSERT_TRUE(repo_.update(second->id, [](const Order& o) -> Result<std::vector<OrderEvent>> {
    return settle(o, Status::kConfirmed, "", now_utc());
  }));
  EXPECT_EQ(service_.cancel(second->id, "x").error().code, ErrorCode::kConflict);
}

}  // namespace
}  // namespace mercato::order
