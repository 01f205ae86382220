// One contract: the SQL repository on SQLite and PostgreSQL must behave the same, including what each
// change appends to the outbox.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "adapters/sql_shipment_repository.hpp"
#include "app/shipment_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/testing/backends.hpp"

namespace mercato::shipping {
namespace {

struct Fixture {
  virtual ~Fixture() = default;
  virtual ShipmentRepository& repo() = 0;
  // What the changes so far appended to the outbox, in order.
  virtual std::vector<events::CloudEvent> outbox() = 0;
};

// The SQL repository on SQLite (four connections, so the concurrency cases race real writers rather than
// one serialized one) or on PostgreSQL (a schema of its own on the server ./mercato test starts).
struct SqlFixture : Fixture {
  explicit SqlFixture(const std::string& engine) {
    if (engine == "sqlite") {
      dir = std::filesystem::temp_directory_path() / ("mercato-shipping-repo-" + random_hex(8));
      db = sql::Database::open(
          sqlite::DatabaseSettings{.path = (dir / "shipping.db").string(), .connections = 4});
    } else {
      schema = std::make_unique<mercato::testing::PostgresSchema>(
          mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL"));
      if (!schema->ok()) throw std::runtime_error("cannot create a test schema: " + schema->error());
      db = sql::Database::open(postgres::DatabaseSettings{.url = schema->url(), .connections = 4});
    }
    r = std::make_unique<SqlShipmentRepository>(*db);
  }
  ~SqlFixture() override {
    r.reset();
    db.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  ShipmentRepository& repo() override { return *r; }
  std::vector<events::CloudEvent> outbox() override {
    auto rows = events::open_store(*db)->unsent(100);
    if (!rows) throw std::runtime_error("cannot read the outbox: " + rows.error().message);
    std::vector<events::CloudEvent> out;
    for (auto& row : *rows) out.push_back(std::move(row.event));
    return out;
  }
  std::unique_ptr<mercato::testing::PostgresSchema> schema;  // first member: dropped last
  std::filesystem::path dir;
  std::unique_ptr<sql::Database> db;
  std::unique_ptr<SqlShipmentRepository> r;
};

class ShipmentRepositoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres" && mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL").empty()) {
      if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
      GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
    }
    fixture_ = std::make_unique<SqlFixture>(GetParam());
  }
  ShipmentRepository& repo() { return fixture_->repo(); }
  std::vector<events::CloudEvent> outbox() { return fixture_->outbox(); }
  static EventsOf cancelled_events(int& built) {
    return [&built](const Shipment& s) {
      ++built;
      return std::vector{shipment_cancelled_event(s, "")};
    };
  }
  static Shipment make(std::string order_id) {
    return new_shipment(
        new_uuid(), {std::move(order_id), "cust-1", {"Ann", "1 Main St", "Apt 2", "Berlin", "10115", "DE"}},
        now_utc());
  }
  std::unique_ptr<Fixture> fixture_;
};

TEST_P(ShipmentRepositoryContract, InsertThenFindReturnsSameShipment) {
  auto s = make("order-1");
  ASSERT_TRUE(repo().insert(s));
  auto found = repo().find(s.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, s);
}

TEST_P(ShipmentRepositoryContract, FindUnknownIsNotFound) {
  auto r = repo().find("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(ShipmentRepositoryContract, SecondShipmentForAnOrderIsConflictAndKeepsTheFirst) {
  auto first = make("order-1");
  ASSERT_TRUE(repo().insert(first));
  auto second = make("order-1");
  auto r = repo().insert(second);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().field, "order_id");
  EXPECT_EQ(repo().find(second.id).error().code, ErrorCode::kNotFound);
  auto by_order = repo().find_by_order("order-1");
  ASSERT_TRUE(by_order);
  ASSERT_EQ(by_order->size(), 1U);
  EXPECT_EQ(by_order->front(), first);
}

TEST_P(ShipmentRepositoryContract, FindByOrderReturnsOnlyThatOrdersShipment) {
  auto a = make("order-a");
  auto b = make("order-b");
  ASSERT_TRUE(repo().insert(a));
  ASSERT_TRUE(repo().insert(b));
  auto found = repo().find_by_order("order-b");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1U);
  EXPECT_EQ(found->front(), b);
  auto none = repo().find_by_order("order-c");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(ShipmentRepositoryContract, CancelStoresTheChangeOnceAndIsIdempotent) {
  auto s = make("order-1");
  ASSERT_TRUE(repo().insert(s));
  auto t1 = s.updated_at + std::chrono::milliseconds(5);
  auto cancelled = repo().cancel(s.id, t1);
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->status, ShipmentStatus::kCancelled);
  EXPECT_EQ(cancelled->updated_at, t1);
  EXPECT_EQ(cancelled->created_at, s.created_at);
  EXPECT_EQ(*repo().find(s.id), *cancelled);

  auto again = repo().cancel(s.id, t1 + std::chrono::milliseconds(5));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *cancelled);
  EXPECT_EQ(*repo().find(s.id), *cancelled);
}

TEST_P(ShipmentRepositoryContract, CancelUnknownIsNotFound) {
  auto r = repo().cancel("nope", now_utc());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_P(ShipmentRepositoryContract, ConcurrentInsertsForOneOrderLetExactlyOneIn) {
  constexpr int kThreads = 20;
  std::atomic<int> inserted{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = repo().insert(make("order-race"));
      if (r) {
        ++inserted;
      } else if (r.error().code == ErrorCode::kConflict) {
        ++conflicts;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(inserted, 1);
  EXPECT_EQ(conflicts, kThreads - 1);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(repo().find_by_order("order-race")->size(), 1U);
}

TEST_P(ShipmentRepositoryContract, StoresEveryAddressFieldVerbatim) {
  auto s = make("order-1");
  s.address = {"Zoë O'Brien", "Straße 1; DROP TABLE shipments", "", "Łódź", "90-001", "PL"};
  ASSERT_TRUE(repo().insert(s));
  EXPECT_EQ(repo().find(s.id)->address, s.address);
}

TEST_P(ShipmentRepositoryContract, InsertAppendsItsEventsWithTheShipment) {
  auto s = make("order-1");
  auto created = shipment_created_event(s, "");
  ASSERT_TRUE(repo().insert(s, std::span(&created, 1)));
  auto appended = outbox();
  ASSERT_EQ(appended.size(), 1U);
  EXPECT_EQ(appended[0].id, created.id);
  EXPECT_EQ(appended[0].type, "shipment.created");
  EXPECT_EQ(appended[0].subject, "order-1");
  EXPECT_EQ(appended[0].data, created.data);
}

TEST_P(ShipmentRepositoryContract, RefusedInsertAppendsNothing) {
  auto first = make("order-1");
  auto first_event = shipment_created_event(first, "");
  ASSERT_TRUE(repo().insert(first, std::span(&first_event, 1)));
  auto second = make("order-1");
  auto second_event = shipment_created_event(second, "");
  ASSERT_FALSE(repo().insert(second, std::span(&second_event, 1)));
  auto appended = outbox();
  ASSERT_EQ(appended.size(), 1U);
  EXPECT_EQ(appended[0].id, first_event.id);
}

TEST_P(ShipmentRepositoryContract, CancelAppendsTheEventsOfTheCancelledShipmentOnlyOnce) {
  auto s = make("order-1");
  ASSERT_TRUE(repo().insert(s));
  int built = 0;
  ASSERT_TRUE(repo().cancel(s.id, now_utc(), cancelled_events(built)));
  ASSERT_TRUE(repo().cancel(s.id, now_utc(), cancelled_events(built)));  // changes nothing
  EXPECT_EQ(built, 1);
  auto appended = outbox();
  ASSERT_EQ(appended.size(), 1U);
  EXPECT_EQ(appended[0].type, "shipment.cancelled");
  EXPECT_EQ(appended[0].subject, "order-1");
  EXPECT_NE(appended[0].data.find(R"("status":"cancelled")"), std::string::npos) << appended[0].data;
}

TEST_P(ShipmentRepositoryContract, CancelOfAnUnknownShipmentAppendsNothing) {
  int built = 0;
  ASSERT_FALSE(repo().cancel("nope", now_utc(), cancelled_events(built)));
  EXPECT_EQ(built, 0);
  EXPECT_TRUE(outbox().empty());
}

TEST_P(ShipmentRepositoryContract, PingSucceeds) { EXPECT_TRUE(repo().ping()); }

INSTANTIATE_TEST_SUITE_P(Implementations, ShipmentRepositoryContract,
                         ::testing::Values("sqlite", "postgres"));

TEST(SqliteShipmentRepository, ShipmentsAndTheirEventsSurviveReopeningTheFile) {
  auto dir = std::filesystem::temp_directory_path() / ("mercato-shipping-reopen-" + random_hex(8));
  auto path = (dir / "shipping.db").string();
  Shipment s = new_shipment(
      new_uuid(), {"order-1", "cust-1", {"Ann", "1 Main St", "", "Paris", "75001", "FR"}}, now_utc());
  {
    auto db = sql::Database::open(sqlite::DatabaseSettings{.path = path});
    SqlShipmentRepository repo(*db);
    auto created = shipment_created_event(s, "");
    ASSERT_TRUE(repo.insert(s, std::span(&created, 1)));
  }
  {
    auto db = sql::Database::open(sqlite::DatabaseSettings{.path = path});
    SqlShipmentRepository repo(*db);  // migrations are not re-applied, the event tables are kept
    EXPECT_EQ(*repo.find(s.id), s);
    EXPECT_FALSE(repo.insert(new_shipment(new_uuid(), {"order-1", "c", s.address}, now_utc()), {}));
    EXPECT_EQ(*events::open_store(*db)->unsent_count(), 1) << "the unsent event survives a restart";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mercato::shipping
