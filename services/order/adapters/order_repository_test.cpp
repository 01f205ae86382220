// One contract, two implementations: SQLite and PostgreSQL must behave the same.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "adapters/sql_order_repository.hpp"
#include "app/order_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/events/streams.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::order {
namespace {

struct Fixture {
  virtual ~Fixture() = default;
  virtual OrderRepository& repo() = 0;
  virtual sql::Database& database() = 0;
};

// Small, so that the tests' streams cross snapshots.
constexpr RepositorySettings kSettings{.snapshot_every = 2};

// Several connections, so concurrent calls really overlap rather than queue for one.
struct SqliteFixture : Fixture {
  SqliteFixture()
      : dir(std::filesystem::temp_directory_path() / ("mercato-order-repo-" + random_hex(8))),
        db(sql::Database::open(
            sqlite::DatabaseSettings{.path = (dir / "order.db").string(), .connections = 4})),
        r(*db, kSettings) {}
  ~SqliteFixture() override { std::filesystem::remove_all(dir); }
  OrderRepository& repo() override { return r; }
  sql::Database& database() override { return *db; }
  std::filesystem::path dir;
  std::unique_ptr<sql::Database> db;
  SqlOrderRepository r;
};

// A schema of its own on the PostgreSQL server that ./mercato test starts.
struct PostgresFixture : Fixture {
  explicit PostgresFixture(const std::string& url) : schema(url) {
    if (!schema.ok()) throw std::runtime_error("cannot create a test schema: " + schema.error());
    db = sql::Database::open(postgres::DatabaseSettings{.url = schema.url(), .connections = 4});
    r = std::make_unique<SqlOrderRepository>(*db, kSettings);
  }
  OrderRepository& repo() override { return *r; }
  sql::Database& database() override { return *db; }
  mercato::testing::PostgresSchema schema;  // first member: dropped after the repository has closed
  std::unique_ptr<sql::Database> db;
  std::unique_ptr<SqlOrderRepository> r;
};

SystemTime at(std::int64_t ms) { return SystemTime{std::chrono::milliseconds{ms}}; }

class OrderRepositoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      fixture_ = std::make_unique<SqliteFixture>();
    } else {
      auto url = mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL");
      if (url.empty()) {
        if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
      }
      fixture_ = std::make_unique<PostgresFixture>(url);
    }
  }
  OrderRepository& repo() { return fixture_->repo(); }

  // A placed order as the service would place it: pending, version 0 (the stream gives it version 1).
  static Order make(std::string customer = "c1", SystemTime created = now_utc()) {
    Order o;
    o.id = new_uuid();
    o.customer_id = std::move(customer);
    o.lines = {{"apple", 2, 150}, {"pear \"green\" ü", 1, 99}};
    o.total_cents = 399;
    o.payment_token = "tok_visa";
    o.shipping_address = {"Ann", "1 Main St", "Flat 2", "Berlin", "10115", "DE"};
    o.created_at = created;
    o.saga = "none";
    return o;
  }
  // `o` placed: what the repository should hand back.
  Order place(const Order& o) {
    auto w = repo().place(OrderPlaced{o}, "");
    EXPECT_TRUE(w) << w.error().message;
    EXPECT_GT(w ? w->position : 0, 0);
    return w ? w->order : Order{};
  }
  Result<Written> run(const std::string& id, std::function<std::vector<OrderEvent>(const Order&)> decide) {
    return repo().update(id, [&](const Order& o) -> Result<std::vector<OrderEvent>> { return decide(o); });
  }

  std::unique_ptr<Fixture> fixture_;
};

TEST_P(OrderRepositoryContract, APlacedOrderReadsBackWithEveryFieldAtVersionOne) {
  auto o = make();
  auto placed = place(o);
  auto expected = o;
  expected.version = 1;
  expected.updated_at = o.created_at;
  EXPECT_EQ(placed, expected);
  auto back = repo().find(o.id);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, expected);
}

TEST_P(OrderRepositoryContract, DuplicateIdIsRefused) {
  auto o = make();
  place(o);
  auto again = o;
  again.customer_id = "c2";
  EXPECT_FALSE(repo().place(OrderPlaced{again}, ""));
  EXPECT_EQ(repo().find(o.id)->customer_id, "c1");
  EXPECT_EQ(repo().history(o.id)->size(), 1U);
}

TEST_P(OrderRepositoryContract, UnknownIdIsNotFound) {
  EXPECT_EQ(repo().find("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(repo().history("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(run("nope", [](const Order&) { return std::vector<OrderEvent>{}; }).error().code,
            ErrorCode::kNotFound);
}

TEST_P(OrderRepositoryContract, ACommandAppendsItsEventsAndTheOrderIsTheirFold) {
  auto o = make("c1", at(1000));
  place(o);
  auto r = repo().update(
      o.id, [](const Order& x) { return cancel(x, "changed my mind", CancelledBy::kCustomer, at(2000)); });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->order.status, Status::kCancelled);
  EXPECT_EQ(r->order.reason, "changed my mind");
  EXPECT_EQ(r->order.cancelled_by, CancelledBy::kCustomer);
  EXPECT_EQ(r->order.updated_at, at(2000));
  EXPECT_EQ(r->order.version, 2);
  EXPECT_EQ(*repo().find(o.id), r->order);

  auto history = repo().history(o.id);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2U);
  EXPECT_EQ((*history)[0].event.type, "order.created");
  EXPECT_EQ((*history)[1].event.type, "order.cancelled");
  EXPECT_EQ(events::schema_version((*history)[1].event), 2);
  EXPECT_EQ((*history)[1].version, 2);
  EXPECT_EQ((*history)[1].position, r->position);
  EXPECT_LT((*history)[0].position, (*history)[1].position);
  // The fold of the stream is the order.
  std::vector<OrderEvent> events;
  for (const auto& h : *history) events.push_back(*order_event_from(h.event));
  EXPECT_EQ(*fold(events), r->order);
}

TEST_P(OrderRepositoryContract, ACommandThatAddsNothingWritesNothing) {
  auto o = make();
  auto placed = place(o);
  auto r = run(o.id, [](const Order&) { return std::vector<OrderEvent>{}; });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->position, 0);
  EXPECT_EQ(r->order, placed);
  EXPECT_EQ(repo().history(o.id)->size(), 1U);
}

TEST_P(OrderRepositoryContract, ARefusedCommandLeavesTheOrderUnchanged) {
  auto o = make();
  auto placed = place(o);
  auto r = repo().update(
      o.id, [](const Order&) -> Result<std::vector<OrderEvent>> { return Error::conflict("no"); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(*repo().find(o.id), placed);
  // The aborted transaction does not leak into the connection's next use.
  ASSERT_TRUE(
      repo().update(o.id, [](const Order& x) { return cancel(x, "r", CancelledBy::kCustomer, at(5)); }));
  EXPECT_EQ(repo().find(o.id)->status, Status::kCancelled);
}

// Orders read at any version, across snapshots (every 2 events here): the fold up to that event.
TEST_P(OrderRepositoryContract, AtVersionShowsTheOrderAsItWas) {
  auto o = make("c1", at(1000));
  place(o);
  ASSERT_TRUE(run(o.id, [](const Order& x) { return settle(x, Status::kPendingPayment, "", at(2000)); }));
  ASSERT_TRUE(run(o.id, [](const Order& x) { return settle(x, Status::kConfirmed, "", at(3000)); }));
  auto v1 = repo().find(o.id, 1);
  auto v2 = repo().find(o.id, 2);
  auto v3 = repo().find(o.id, 3);
  ASSERT_TRUE(v1 && v2 && v3);
  EXPECT_EQ(v1->status, Status::kPending);
  EXPECT_EQ(v1->updated_at, at(1000));
  EXPECT_EQ(v2->status, Status::kPendingPayment);
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v3->status, Status::kConfirmed);
  EXPECT_EQ(*v3, *repo().find(o.id));
  EXPECT_EQ(repo().find(o.id, 4).error().code, ErrorCode::kNotFound);
}

// Commands racing on one order: each version is won by exactly one; the losers read again and either
// find nothing left to do or get the conflict the command's own rules give (cancelling a confirmed order).
TEST_P(OrderRepositoryContract, ConcurrentCommandsOnOneOrderEachWinAVersionOrGetAConflict) {
  for (int round = 0; round < 5; ++round) {
    auto o = make();
    place(o);
    constexpr int kThreads = 8;
    std::vector<Result<Written>> results(kThreads, Error::internal("not run"));
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        results[i] =
            i % 2 == 0
                ? repo().update(
                      o.id,
                      [](const Order& x) { return cancel(x, "race", CancelledBy::kCustomer, now_utc()); })
                : run(o.id, [](const Order& x) { return settle(x, Status::kConfirmed, "", now_utc()); });
      });
    }
    for (auto& t : threads) t.join();
    auto final = repo().find(o.id);
    ASSERT_TRUE(final);
    ASSERT_EQ(final->version, 2) << "exactly one command may append after the placement";
    int appended = 0;
    for (int i = 0; i < kThreads; ++i) {
      bool canceller = i % 2 == 0;
      if (canceller && final->status == Status::kConfirmed) {
        ASSERT_FALSE(results[i]);
        EXPECT_EQ(results[i].error().code, ErrorCode::kConflict) << results[i].error().message;
        continue;
      }
      ASSERT_TRUE(results[i]) << results[i].error().message;
      EXPECT_EQ(results[i]->order.status, final->status);
      if (results[i]->position > 0) ++appended;
    }
    EXPECT_EQ(appended, 1);
  }
}

// Every order, oldest first (for operators), each as it is now.
TEST_P(OrderRepositoryContract, ListAllIsOldestFirstPagedAndCurrent) {
  auto oldest = place(make("c1", at(1000)));
  auto same_a = place(make("c2", at(2000)));
  auto same_b = place(make("c1", at(2000)));  // same millisecond: insertion order decides
  auto cancelled = repo().update(
      same_a.id, [](const Order& x) { return cancel(x, "gone", CancelledBy::kCustomer, at(2500)); });
  ASSERT_TRUE(cancelled);

  auto all = repo().list_all(0, 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->orders.size(), 3U);
  EXPECT_EQ(all->orders[0], oldest);
  EXPECT_EQ(all->orders[1], cancelled->order) << "the order now, not its snapshot";
  EXPECT_EQ(all->orders[2], same_b);
  EXPECT_FALSE(all->has_more);

  auto first = repo().list_all(0, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->orders.size(), 2U);
  EXPECT_TRUE(first->has_more);
  auto second = repo().list_all(2, 2);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->orders.size(), 1U);
  EXPECT_EQ(second->orders[0].id, same_b.id);
  EXPECT_FALSE(second->has_more);
}

// An order.cancelled stored as v1 (before it said who cancelled) is read as v2 with "unknown".
TEST_P(OrderRepositoryContract, TheUpcasterReadsAStoredV1CancellationAsV2) {
  auto o = make();
  place(o);
  auto v1 = events::make_event(
      "order", "order.cancelled", o.id,
      R"({"order_id":")" + o.id +
          R"(","customer_id":"c1","total_cents":399,"shipping_address":{},"reason":"out of stock",)"
          R"("cancelled_at":"2026-01-02T03:04:05.000Z","saga":"none"})");
  ASSERT_EQ(events::schema_version(v1), 1);
  ASSERT_TRUE(fixture_->database().with([&](sql::Connection& c) -> Result<void> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_RETURN_IF_ERROR(events::append_stream(c, o.id, 1, std::span(&v1, 1)));
    return c.commit();
  }));
  auto back = repo().find(o.id);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->status, Status::kCancelled);
  EXPECT_EQ(back->reason, "out of stock");
  EXPECT_EQ(back->cancelled_by, CancelledBy::kUnknown);
  EXPECT_EQ(back->updated_at, *parse_rfc3339("2026-01-02T03:04:05.000Z"));
  auto history = repo().history(o.id);
  ASSERT_TRUE(history);
  const auto& read = (*history)[1].event;
  EXPECT_EQ(events::schema_version(read), 2);
  EXPECT_NE(read.data.find(R"("cancelled_by":"unknown")"), std::string::npos) << read.data;
  EXPECT_EQ(read.id, v1.id) << "upcasting rewrites the data, never the event's identity";
}

// Orders stored as rows before streams existed (version 0) get the stream their row implies at the next
// start, recorded as already published.
TEST_P(OrderRepositoryContract, OrdersFromBeforeStreamsGetTheirStreamsAtStart) {
  auto o = make("c1", at(1000));
  ASSERT_TRUE(fixture_->database().with([&](sql::Connection& c) {
    return c.run(
        "INSERT INTO orders(id, customer_id, status, reason, total_cents, payment_token, shipping_address,"
        " lines, created_at_ms, updated_at_ms) VALUES ($1, 'c1', 'cancelled', 'declined', 399, 'tok',"
        " '{\"name\":\"Ann\",\"line1\":\"1 Main "
        "St\",\"city\":\"Berlin\",\"postal_code\":\"10115\",\"country\":\"DE\"}',"
        " '[{\"product_id\":\"apple\",\"quantity\":2,\"price_cents\":150}]', 1000, 5000)",
        {o.id});
  }));
  SqlOrderRepository restarted(fixture_->database(), kSettings);
  auto back = restarted.find(o.id);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->status, Status::kCancelled);
  EXPECT_EQ(back->reason, "declined");
  EXPECT_EQ(back->updated_at, at(5000));
  EXPECT_EQ(back->version, 2);
  auto history = restarted.history(o.id);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2U);
  EXPECT_EQ((*history)[0].event.type, "order.created");
  EXPECT_EQ((*history)[1].event.type, "order.cancelled");
  auto store = events::open_store(fixture_->database());
  auto unsent = store->unsent(100);
  ASSERT_TRUE(unsent);
  for (const auto& u : *unsent) EXPECT_NE(u.event.subject, o.id) << "an imported past was published again";
}

INSTANTIATE_TEST_SUITE_P(Implementations, OrderRepositoryContract, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace mercato::order
