// The use cases over the SQL repository on a SQLite file and a recording mailer, and the events they publish.
#include "app/notification_service.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "adapters/sql_notification_repository.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::notification {
namespace {

class RecordingMailer final : public Mailer {
 public:
  Result<void> send(const Email& email) override {
    std::lock_guard lock(mutex_);
    if (fail) return Error::internal("mail relay down");
    sent_.push_back(email);
    return {};
  }
  Result<void> ping() override { return {}; }
  std::vector<Email> sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  bool fail = false;

 private:
  std::mutex mutex_;
  std::vector<Email> sent_;
};

NotificationRequest request(std::string order_id = "order-1", std::string kind = "order_confirmed") {
  return {"cust-1", std::move(order_id), std::move(kind), "Your order is confirmed."};
}

class NotificationServiceTest : public ::testing::Test {
 protected:
  mercato::testing::SqliteDatabase db_{"notification"};
  SqlNotificationRepository repo_{db_.get()};
  RecordingMailer mailer_;
  NotificationService service_{repo_, mailer_};
};

TEST_F(NotificationServiceTest, SendRecordsAndMailsTheNotification) {
  auto r = service_.send(request());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->created);
  const auto& n = r->notification;
  EXPECT_EQ(n.id.size(), 36U);
  EXPECT_EQ(n.kind, Kind::kOrderConfirmed);
  auto sent = mailer_.sent();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0], compose_email(n));
  EXPECT_EQ(sent[0].to, "cust-1");
  EXPECT_EQ(sent[0].subject, subject_for(Kind::kOrderConfirmed));
  EXPECT_EQ(*service_.list("cust-1", 20), std::vector<Notification>{n});
}

TEST_F(NotificationServiceTest, RepeatedOrderAndKindSendsOnce) {
  auto first = service_.send(request());
  ASSERT_TRUE(first);
  auto second = service_.send(request());
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->notification, first->notification);
  EXPECT_EQ(mailer_.sent().size(), 1U);
  ASSERT_TRUE(service_.send(request("order-1", "order_cancelled")));
  EXPECT_EQ(mailer_.sent().size(), 2U);
}

// Issue 15, item 2: a notice of the pair with another text or recipient is not a repeat of the first (it
// would be answered as sent while nothing was): a conflict, and nothing is mailed.
TEST_F(NotificationServiceTest, AnotherTextOrRecipientForTheSamePairIsAConflict) {
  auto first = service_.send(request());
  ASSERT_TRUE(first);
  auto reworded = request();
  reworded.message = "A different text";
  auto elsewhere = request();
  elsewhere.customer_id = "cust-2";
  for (const auto& other : {reworded, elsewhere}) {
    auto r = service_.send(other);
    ASSERT_FALSE(r) << other.customer_id << ": " << other.message;
    EXPECT_EQ(r.error().code, ErrorCode::kConflict);
    EXPECT_EQ(r.error().field, "order_id");
    EXPECT_NE(r.error().message.find("order_confirmed"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(mailer_.sent().size(), 1U);
  EXPECT_EQ(*service_.list("cust-1", 20), std::vector<Notification>{first->notification});
}

TEST_F(NotificationServiceTest, InvalidRequestsSendNothing) {
  auto bad = request();
  bad.kind = "order_shipped";
  auto r = service_.send(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "kind");
  bad = request();
  bad.message = std::string(2001, 'x');
  EXPECT_EQ(service_.send(bad).error().field, "message");
  EXPECT_TRUE(mailer_.sent().empty());
  EXPECT_TRUE(service_.list("cust-1", 20)->empty());
}

TEST_F(NotificationServiceTest, MailerFailureRecordsNothingSoARetrySends) {
  mailer_.fail = true;
  auto r = service_.send(request());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(service_.list("cust-1", 20)->empty());
  mailer_.fail = false;
  auto retry = service_.send(request());
  ASSERT_TRUE(retry);
  EXPECT_TRUE(retry->created);
  EXPECT_EQ(mailer_.sent().size(), 1U);
}

TEST_F(NotificationServiceTest, ListValidatesCustomerAndLimit) {
  EXPECT_EQ(service_.list("", 20).error().field, "customer_id");
  EXPECT_EQ(service_.list("cust-1", 0).error().field, "limit");
  EXPECT_EQ(service_.list("cust-1", 101).error().field, "limit");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(service_.send(request("order-" + std::to_string(i))));
  auto two = service_.list("cust-1", 2);
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2U);
  EXPECT_EQ((*two)[0].order_id, "order-2");
  EXPECT_EQ((*two)[1].order_id, "order-1");
}

TEST_F(NotificationServiceTest, ParallelRepeatsMailExactlyOnce) {
  std::vector<std::thread> threads;
  threads.reserve(20);
  for (int i = 0; i < 20; ++i)
    threads.emplace_back([this] { ASSERT_TRUE(service_.send(request("order-race"))); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mailer_.sent().size(), 1U);
}

TEST_F(NotificationServiceTest, SendingPublishesNotificationSentWithoutTheMessage) {
  constexpr const char* kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto r = service_.send(request("order-5", "order_cancelled"), kTrace);
  ASSERT_TRUE(r) << r.error().message;
  auto appended = db_.outbox();
  ASSERT_EQ(appended.size(), 1U);
  const auto& e = appended[0];
  EXPECT_EQ(e.type, "notification.sent");
  EXPECT_EQ(e.subject, "order-5") << "the order id, so one order's events stay in sequence";
  EXPECT_EQ(e.source, "/mercato/notification");
  EXPECT_EQ(e.traceparent, kTrace);
  EXPECT_EQ(events::schema_version(e), 1);
  auto data = boost::json::parse(e.data).as_object();
  std::set<std::string> keys;
  for (const auto& kv : data) keys.emplace(kv.key());
  // Exactly these: the message body may hold personal text and must not travel on the bus.
  EXPECT_EQ(keys,
            (std::set<std::string>{"notification_id", "order_id", "customer_id", "kind", "created_at"}));
  EXPECT_EQ(data.at("notification_id").as_string(), r->notification.id);
  EXPECT_EQ(data.at("order_id").as_string(), "order-5");
  EXPECT_EQ(data.at("customer_id").as_string(), "cust-1");
  EXPECT_EQ(data.at("kind").as_string(), "order_cancelled");
  EXPECT_EQ(data.at("created_at").as_string(), format_rfc3339(r->notification.created_at));
}

TEST_F(NotificationServiceTest, ARepeatedInvalidOrUndeliveredNotificationPublishesNothing) {
  ASSERT_TRUE(service_.send(request()));
  ASSERT_TRUE(service_.send(request()));  // the idempotent repeat
  auto bad = request("order-2");
  bad.kind = "order_shipped";
  ASSERT_FALSE(service_.send(bad));
  mailer_.fail = true;
  ASSERT_FALSE(service_.send(request("order-3")));
  EXPECT_EQ(db_.outbox().size(), 1U) << "only the first notification";
}

}  // namespace
}  // namespace mercato::notification
