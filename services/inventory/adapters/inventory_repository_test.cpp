// One contract, three engines: SQLite, PostgreSQL and Redis must behave the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "adapters/redis_event_store.hpp"
#include "adapters/redis_inventory_repository.hpp"
#include "adapters/sql_inventory_repository.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::inventory {
namespace {

struct Fixture {
  virtual ~Fixture() = default;
  virtual InventoryRepository& repo() = 0;
  // The events in the outbox (unsent), oldest first.
  virtual std::vector<events::CloudEvent> outbox() = 0;
};

std::vector<events::CloudEvent> unsent(events::EventStore& store) {
  auto rows = store.unsent(1000);
  EXPECT_TRUE(rows) << rows.error().message;
  std::vector<events::CloudEvent> out;
  if (rows) {
    for (auto& row : *rows) out.push_back(std::move(row.event));
  }
  return out;
}

struct SqliteFixture : Fixture {
  explicit SqliteFixture(std::size_t connections)
      : dir(std::filesystem::temp_directory_path() / ("mercato-inventory-repo-" + random_hex(8))),
        db(sql::Database::open(
            sqlite::DatabaseSettings{.path = (dir / "inventory.db").string(), .connections = connections})),
        r(*db) {}
  ~SqliteFixture() override { std::filesystem::remove_all(dir); }
  InventoryRepository& repo() override { return r; }
  std::vector<events::CloudEvent> outbox() override { return unsent(*events::open_store(*db)); }
  std::filesystem::path dir;
  std::unique_ptr<sql::Database> db;
  SqlInventoryRepository r;
};

// A schema of its own on the PostgreSQL server that ./mercato test starts; several connections, so
// concurrent calls really overlap on the server.
struct PostgresFixture : Fixture {
  explicit PostgresFixture(const std::string& url) : schema(url) {
    if (!schema.ok()) throw std::runtime_error("cannot create a test schema: " + schema.error());
    db = sql::Database::open(postgres::DatabaseSettings{.url = schema.url(), .connections = 4});
    r = std::make_unique<SqlInventoryRepository>(*db);
  }
  InventoryRepository& repo() override { return *r; }
  std::vector<events::CloudEvent> outbox() override { return unsent(*events::open_store(*db)); }
  mercato::testing::PostgresSchema schema;  // first member: dropped after the repository has closed
  std::unique_ptr<sql::Database> db;
  std::unique_ptr<SqlInventoryRepository> r;
};

// A key prefix of its own on the Redis server that ./mercato test starts; its keys are deleted afterwards.
struct RedisFixture : Fixture {
  explicit RedisFixture(const std::string& url)
      : client(redis::Client::open({.url = url, .connections = 4})),
        prefix("mercato:test:inventory:" + random_hex(8) + ":"),
        r(*client, prefix) {}
  ~RedisFixture() override {
    std::string cursor = "0";
    do {
      auto page = client->command({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
      if (!page) return;
      cursor = page->elements.at(0).text;
      for (const auto& key : page->elements.at(1).elements) (void)client->command({"DEL", key.text});
    } while (cursor != "0");
  }
  InventoryRepository& repo() override { return r; }
  std::vector<events::CloudEvent> outbox() override {
    RedisEventStore store(*client, prefix);
    return unsent(store);
  }
  std::unique_ptr<redis::Client> client;
  std::string prefix;
  RedisInventoryRepository r;
};

const SystemTime kT0{std::chrono::milliseconds{1'700'000'000'000}};
const SystemTime kT1 = kT0 + std::chrono::milliseconds(5);
const SystemTime kT2 = kT0 + std::chrono::milliseconds(9);

class InventoryRepositoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      fixture_ = std::make_unique<SqliteFixture>(1);
    } else if (GetParam() == "sqlite_pool") {
      fixture_ = std::make_unique<SqliteFixture>(4);  // shared-lock pool: writers queue on BEGIN IMMEDIATE
    } else if (GetParam() == "postgres") {
      auto url = mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL");
      if (url.empty()) {
        if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
      }
      fixture_ = std::make_unique<PostgresFixture>(url);
    } else {
      auto url = mercato::testing::backend_url("MERCATO_TEST_REDIS_URL");
      if (url.empty()) {
        if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_REDIS_URL is not set";
        GTEST_SKIP() << "no Redis server (run through ./mercato test)";
      }
      fixture_ = std::make_unique<RedisFixture>(url);
    }
  }
  InventoryRepository& repo() { return fixture_->repo(); }
  std::vector<events::CloudEvent> outbox() { return fixture_->outbox(); }
  static events::CloudEvent event(std::string type, const std::string& subject) {
    return events::make_event("inventory", std::move(type), subject, R"({"id":")" + subject + R"("})");
  }
  // An EventsOf that records each settled reservation it is asked about and builds one event for it.
  EventsOf settled_event(const std::string& type) {
    return [this, type](const Reservation& r) {
      settled_.push_back(r);
      return std::vector{event(type, r.order_id)};
    };
  }
  static std::vector<std::string> types(const std::vector<events::CloudEvent>& events) {
    std::vector<std::string> out;
    out.reserve(events.size());
    for (const auto& e : events) out.push_back(e.type);
    return out;
  }

  std::vector<Reservation> settled_;

  void stock(const std::string& id, std::int64_t available, std::int64_t price = 100) {
    ASSERT_TRUE(repo().put_product(id, {"Product " + id, price, available}, kT0));
  }
  Product product(const std::string& id) {
    auto p = repo().find_product(id);
    EXPECT_TRUE(p) << id;
    return p ? *p : Product{};
  }
  static ReservationRequest request(std::string order_id, std::vector<ItemRequest> items) {
    return {std::move(order_id), std::move(items)};
  }

  std::unique_ptr<Fixture> fixture_;
};

TEST_P(InventoryRepositoryContract, PutCreatesThenReplacesKeepingReservedAndSold) {
  auto created = repo().put_product("mug", {"Mug", 250, 10}, kT0);
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->product, (Product{"mug", "Mug", 250, 10, 0, 0, kT0, kT0}));
  EXPECT_EQ(product("mug"), created->product);

  ASSERT_TRUE(repo().reserve(request("o1", {{"mug", 3}}), kT1));
  ASSERT_TRUE(repo().settle("o1", ReservationStatus::kCommitted, kT1));
  ASSERT_TRUE(repo().reserve(request("o2", {{"mug", 2}}), kT1));

  auto replaced = repo().put_product("mug", {"Big mug", 300, 50}, kT2);
  ASSERT_TRUE(replaced);
  EXPECT_FALSE(replaced->created);
  EXPECT_EQ(replaced->product, (Product{"mug", "Big mug", 300, 50, 2, 3, kT0, kT2}));
  EXPECT_EQ(product("mug"), replaced->product);
}

TEST_P(InventoryRepositoryContract, FindUnknownIsNotFound) {
  auto p = repo().find_product("nope");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kNotFound);
  auto r = repo().find_reservation("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(InventoryRepositoryContract, ReserveMovesStockForEveryLineAndIsStored) {
  stock("a", 5, 150);
  stock("b", 2, 990);
  auto r = repo().reserve(request("o1", {{"b", 2}, {"a", 3}}), kT1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->created);
  Reservation expected{"o1", ReservationStatus::kReserved, {{"b", 2, 990}, {"a", 3, 150}}, kT1, kT1};
  EXPECT_EQ(r->reservation, expected);
  EXPECT_EQ(*repo().find_reservation("o1"), expected);
  EXPECT_EQ(product("a"), (Product{"a", "Product a", 150, 2, 3, 0, kT0, kT1}));
  EXPECT_EQ(product("b"), (Product{"b", "Product b", 990, 0, 2, 0, kT0, kT1}));
}

TEST_P(InventoryRepositoryContract, AllOrNothingWhenTheSecondLineLacksStock) {
  stock("a", 5);
  stock("b", 1);
  auto before_a = product("a");
  auto before_b = product("b");
  auto r = repo().reserve(request("o1", {{"a", 3}, {"b", 2}}), kT1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().field, "items[1].quantity");
  EXPECT_EQ(product("a"), before_a);
  EXPECT_EQ(product("b"), before_b);
  EXPECT_EQ(repo().find_reservation("o1").error().code, ErrorCode::kNotFound);
  // The order id stays free: a request that fits now succeeds.
  auto fits = repo().reserve(request("o1", {{"a", 3}, {"b", 1}}), kT2);
  ASSERT_TRUE(fits);
  EXPECT_TRUE(fits->created);
}

TEST_P(InventoryRepositoryContract, UnknownProductIsUnprocessableAndChangesNothing) {
  stock("a", 5);
  auto r = repo().reserve(request("o1", {{"a", 1}, {"ghost", 1}}), kT1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().field, "items[1].product_id");
  EXPECT_EQ(product("a").available, 5);
  EXPECT_FALSE(repo().find_reservation("o1"));
}

TEST_P(InventoryRepositoryContract, SameOrderWithSameItemsReplaysWithoutMovingStock) {
  stock("a", 5);
  stock("b", 5);
  auto first = repo().reserve(request("o1", {{"a", 1}, {"b", 2}}), kT1);
  ASSERT_TRUE(first);
  auto replay = repo().reserve(request("o1", {{"b", 2}, {"a", 1}}), kT2);
  ASSERT_TRUE(replay) << replay.error().message;
  EXPECT_FALSE(replay->created);
  EXPECT_EQ(replay->reservation, first->reservation);
  EXPECT_EQ(product("a").reserved, 1);
  EXPECT_EQ(product("b").reserved, 2);

  // Whatever its status: a replay after commit returns the committed reservation.
  ASSERT_TRUE(repo().settle("o1", ReservationStatus::kCommitted, kT2));
  auto after_commit = repo().reserve(request("o1", {{"a", 1}, {"b", 2}}), kT2);
  ASSERT_TRUE(after_commit);
  EXPECT_FALSE(after_commit->created);
  EXPECT_EQ(after_commit->reservation.status, ReservationStatus::kCommitted);
  EXPECT_EQ(product("a").sold, 1);
  EXPECT_EQ(product("a").available, 4);
}

TEST_P(InventoryRepositoryContract, SameOrderWithOtherItemsIsConflict) {
  stock("a", 5);
  stock("b", 5);
  ASSERT_TRUE(repo().reserve(request("o1", {{"a", 1}}), kT1));
  for (const auto& other :
       {request("o1", {{"a", 2}}), request("o1", {{"b", 1}}), request("o1", {{"a", 1}, {"b", 1}})}) {
    auto r = repo().reserve(other, kT2);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kConflict);
    EXPECT_EQ(r.error().field, "order_id");
  }
  EXPECT_EQ(product("a").reserved, 1);
  EXPECT_EQ(product("b").reserved, 0);
}

TEST_P(InventoryRepositoryContract, CommitMovesReservedToSoldAndIsIdempotent) {
  stock("a", 5);
  stock("b", 5);
  ASSERT_TRUE(repo().reserve(request("o1", {{"a", 2}, {"b", 3}}), kT1));
  auto settled = repo().settle("o1", ReservationStatus::kCommitted, kT2);
  ASSERT_TRUE(settled) << settled.error().message;
  EXPECT_TRUE(settled->moved);
  const auto* c = &settled->reservation;
  EXPECT_EQ(c->status, ReservationStatus::kCommitted);
  EXPECT_EQ(c->updated_at, kT2);
  EXPECT_EQ(c->created_at, kT1);
  EXPECT_EQ(*repo().find_reservation("o1"), *c);
  EXPECT_EQ(product("a"), (Product{"a", "Product a", 100, 3, 0, 2, kT0, kT2}));
  EXPECT_EQ(product("b"), (Product{"b", "Product b", 100, 2, 0, 3, kT0, kT2}));

  auto again = repo().settle("o1", ReservationStatus::kCommitted, kT2 + std::chrono::milliseconds(1));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->moved);
  EXPECT_EQ(again->reservation, *c);
  EXPECT_EQ(product("a").sold, 2);
  EXPECT_EQ(product("a").reserved, 0);

  auto release = repo().settle("o1", ReservationStatus::kReleased, kT2);
  ASSERT_FALSE(release);
  EXPECT_EQ(release.error().code, ErrorCode::kConflict);
  EXPECT_EQ(product("a").available, 3);
  EXPECT_EQ(repo().find_reservation("o1")->status, ReservationStatus::kCommitted);
}

TEST_P(InventoryRepositoryContract, ReleaseReturnsReservedToAvailableAndIsIdempotent) {
  stock("a", 5);
  ASSERT_TRUE(repo().reserve(request("o1", {{"a", 4}}), kT1));
  auto r = repo().settle("o1", ReservationStatus::kReleased, kT2);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->moved);
  EXPECT_EQ(r->reservation.status, ReservationStatus::kReleased);
  EXPECT_EQ(product("a"), (Product{"a", "Product a", 100, 5, 0, 0, kT0, kT2}));

  auto again = repo().settle("o1", ReservationStatus::kReleased, kT2);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->moved);
  EXPECT_EQ(again->reservation, r->reservation);
  EXPECT_EQ(product("a").available, 5);

  auto commit = repo().settle("o1", ReservationStatus::kCommitted, kT2);
  ASSERT_FALSE(commit);
  EXPECT_EQ(commit.error().code, ErrorCode::kConflict);
  EXPECT_EQ(product("a"), (Product{"a", "Product a", 100, 5, 0, 0, kT0, kT2}));
}

TEST_P(InventoryRepositoryContract, SettleUnknownIsNotFound) {
  for (auto target : {ReservationStatus::kCommitted, ReservationStatus::kReleased}) {
    auto r = repo().settle("nope", target, kT1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  }
}

TEST_P(InventoryRepositoryContract, ReservationKeepsThePriceOfItsTime) {
  stock("a", 5, 100);
  ASSERT_TRUE(repo().reserve(request("o1", {{"a", 1}}), kT1));
  ASSERT_TRUE(repo().put_product("a", {"Product a", 175, 4}, kT2));
  EXPECT_EQ(repo().find_reservation("o1")->items.at(0).price_cents, 100);
  auto next = repo().reserve(request("o2", {{"a", 1}}), kT2);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->reservation.items.at(0).price_cents, 175);
}

TEST_P(InventoryRepositoryContract, ConcurrentReservationsNeverOversell) {
  stock("hot", 50);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 15;  // 120 attempts of one unit for 50 units
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto id = "o-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = repo().reserve(request(id, {{"hot", 1}}), now_utc());
        if (r) {
          ok++;
        } else if (r.error().code == ErrorCode::kUnprocessable) {
          refused++;
        } else {
          other++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(refused, kThreads * kPerThread - 50);
  EXPECT_EQ(other, 0);
  auto p = product("hot");
  EXPECT_EQ(p.available, 0);
  EXPECT_EQ(p.reserved, 50);
}

TEST_P(InventoryRepositoryContract, ConcurrentMultiLineReservationsAreAllOrNothing) {
  stock("x", 30);
  stock("y", 20);  // the scarcer line decides: 20 orders of {x: 1, y: 1} fit
  constexpr int kThreads = 8;
  constexpr int kPerThread = 6;
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto id = "m-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = repo().reserve(request(id, {{"x", 1}, {"y", 1}}), now_utc());
        if (r) {
          ok++;
        } else if (r.error().code != ErrorCode::kUnprocessable || r.error().field != "items[1].quantity") {
          other++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(other, 0);
  auto x = product("x");
  EXPECT_EQ(x.available, 10) << "a refused order must not keep its first line";
  EXPECT_EQ(x.reserved, 20);
  EXPECT_EQ(product("y").available, 0);
  EXPECT_EQ(product("y").reserved, 20);
}

TEST_P(InventoryRepositoryContract, CommitAndReleaseRacingSettleEachOrderOnce) {
  constexpr int kOrders = 30;
  stock("z", kOrders);
  for (int i = 0; i < kOrders; ++i) {
    ASSERT_TRUE(repo().reserve(request("s-" + std::to_string(i), {{"z", 1}}), kT1));
  }
  std::atomic<int> commits{0};
  std::atomic<int> releases{0};
  std::atomic<int> other{0};
  auto settle_all = [&](ReservationStatus target, std::atomic<int>& won) {
    for (int i = 0; i < kOrders; ++i) {
      auto r = repo().settle("s-" + std::to_string(i), target, kT2);
      if (r) {
        // Each thread settles each order once: a success is the move, never a retry of its own.
        won += r->moved ? 1 : 0;
        if (!r->moved || r->reservation.status != target) other++;
      } else if (r.error().code != ErrorCode::kConflict) {
        other++;
      }
    }
  };
  std::thread committer([&] { settle_all(ReservationStatus::kCommitted, commits); });
  std::thread releaser([&] { settle_all(ReservationStatus::kReleased, releases); });
  committer.join();
  releaser.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(commits + releases, kOrders);
  auto z = product("z");
  EXPECT_EQ(z.reserved, 0);
  EXPECT_EQ(z.sold, commits.load());
  EXPECT_EQ(z.available, releases.load());
}

TEST_P(InventoryRepositoryContract, ConcurrentSameOrderReservesOnceAndReplaysTheRest) {
  stock("a", 10);
  stock("b", 10);
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> replays{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Even threads ask for the same items (in either order), odd ones for other items.
      auto items = t % 2 == 0 ? (t % 4 == 0 ? std::vector<ItemRequest>{{"a", 2}, {"b", 1}}
                                            : std::vector<ItemRequest>{{"b", 1}, {"a", 2}})
                              : std::vector<ItemRequest>{{"a", 1}};
      auto r = repo().reserve(request("same", items), now_utc());
      if (r) {
        (r->created ? created : replays)++;
      } else if (r.error().code == ErrorCode::kConflict && r.error().field == "order_id") {
        conflicts++;
      } else {
        other++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(other, 0);
  // Whichever shape won, the same shape replayed and the other was refused.
  EXPECT_EQ(replays, kThreads / 2 - 1);
  EXPECT_EQ(conflicts, kThreads / 2);
  auto stored = repo().find_reservation("same");
  ASSERT_TRUE(stored);
  std::int64_t a_reserved = 0;
  for (const auto& line : stored->items) {
    if (line.product_id == "a") a_reserved = line.quantity;
  }
  EXPECT_EQ(product("a").reserved, a_reserved) << "only the one created reservation moved stock";
  EXPECT_EQ(product("a").available, 10 - a_reserved);
}

TEST_P(InventoryRepositoryContract, ConcurrentCreatesOfOneProductLeaveOneProduct) {
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = repo().put_product("new", {"New " + std::to_string(t), 100 + t, 5}, kT0);
      if (!r) {
        failed++;
      } else if (r->created) {
        created++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(created, 1);
  auto p = product("new");
  EXPECT_EQ(p.available, 5);
  EXPECT_EQ(p.reserved, 0);
}

TEST_P(InventoryRepositoryContract, ProductIdsWithQuotesCommasAndBracesAreOrdinaryIds) {
  const std::vector<std::string> ids = {"q\"uote", "back\\slash", "com,ma", "{brace}", "NULL", " sp ace"};
  for (const auto& id : ids) stock(id, 3);
  std::vector<ItemRequest> items;
  items.reserve(ids.size());
  for (const auto& id : ids) items.push_back({id, 2});
  auto r = repo().reserve(request("odd", items), kT1);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(repo().settle("odd", ReservationStatus::kCommitted, kT2));
  for (const auto& id : ids) {
    auto p = product(id);
    EXPECT_EQ(p.available, 1) << id;
    EXPECT_EQ(p.sold, 2) << id;
  }
}

// --- the outbox ---------------------------------------------------------------------------------------

TEST_P(InventoryRepositoryContract, PutAppendsItsEventsOnCreateAndOnReplace) {
  auto created = event("inventory.product_updated", "mug");
  ASSERT_TRUE(repo().put_product("mug", {"Mug", 250, 10}, kT0, std::span(&created, 1)));
  auto replaced = event("inventory.product_updated", "mug");
  ASSERT_TRUE(repo().put_product("mug", {"Big mug", 300, 5}, kT1, std::span(&replaced, 1)));
  auto outbox = this->outbox();
  ASSERT_EQ(outbox.size(), 2U);
  EXPECT_EQ(outbox[0], created);  // the whole envelope, as given
  EXPECT_EQ(outbox[1], replaced);
}

TEST_P(InventoryRepositoryContract, ReserveAppendsOnlyWhenItCreatesTheReservation) {
  stock("a", 5);
  stock("b", 1);
  auto reserved = event("inventory.reserved", "o1");
  ASSERT_TRUE(repo().reserve(request("o1", {{"a", 2}}), kT1, std::span(&reserved, 1)));
  auto again = event("inventory.reserved", "o1");
  auto replay = repo().reserve(request("o1", {{"a", 2}}), kT2, std::span(&again, 1));
  ASSERT_TRUE(replay);
  EXPECT_FALSE(replay->created);
  EXPECT_EQ(repo().reserve(request("o1", {{"a", 1}}), kT2, std::span(&again, 1)).error().code,
            ErrorCode::kConflict);
  auto refused = event("inventory.reserved", "o2");
  EXPECT_EQ(repo().reserve(request("o2", {{"a", 1}, {"b", 2}}), kT2, std::span(&refused, 1)).error().code,
            ErrorCode::kUnprocessable);
  EXPECT_EQ(repo().reserve(request("o2", {{"ghost", 1}}), kT2, std::span(&refused, 1)).error().code,
            ErrorCode::kUnprocessable);
  auto outbox = this->outbox();
  ASSERT_EQ(outbox.size(), 1U);
  EXPECT_EQ(outbox[0], reserved);
}

TEST_P(InventoryRepositoryContract, SettleAppendsTheEventsOfTheMovedReservationOnce) {
  stock("a", 5);
  stock("b", 5);
  ASSERT_TRUE(repo().reserve(request("o1", {{"a", 2}, {"b", 1}}), kT1));
  ASSERT_TRUE(repo().reserve(request("o2", {{"a", 1}}), kT1));
  ASSERT_TRUE(repo().settle("o1", ReservationStatus::kCommitted, kT2, settled_event("inventory.committed")));
  ASSERT_TRUE(repo().settle("o1", ReservationStatus::kCommitted, kT2, settled_event("inventory.committed")));
  EXPECT_EQ(repo()
                .settle("o1", ReservationStatus::kReleased, kT2, settled_event("inventory.released"))
                .error()
                .code,
            ErrorCode::kConflict);
  ASSERT_TRUE(repo().settle("o2", ReservationStatus::kReleased, kT2, settled_event("inventory.released")));
  ASSERT_TRUE(repo().settle("o2", ReservationStatus::kReleased, kT2, settled_event("inventory.released")));
  EXPECT_EQ(repo()
                .settle("nope", ReservationStatus::kReleased, kT2, settled_event("inventory.released"))
                .error()
                .code,
            ErrorCode::kNotFound);
  EXPECT_EQ(types(outbox()), (std::vector<std::string>{"inventory.committed", "inventory.released"}));
  // The events were built from the reservation as it is after the move.
  ASSERT_FALSE(settled_.empty());
  Reservation committed{"o1", ReservationStatus::kCommitted, {{"a", 2, 100}, {"b", 1, 100}}, kT1, kT2};
  EXPECT_EQ(settled_.front(), committed);
  EXPECT_EQ(outbox()[0].subject, "o1");
}

TEST_P(InventoryRepositoryContract, AMalformedEventRefusesTheWholeChange) {
  stock("a", 5);
  auto bad = event("inventory.reserved", "o1");
  bad.data = "not json";
  ASSERT_FALSE(repo().reserve(request("o1", {{"a", 2}}), kT1, std::span(&bad, 1)));
  EXPECT_EQ(repo().find_reservation("o1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(product("a").available, 5);
  ASSERT_FALSE(repo().put_product("a", {"Changed", 1, 1}, kT1, std::span(&bad, 1)));
  EXPECT_EQ(product("a").name, "Product a");
  ASSERT_TRUE(repo().reserve(request("o1", {{"a", 2}}), kT1));
  ASSERT_FALSE(repo().settle("o1", ReservationStatus::kCommitted, kT2, [](const Reservation& r) {
    auto e = event("inventory.committed", r.order_id);
    e.type = "Not A Type";
    return std::vector{e};
  }));
  EXPECT_EQ(repo().find_reservation("o1")->status, ReservationStatus::kReserved);
  EXPECT_EQ(product("a").reserved, 2);
  EXPECT_TRUE(outbox().empty());
}

// Many callers at once, one order: exactly one reservation is created, so exactly one event.
TEST_P(InventoryRepositoryContract, ConcurrentReservationsOfOneOrderAppendOneEvent) {
  stock("a", 100);
  constexpr int kThreads = 8;
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto e = event("inventory.reserved", "same");
      auto r = repo().reserve(request("same", {{"a", 3}}), now_utc(), std::span(&e, 1));
      if (r && r->created) created++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 1);
  EXPECT_EQ(outbox().size(), 1U);
}

// Redis only: the key prefix is the whole namespace, so two prefixes on one server never meet.
TEST(RedisInventoryRepository, KeyPrefixesIsolateRepositories) {
  auto url = mercato::testing::backend_url("MERCATO_TEST_REDIS_URL");
  if (url.empty()) {
    if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_REDIS_URL is not set";
    GTEST_SKIP() << "no Redis server (run through ./mercato test)";
  }
  RedisFixture a(url);
  RedisFixture b(url);
  ASSERT_TRUE(a.repo().put_product("p", {"P", 100, 3}, kT0));
  ASSERT_TRUE(a.repo().reserve({"o", {{"p", 1}}}, kT1));
  EXPECT_EQ(b.repo().find_product("p").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(b.repo().find_reservation("o").error().code, ErrorCode::kNotFound);
  auto keys = a.client->command({"KEYS", a.prefix + "*"});
  ASSERT_TRUE(keys);
  std::vector<std::string> names;
  for (const auto& k : keys->elements) names.push_back(k.text);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{a.prefix + "product:p", a.prefix + "reservation:o"}));
}

INSTANTIATE_TEST_SUITE_P(Implementations, InventoryRepositoryContract,
                         ::testing::Values("sqlite", "sqlite_pool", "postgres", "redis"));

}  // namespace
}  // namespace mercato::inventory
