// End to end: overload is refused, not queued (ADR 0018). The real services over NATS JetStream and the
// gateway; the shipping service is paused (SIGSTOP) so no saga can finish and the backlog builds
// deterministically, and the order service allows 10 sagas in flight (admission.min_backlog =
// max_backlog = 10, so the limit does not depend on any measured rate). Clients then offer far more
// orders than that, at once, through the gateway:
//   - exactly 10 are accepted; every other one gets 503 with Retry-After and the JSON error naming the
//     problem and its figures, passed through the gateway unchanged, and the gateway keeps serving the
//     order service (its circuit stays closed: a refusal is not a failure);
//   - a restarted order service starts from the database's count (still full: still refusing);
//   - once shipping resumes, every accepted order is confirmed, each within the saga's order deadline,
//     the backlog is back to 0 and a new order is accepted again.
// Nothing here is timed for speed: the counts are exact because nothing finishes while shipping is
// paused, and every wait is a bounded poll of a state.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "mercato/core/ids.hpp"
#include "mercato/core/time.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/openapi.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kLimit = 10;                                 // sagas allowed in flight
constexpr int kClients = 8;                                // concurrent clients...
constexpr int kOrdersPerClient = 8;                        // ...each placing this many: 64 offered in all
constexpr auto kOrderDeadline = std::chrono::seconds(60);  // saga.order_deadline

constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

// The whole system as separate processes (testing::System): shipping must be paused on its own.
class AdmissionE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    MERCATO_BROKER_URL_OR_SKIP(url, "nats");
    dir_ = testing::temp_dir("admission-" + random_hex(4));
    testing::SystemSettings settings{.broker_url = url};
    settings.common = {{"APP_EVENTS__PREFIX", "adm" + random_hex(5)}, {"APP_EVENTS__ACK_WAIT", "5s"}};
    settings.per_service["order"] = {
        {"APP_SAGA__STEP_TIMEOUT", "30s"},  // the paused shipment must not time out meanwhile
        {"APP_SAGA__ORDER_DEADLINE", std::to_string(kOrderDeadline.count()) + "s"},
        {"APP_ADMISSION__MIN_BACKLOG", std::to_string(kLimit)},
        {"APP_ADMISSION__MAX_BACKLOG", std::to_string(kLimit)},
        {"APP_ADMISSION__MAX_BACKLOG_TIME", "3s"}};
    // The gateway has no traffic policy there: no per-customer rate limit stands between the clients and
    // admission control.
    system_ = std::make_unique<testing::System>(dir_, std::move(settings));
    order_port_ = system_->port("order");
    gateway_port_ = system_->port("gateway");
  }
  void TearDown() override {
    if (paused_) system_->process_of("shipping").resume();  // so that it can stop
    system_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Through the gateway, or straight to the order service with `direct`.
  testing::HttpResult place(const std::string& customer, bool direct = false) {
    return testing::http(
        direct ? order_port_ : gateway_port_, "POST", direct ? "/orders" : "/api/orders",
        R"({"customer_id":")" + customer +
            R"(","payment_token":"tok_visa","items":[{"product_id":"adm-mug","quantity":1}],)"
            R"("shipping_address":)" +
            kAddress + "}");
  }

  std::string logs() const { return system_->logs(); }

  fs::path dir_;
  std::unique_ptr<testing::System> system_;
  std::uint16_t order_port_ = 0, gateway_port_ = 0;
  bool paused_ = false;
};

TEST_F(AdmissionE2E, TheExcessIsRefusedWithRetryAfterAndEveryAcceptedOrderIsConfirmedInTime) {
  auto user = testing::http(
      system_->port("user"), "POST", "/users",
      R"({"email":"adm-)" + random_hex(6) + R"(@example.com","name":"Ann","password":"correct horse"})");
  ASSERT_EQ(user.status, 201) << user.body;
  std::string customer(user.json().at("id").as_string());
  auto stocked = testing::http(system_->port("inventory"), "PUT", "/inventory/adm-mug",
                               R"({"name":"Mug","price_cents":1000,"available":1000})");
  ASSERT_TRUE(stocked.status == 200 || stocked.status == 201) << stocked.body;

  // No saga can finish from here on: each stops at its shipment.
  ASSERT_TRUE(system_->process_of("shipping").pause()) << "the shipping service did not stop";
  paused_ = true;

  std::mutex mutex;
  std::vector<std::string> accepted;
  std::vector<testing::HttpResult> refused, other;
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < kOrdersPerClient; ++i) {
        auto r = place(customer);
        std::lock_guard lock(mutex);
        if (r.status == 201) {
          accepted.emplace_back(r.json().at("id").as_string());
        } else if (r.status == 503) {
          refused.push_back(std::move(r));
        } else {
          other.push_back(std::move(r));
        }
      }
    });
  }
  for (auto& t : clients) t.join();

  ASSERT_TRUE(other.empty()) << other.front().status << " " << other.front().body << "\n" << logs();
  EXPECT_EQ(static_cast<int>(accepted.size()), kLimit);
  ASSERT_EQ(static_cast<int>(refused.size()), kClients * kOrdersPerClient - kLimit);
  for (const auto& r : refused) {
    // The order service's answer, through the gateway unchanged: the header, the code, the figures.
    auto retry_after = r.header("retry-after");
    ASSERT_FALSE(retry_after.empty()) << r.body;
    EXPECT_GE(std::stoi(retry_after), 1);
    EXPECT_LE(std::stoi(retry_after), 3) << "at most max_backlog_time";
    EXPECT_EQ(r.error_code(), "unavailable") << r.body;
    EXPECT_EQ(testing::check_contract("POST", "/orders", r), "") << r.body;
    auto body = r.json().as_object();
    EXPECT_NE(std::string(body.at("error").at("message").as_string()).find("overloaded"), std::string::npos)
        << r.body;
    ASSERT_TRUE(body.contains("admission")) << "not the order service's refusal: " << r.body;
    EXPECT_EQ(body.at("admission").at("limit").as_int64(), kLimit) << r.body;
    EXPECT_EQ(body.at("admission").at("backlog").as_int64(), kLimit) << r.body;
    EXPECT_EQ(body.at("admission").at("retry_after_seconds").as_int64(), std::stoi(retry_after));
  }
  EXPECT_EQ(testing::metric(order_port_, R"(mercato_order_admissions_total{decision="refused"})"),
            static_cast<double>(refused.size()));
  EXPECT_EQ(testing::metric(order_port_, "mercato_order_saga_backlog"), kLimit);
  // The gateway keeps serving the order service: its circuit is closed and a read goes through.
  EXPECT_EQ(testing::metric(gateway_port_, R"(mercato_upstream_circuit_state{upstream="orders"})"), 0)
      << testing::http(gateway_port_, "GET", "/metrics").body;
  ASSERT_FALSE(accepted.empty());
  EXPECT_EQ(testing::http(gateway_port_, "GET", "/api/orders/" + accepted.front()).status, 200);

  // A restarted order service starts from the database's count: the backlog is still full. (Straight to
  // the service from here on: the gateway's pooled connection to the old process may be stale.)
  auto& order_process = system_->process_of("order");
  order_process.signal(SIGTERM);
  ASSERT_TRUE(order_process.wait(10s));
  system_->restart("order");
  EXPECT_EQ(testing::metric(order_port_, "mercato_order_saga_backlog"), kLimit);
  auto after_restart = place(customer, true);
  EXPECT_EQ(after_restart.status, 503) << after_restart.body;

  // Shipping resumes: every accepted order is confirmed, within the order deadline of its placement.
  system_->process_of("shipping").resume();
  paused_ = false;
  auto until = std::chrono::steady_clock::now() + 20s;
  for (const auto& id : accepted) {
    boost::json::object order;
    while (std::chrono::steady_clock::now() < until) {
      auto r = testing::http(order_port_, "GET", "/orders/" + id);
      if (r.status == 200) order = r.json().as_object();
      if (!order.empty() && order.at("status") != "pending") break;
      std::this_thread::sleep_for(50ms);  // a poll of the order's status, bounded by `until`
    }
    ASSERT_EQ(order.at("status"), "confirmed") << boost::json::serialize(order) << "\n" << logs();
    auto placed = parse_rfc3339(std::string(order.at("created_at").as_string()));
    auto confirmed = parse_rfc3339(std::string(order.at("updated_at").as_string()));
    ASSERT_TRUE(placed && confirmed);
    EXPECT_LT(*confirmed - *placed, kOrderDeadline) << id;
  }
  EXPECT_EQ(testing::wait_metric(order_port_, "mercato_order_saga_backlog", 0), 0);
  auto again = place(customer, true);
  EXPECT_EQ(again.status, 201) << again.body;
}

}  // namespace
}  // namespace mercato
