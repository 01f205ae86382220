// One contract: the SQL repository on SQLite and PostgreSQL must behave the same, including what each
// recording appends to the outbox.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "adapters/sql_notification_repository.hpp"
#include "app/notification_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/testing/backends.hpp"

namespace mercato::notification {
namespace {

struct Fixture {
  virtual ~Fixture() = default;
  virtual NotificationRepository& repo() = 0;
  // What the recordings so far appended to the outbox, in order.
  virtual std::vector<events::CloudEvent> outbox() = 0;
};

// The SQL repository on SQLite (four connections, so the concurrency cases race real writers rather than
// one serialized one) or on PostgreSQL (a schema of its own on the server ./mercato test starts).
struct SqlFixture : Fixture {
  explicit SqlFixture(const std::string& engine) {
    if (engine == "sqlite") {
      dir = std::filesystem::temp_directory_path() / ("mercato-notification-repo-" + random_hex(8));
      db = sql::Database::open(
          sqlite::DatabaseSettings{.path = (dir / "notification.db").string(), .connections = 4});
    } else {
      schema = std::make_unique<mercato::testing::PostgresSchema>(
          mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL"));
      if (!schema->ok()) throw std::runtime_error("cannot create a test schema: " + schema->error());
      db = sql::Database::open(postgres::DatabaseSettings{.url = schema->url(), .connections = 4});
    }
    r = std::make_unique<SqlNotificationRepository>(*db);
  }
  ~SqlFixture() override {
    r.reset();
    db.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  NotificationRepository& repo() override { return *r; }
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
  std::unique_ptr<SqlNotificationRepository> r;
};

// Counts deliveries; fails them on request.
struct CountingDelivery {
  std::atomic<int> calls{0};
  bool fail = false;
  Deliver fn() {
    return [this](const Notification&) -> Result<void> {
      ++calls;
      if (fail) return Error::internal("outbox unavailable");
      return {};
    };
  }
};

class NotificationRepositoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres" && mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL").empty()) {
      if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
      GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
    }
    fixture_ = std::make_unique<SqlFixture>(GetParam());
  }
  NotificationRepository& repo() { return fixture_->repo(); }
  std::vector<events::CloudEvent> outbox() { return fixture_->outbox(); }
  // Records `n` with its notification.sent event; returns the event id.
  Result<Recorded> record_with_event(const Notification& n, const Deliver& deliver, std::string& event_id) {
    auto sent = notification_sent_event(n, "");
    event_id = sent.id;
    return repo().record_once(n, deliver, std::span(&sent, 1));
  }
  static Notification make(std::string order_id, Kind kind = Kind::kOrderConfirmed,
                           std::string customer = "cust-1", std::string message = "hello") {
    return Notification{new_uuid(), std::move(customer), std::move(order_id),
                        kind,       std::move(message),  now_utc()};
  }
  std::unique_ptr<Fixture> fixture_;
};

TEST_P(NotificationRepositoryContract, RecordsANewNotificationAfterDeliveringIt) {
  CountingDelivery delivery;
  auto n = make("order-1");
  auto r = repo().record_once(n, delivery.fn());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->notification, n);
  EXPECT_EQ(delivery.calls, 1);
  auto listed = repo().list_for_customer("cust-1", 10);
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 1U);
  EXPECT_EQ(listed->front(), n);
}

TEST_P(NotificationRepositoryContract, SamePairAgainReturnsTheFirstAndDeliversNothing) {
  CountingDelivery delivery;
  auto first = make("order-1", Kind::kOrderConfirmed, "cust-1", "first");
  ASSERT_TRUE(repo().record_once(first, delivery.fn()));
  auto second = make("order-1", Kind::kOrderConfirmed, "cust-2", "second");
  auto r = repo().record_once(second, delivery.fn());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->created);
  EXPECT_EQ(r->notification, first);
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_TRUE(repo().list_for_customer("cust-2", 10)->empty());
}

TEST_P(NotificationRepositoryContract, OtherKindOrOtherOrderIsANewNotification) {
  CountingDelivery delivery;
  ASSERT_TRUE(repo().record_once(make("order-1", Kind::kOrderConfirmed), delivery.fn()));
  EXPECT_TRUE(repo().record_once(make("order-1", Kind::kOrderCancelled), delivery.fn())->created);
  EXPECT_TRUE(repo().record_once(make("order-1", Kind::kPaymentFailed), delivery.fn())->created);
  EXPECT_TRUE(repo().record_once(make("order-1", Kind::kShipmentCreated), delivery.fn())->created);
  EXPECT_TRUE(repo().record_once(make("order-2", Kind::kOrderConfirmed), delivery.fn())->created);
  EXPECT_EQ(delivery.calls, 5);
  EXPECT_EQ(repo().list_for_customer("cust-1", 100)->size(), 5U);
}

TEST_P(NotificationRepositoryContract, FailedDeliveryRecordsNothingAndARetrySucceeds) {
  CountingDelivery delivery;
  delivery.fail = true;
  auto n = make("order-1");
  auto r = repo().record_once(n, delivery.fn());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(repo().list_for_customer("cust-1", 10)->empty());

  delivery.fail = false;
  auto retry = repo().record_once(make("order-1"), delivery.fn());
  ASSERT_TRUE(retry);
  EXPECT_TRUE(retry->created);
  EXPECT_EQ(delivery.calls, 2);
}

TEST_P(NotificationRepositoryContract, ListsNewestFirstWithinTheLimitForThatCustomerOnly) {
  CountingDelivery delivery;
  std::vector<Notification> mine;
  for (int i = 0; i < 5; ++i) {
    auto n = make("order-" + std::to_string(i));
    ASSERT_TRUE(repo().record_once(n, delivery.fn()));
    mine.push_back(n);
    ASSERT_TRUE(repo().record_once(make("other-" + std::to_string(i), Kind::kOrderConfirmed, "cust-2"),
                                   delivery.fn()));
  }
  auto all = repo().list_for_customer("cust-1", 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 5U);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ((*all)[i], mine[4 - i]) << i;
  auto two = repo().list_for_customer("cust-1", 2);
  ASSERT_EQ(two->size(), 2U);
  EXPECT_EQ((*two)[0], mine[4]);
  EXPECT_EQ((*two)[1], mine[3]);
  EXPECT_TRUE(repo().list_for_customer("nobody", 20)->empty());
  auto one_order = repo().list_for_customer("cust-1", 100, "order-3");
  ASSERT_TRUE(one_order);
  ASSERT_EQ(one_order->size(), 1U);
  EXPECT_EQ((*one_order)[0], mine[3]);
  EXPECT_TRUE(repo().list_for_customer("cust-1", 100, "other-3")->empty()) << "another customer's order";
}

TEST_P(NotificationRepositoryContract, ConcurrentSendsForOnePairDeliverExactlyOnce) {
  constexpr int kThreads = 20;
  CountingDelivery delivery;
  std::atomic<int> created{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = repo().record_once(
          make("order-race", Kind::kOrderConfirmed, "cust-1", "m" + std::to_string(i)), delivery.fn());
      if (!r) {
        ++failed;
      } else if (r->created) {
        ++created;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(created, 1);
  EXPECT_EQ(delivery.calls, 1);
  EXPECT_EQ(repo().list_for_customer("cust-1", 100)->size(), 1U);
}

TEST_P(NotificationRepositoryContract, StoresTextVerbatim) {
  CountingDelivery delivery;
  auto n =
      make("order-'; DROP TABLE notifications; --", Kind::kShipmentCreated, "cüst", "Line 1\nLine 2 — ✓");
  ASSERT_TRUE(repo().record_once(n, delivery.fn()));
  EXPECT_EQ(repo().list_for_customer("cüst", 1)->front(), n);
}

TEST_P(NotificationRepositoryContract, RecordingAppendsItsEventsOnlyTheFirstTime) {
  CountingDelivery delivery;
  std::string first_id;
  std::string repeat_id;
  ASSERT_TRUE(record_with_event(make("order-1"), delivery.fn(), first_id));
  auto repeat = record_with_event(make("order-1"), delivery.fn(), repeat_id);
  ASSERT_TRUE(repeat);
  EXPECT_FALSE(repeat->created);
  auto appended = outbox();
  ASSERT_EQ(appended.size(), 1U);
  EXPECT_EQ(appended[0].id, first_id);
  EXPECT_EQ(appended[0].type, "notification.sent");
  EXPECT_EQ(appended[0].subject, "order-1");
}

TEST_P(NotificationRepositoryContract, FailedDeliveryAppendsNothing) {
  CountingDelivery delivery;
  delivery.fail = true;
  std::string id;
  ASSERT_FALSE(record_with_event(make("order-1"), delivery.fn(), id));
  EXPECT_TRUE(outbox().empty());
}

TEST_P(NotificationRepositoryContract, ConcurrentSendsForOnePairAppendOneEvent) {
  CountingDelivery delivery;
  std::vector<std::thread> threads;
  threads.reserve(10);
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&] {
      std::string id;
      EXPECT_TRUE(record_with_event(make("order-race"), delivery.fn(), id));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(outbox().size(), 1U);
}

TEST_P(NotificationRepositoryContract, PingSucceeds) { EXPECT_TRUE(repo().ping()); }

INSTANTIATE_TEST_SUITE_P(Implementations, NotificationRepositoryContract,
                         ::testing::Values("sqlite", "postgres"));

TEST(SqliteNotificationRepository, TheOncePerPairRuleSurvivesReopeningTheFile) {
  auto dir = std::filesystem::temp_directory_path() / ("mercato-notification-reopen-" + random_hex(8));
  auto path = (dir / "notification.db").string();
  CountingDelivery delivery;
  Notification n{new_uuid(), "cust-1", "order-1", Kind::kOrderCancelled, "sorry", now_utc()};
  {
    auto db = sql::Database::open(sqlite::DatabaseSettings{.path = path});
    SqlNotificationRepository repo(*db);
    ASSERT_TRUE(repo.record_once(n, delivery.fn(), {}));
  }
  {
    auto db = sql::Database::open(sqlite::DatabaseSettings{.path = path});
    SqlNotificationRepository repo(*db);
    Notification again{new_uuid(), "cust-1", "order-1", Kind::kOrderCancelled, "sorry again", now_utc()};
    auto r = repo.record_once(again, delivery.fn(), {});
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->created);
    EXPECT_EQ(r->notification, n);
  }
  EXPECT_EQ(delivery.calls, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mercato::notification
