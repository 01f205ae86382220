// One contract, two implementations: SQLite and PostgreSQL must behave the same.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "adapters/sql_order_repository.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::order {
namespace {

struct Fixture {
  virtual ~Fixture() = default;
  virtual OrderRepository& repo() = 0;
};

// Several connections, so concurrent calls really overlap rather than queue for one.
struct SqliteFixture : Fixture {
  SqliteFixture()
      : dir(std::filesystem::temp_directory_path() / ("mercato-order-repo-" + random_hex(8))),
        db(sql::Database::open(
            sqlite::DatabaseSettings{.path = (dir / "order.db").string(), .connections = 4})),
        r(*db) {}
  ~SqliteFixture() override { std::filesystem::remove_all(dir); }
  OrderRepository& repo() override { return r; }
  std::filesystem::path dir;
  std::unique_ptr<sql::Database> db;
  SqlOrderRepository r;
};

// A schema of its own on the PostgreSQL server that ./mercato test starts.
struct PostgresFixture : Fixture {
  explicit PostgresFixture(const std::string& url) : schema(url) {
    if (!schema.ok()) throw std::runtime_error("cannot create a test schema: " + schema.error());
    db = sql::Database::open(postgres::DatabaseSettings{.url = schema.url(), .connections = 4});
    r = std::make_unique<SqlOrderRepository>(*db);
  }
  OrderRepository& repo() override { return *r; }
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

  static Order make(std::string customer = "c1", SystemTime created = now_utc()) {
    return Order{new_uuid(),
                 std::move(customer),
                 {{"apple", 2, 150}, {"pear \"green\" ü", 1, 99}},
                 399,
                 Status::kPending,
                 "",
                 "tok_visa",
                 {"Ann", "1 Main St", "Flat 2", "Berlin", "10115", "DE"},
                 created,
                 created};
  }

  std::unique_ptr<Fixture> fixture_;
};

TEST_P(OrderRepositoryContract, StoresEveryFieldFaithfully) {
  auto o = make();
  ASSERT_TRUE(repo().insert(o));
  auto back = repo().find(o.id);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, o);
}

TEST_P(OrderRepositoryContract, DuplicateIdIsRefused) {
  auto o = make();
  ASSERT_TRUE(repo().insert(o));
  auto again = o;
  again.customer_id = "c2";
  EXPECT_FALSE(repo().insert(again));
  EXPECT_EQ(repo().find(o.id)->customer_id, "c1");
}

TEST_P(OrderRepositoryContract, UnknownIdIsNotFound) {
  EXPECT_EQ(repo().find("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(repo().update("nope", [](Order&) -> Result<bool> { return true; }).error().code,
            ErrorCode::kNotFound);
}

TEST_P(OrderRepositoryContract, UpdateWritesStatusReasonAndUpdatedAt) {
  auto o = make("c1", at(1000));
  ASSERT_TRUE(repo().insert(o));
  auto r = repo().update(o.id, [](Order& x) { return cancel(x, "changed my mind", at(2000)); });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::kCancelled);
  EXPECT_EQ(r->reason, "changed my mind");
  EXPECT_EQ(r->updated_at, at(2000));
  EXPECT_EQ(*repo().find(o.id), *r);
}

TEST_P(OrderRepositoryContract, UpdateThatChangesNothingWritesNothing) {
  auto o = make();
  ASSERT_TRUE(repo().insert(o));
  auto r = repo().update(o.id, [](Order& x) -> Result<bool> {
    x.reason = "only in memory";  // not written: the mutation says nothing changed
    return false;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(*repo().find(o.id), o);
}

TEST_P(OrderRepositoryContract, UpdateErrorLeavesTheOrderUnchanged) {
  auto o = make();
  ASSERT_TRUE(repo().insert(o));
  auto r = repo().update(o.id, [](Order& x) -> Result<bool> {
    x.status = Status::kConfirmed;  // changed in memory, then the mutation fails
    return Error::conflict("no");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(*repo().find(o.id), o);
  // The aborted transaction does not leak into the connection's next use.
  ASSERT_TRUE(repo().update(o.id, [](Order& x) { return cancel(x, "r", at(5)); }));
  EXPECT_EQ(repo().find(o.id)->status, Status::kCancelled);
}

TEST_P(OrderRepositoryContract, ListIsNewestFirstPagedAndOnlyThatCustomer) {
  auto oldest = make("c1", at(1000));
  auto same_a = make("c1", at(2000));
  auto same_b = make("c1", at(2000));  // same millisecond: insertion order decides
  auto other = make("c2", at(3000));
  for (const auto* o : {&oldest, &same_a, &same_b, &other}) ASSERT_TRUE(repo().insert(*o));

  auto all = repo().list_by_customer("c1", 0, 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->orders.size(), 3U);
  EXPECT_EQ(all->orders[0], same_b);
  EXPECT_EQ(all->orders[1], same_a);
  EXPECT_EQ(all->orders[2], oldest);
  EXPECT_FALSE(all->has_more);

  auto first = repo().list_by_customer("c1", 0, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->orders.size(), 2U);
  EXPECT_EQ(first->orders[0].id, same_b.id);
  EXPECT_TRUE(first->has_more);

  auto second = repo().list_by_customer("c1", 2, 2);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->orders.size(), 1U);
  EXPECT_EQ(second->orders[0].id, oldest.id);
  EXPECT_FALSE(second->has_more);

  auto exact = repo().list_by_customer("c1", 0, 3);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->orders.size(), 3U);
  EXPECT_FALSE(exact->has_more);

  auto past_end = repo().list_by_customer("c1", 5, 2);
  ASSERT_TRUE(past_end);
  EXPECT_TRUE(past_end->orders.empty());
  EXPECT_FALSE(past_end->has_more);

  auto none = repo().list_by_customer("nobody", 0, 10);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->orders.empty());
}

// Read-modify-write is atomic: concurrent updates of one order each see the previous one's result.
TEST_P(OrderRepositoryContract, ConcurrentUpdatesOfOneOrderAllLand) {
  auto o = make();
  o.reason = "0";
  ASSERT_TRUE(repo().insert(o));
  constexpr int kThreads = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = repo().update(o.id, [](Order& x) -> Result<bool> {
        x.reason = std::to_string(std::stoi(x.reason) + 1);
        return true;
      });
      if (!r) failures++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(repo().find(o.id)->reason, std::to_string(kThreads));
}

INSTANTIATE_TEST_SUITE_P(Implementations, OrderRepositoryContract, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace mercato::order
