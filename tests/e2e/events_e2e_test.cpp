// End to end over a real broker: placing an order through the order service publishes order.created
// through its outbox, and the payment, inventory and notification services' consumers each handle it
// exactly once; cancelling publishes order.cancelled and the customer gets one cancellation notice.
// Runs on NATS JetStream (the nats-server ./mercato test starts) and on Kafka (librdkafka's mock
// cluster, started here).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::ServiceProcess;

constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

class EventsE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    MERCATO_BROKER_URL_OR_SKIP(url, GetParam());
    url_ = url;
    dir_ = testing::temp_dir("events-" + GetParam());
    prefix_ = "e2e" + random_hex(5);
    std::map<std::string, std::string> bus{{"APP_EVENTS__URL", url_},
                                           {"APP_EVENTS__PREFIX", prefix_},
                                           {"APP_EVENTS__MAX_DELIVER", "2"},
                                           {"APP_EVENTS__RETRY_DELAY", "20ms"},
                                           {"APP_EVENTS__RELAY_POLL", "1h"}};  // only commits wake it
    // Participants set to choreography consume order.created too (orchestrated, only the notification
    // service would); the order service still orchestrates, so for these orders they only record it.
    auto participant_env = bus;
    participant_env["APP_SAGA__MODE"] = "choreography";
    user_ = std::make_unique<ServiceProcess>("user", dir_);
    inventory_ = std::make_unique<ServiceProcess>("inventory", dir_, participant_env);
    payment_ = std::make_unique<ServiceProcess>("payment", dir_, participant_env);
    notification_ = std::make_unique<ServiceProcess>("notification", dir_, bus);
    auto order_env = bus;
    order_env["APP_UPSTREAMS__USER"] = "127.0.0.1:" + std::to_string(user_->port);
    order_env["APP_UPSTREAMS__INVENTORY"] = "127.0.0.1:" + std::to_string(inventory_->port);
    order_ = std::make_unique<ServiceProcess>("order", dir_, order_env);
  }
  void TearDown() override {
    order_.reset();
    notification_.reset();
    payment_.reset();
    inventory_.reset();
    user_.reset();
    fs::remove_all(dir_);
  }

  static double wait_metric(ServiceProcess& service, const std::string& series, double value) {
    return testing::wait_metric(service.port, series, value);
  }

  std::string place_order() {
    auto user = testing::http(
        user_->port, "POST", "/users",
        R"({"email":"ev-)" + random_hex(6) + R"(@example.com","name":"Ev","password":"correct horse"})");
    EXPECT_EQ(user.status, 201) << user.body;
    customer_ = std::string(user.json().at("id").as_string());
    auto product = testing::http(inventory_->port, "PUT", "/inventory/ev-apple",
                                 R"({"name":"apple","price_cents":150,"available":10})");
    EXPECT_TRUE(product.status == 201 || product.status == 200) << product.body;
    auto placed =
        testing::http(order_->port, "POST", "/orders",
                      R"({"customer_id":")" + customer_ +
                          R"(","payment_token":"tok_visa","items":[{"product_id":"ev-apple","quantity":2}],)"
                          R"("shipping_address":)" +
                          kAddress + "}");
    EXPECT_EQ(placed.status, 201) << placed.body;
    return std::string(placed.json().at("id").as_string());
  }

  std::string url_;
  std::string prefix_;
  fs::path dir_;
  std::string customer_;
  std::unique_ptr<ServiceProcess> user_, inventory_, payment_, notification_, order_;
};

TEST_P(EventsE2E, OrderCreatedReachesEveryConsumerOnce) {
  for (auto* s : {user_.get(), inventory_.get(), payment_.get(), notification_.get(), order_.get()})
    ASSERT_TRUE(testing::wait_ready(s->port)) << s->name << ": " << s->process->log();
  place_order();
  const std::string handled = R"(mercato_events_handled_total{outcome="ok",type="order.created"})";
  EXPECT_EQ(wait_metric(*order_, R"(mercato_events_published_total{type="order.created"})", 1), 1);
  for (auto* consumer : {payment_.get(), inventory_.get(), notification_.get()}) {
    EXPECT_EQ(wait_metric(*consumer, handled, 1), 1) << consumer->name << " did not handle order.created";
  }
  // A second order is handled once more by each: the counters move by exactly one.
  place_order();
  for (auto* consumer : {payment_.get(), inventory_.get(), notification_.get()}) {
    EXPECT_EQ(wait_metric(*consumer, handled, 2), 2) << consumer->name;
  }
  // The saga goes on after order.created (its commands, each answer's next step), so at any moment a
  // row may wait for the relay's next round: what must hold is that none stays unsent.
  EXPECT_EQ(testing::wait_metric_down(order_->port, "mercato_events_outbox_unsent", 0, 10s), 0);
}

TEST_P(EventsE2E, CancellingAnOrderSendsOneCancellationNotice) {
  for (auto* s : {user_.get(), inventory_.get(), payment_.get(), notification_.get(), order_.get()})
    ASSERT_TRUE(testing::wait_ready(s->port)) << s->name << ": " << s->process->log();
  auto id = place_order();
  auto cancelled =
      testing::http(order_->port, "POST", "/orders/" + id + "/cancel", R"({"reason":"too slow"})");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  // Cancelling again changes nothing, so publishes nothing.
  ASSERT_EQ(testing::http(order_->port, "POST", "/orders/" + id + "/cancel").status, 200);
  EXPECT_EQ(
      wait_metric(*notification_, R"(mercato_events_handled_total{outcome="ok",type="order.cancelled"})", 1),
      1);
  auto listed = testing::http(notification_->port, "GET", "/notifications?customer_id=" + customer_);
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto body = listed.json();
  const auto& items = body.at("notifications").as_array();
  ASSERT_EQ(items.size(), 1u) << listed.body;
  EXPECT_EQ(items[0].at("kind").as_string(), "order_cancelled");
  EXPECT_EQ(items[0].at("order_id").as_string(), id);
  EXPECT_NE(std::string(items[0].at("message").as_string()).find("too slow"), std::string::npos);
  EXPECT_EQ(wait_metric(*order_, R"(mercato_events_published_total{type="order.cancelled"})", 1), 1);
}

// A poison event (order.cancelled without a customer) fails the notification handler max_deliver times
// and lands in the dead letters with the error; the admin endpoint lists it, a redrive that fails again
// keeps it (422) with one more attempt, and an unknown id is 404.
TEST_P(EventsE2E, APoisonEventBecomesADeadLetterThatCanBeRedriven) {
  ASSERT_TRUE(testing::wait_ready(notification_->port)) << notification_->process->log();
  auto transport = events::open_transport({.url = url_, .prefix = prefix_, .client_id = "e2e-test"});
  ASSERT_TRUE(transport) << transport.error().message;
  auto poison =
      events::make_event("order", "order.cancelled", "order-poison", R"({"order_id":"order-poison"})");
  ASSERT_TRUE((*transport)->publish(poison));
  EXPECT_EQ(wait_metric(*notification_, R"(mercato_events_dead_lettered_total{type="order.cancelled"})", 1),
            1);
  auto listed = testing::http(notification_->port, "GET", "/admin/dead-letters");
  ASSERT_EQ(listed.status, 200) << listed.body;
  auto body = listed.json();
  const auto& letters = body.at("dead_letters").as_array();
  ASSERT_EQ(letters.size(), 1u) << listed.body;
  const auto& letter = letters[0].as_object();
  EXPECT_EQ(letter.at("event").at("id").as_string(), poison.id);
  EXPECT_EQ(letter.at("consumer").as_string(), "notification");
  EXPECT_EQ(letter.at("attempts").as_int64(), 2);
  EXPECT_NE(std::string(letter.at("error").as_string()).find("customer_id"), std::string::npos)
      << listed.body;
  std::string id(letter.at("id").as_string());
  auto again = testing::http(notification_->port, "POST", "/admin/dead-letters/" + id + "/redrive");
  EXPECT_EQ(again.status, 422) << again.body;
  EXPECT_EQ(again.error_code(), "unprocessable");
  auto after = testing::http(notification_->port, "GET", "/admin/dead-letters").json();
  ASSERT_EQ(after.at("dead_letters").as_array().size(), 1u);
  EXPECT_EQ(after.at("dead_letters").as_array()[0].at("attempts").as_int64(), 3);
  EXPECT_EQ(testing::http(notification_->port, "POST", "/admin/dead-letters/nope/redrive").status, 404);
}

INSTANTIATE_TEST_SUITE_P(Transports, EventsE2E, ::testing::Values("nats", "kafka"),
                         [](const auto& test_info) { return test_info.param; });

}  // namespace
}  // namespace mercato
