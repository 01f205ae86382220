// End to end: overload is refused, not queued (ADR 0017). The real services over NATS JetStream and the
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
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::Process;
using testing::ServiceProcess;

constexpr int kLimit = 10;                                 // sagas allowed in flight
constexpr int kClients = 8;                                // concurrent clients...
constexpr int kOrdersPerClient = 8;                        // ...each placing this many: 64 offered in all
constexpr auto kOrderDeadline = std::chrono::seconds(60);  // saga.order_deadline

constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

class AdmissionE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    MERCATO_BROKER_URL_OR_SKIP(url, "nats");
    dir_ = testing::temp_dir("admission-" + random_hex(4));
    std::map<std::string, std::string> bus{{"APP_EVENTS__URL", url},
                                           {"APP_EVENTS__PREFIX", "adm" + random_hex(5)},
                                           {"APP_EVENTS__ACK_WAIT", "5s"}};
    user_ = std::make_unique<ServiceProcess>("user", dir_, bus);
    inventory_ = std::make_unique<ServiceProcess>("inventory", dir_, bus);
    payment_ = std::make_unique<ServiceProcess>("payment", dir_, bus);
    shipping_ = std::make_unique<ServiceProcess>("shipping", dir_, bus);
    notification_ = std::make_unique<ServiceProcess>("notification", dir_, bus);
    auto order_env = bus;
    order_env["APP_UPSTREAMS__USER"] = "127.0.0.1:" + std::to_string(user_->port);
    order_env["APP_UPSTREAMS__INVENTORY"] = "127.0.0.1:" + std::to_string(inventory_->port);
    order_env["APP_SAGA__STEP_TIMEOUT"] = "30s";  // the paused shipment must not time out meanwhile
    order_env["APP_SAGA__ORDER_DEADLINE"] = std::to_string(kOrderDeadline.count()) + "s";
    order_env["APP_ADMISSION__MIN_BACKLOG"] = std::to_string(kLimit);
    order_env["APP_ADMISSION__MAX_BACKLOG"] = std::to_string(kLimit);
    order_env["APP_ADMISSION__MAX_BACKLOG_TIME"] = "3s";
    order_ = std::make_unique<ServiceProcess>("order", dir_, order_env);
    gateway_port_ = testing::free_port();
    // No traffic policy: no per-customer rate limit stands between the clients and admission control.
    gateway_ = std::make_unique<Process>(
        testing::binary("gateway"), std::vector<std::string>{},
        std::map<std::string, std::string>{
            {"APP_SERVER__PORT", std::to_string(gateway_port_)},
            {"APP_LOG__LEVEL", "warn"},
            {"APP_GATEWAY__SERVICES__USER__UPSTREAM", "127.0.0.1:" + std::to_string(user_->port)},
            {"APP_GATEWAY__SERVICES__INVENTORY__UPSTREAM", "127.0.0.1:" + std::to_string(inventory_->port)},
            {"APP_GATEWAY__SERVICES__ORDER__UPSTREAM", "127.0.0.1:" + std::to_string(order_->port)}});
    for (auto* s :
         {user_.get(), inventory_.get(), payment_.get(), shipping_.get(), notification_.get(), order_.get()})
      ASSERT_TRUE(testing::wait_ready(s->port)) << s->name << ": " << s->process->log();
    ASSERT_TRUE(testing::wait_ready(gateway_port_)) << gateway_->log();
  }
  void TearDown() override {
    if (paused_) shipping_->process->signal(SIGCONT);  // so that it can stop
    gateway_.reset();
    order_.reset();
    notification_.reset();
    shipping_.reset();
    payment_.reset();
    inventory_.reset();
    user_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Through the gateway, or straight to the order service with `direct`.
  testing::HttpResult place(const std::string& customer, bool direct = false) {
    return testing::http(
        direct ? order_->port : gateway_port_, "POST", direct ? "/orders" : "/api/orders",
        R"({"customer_id":")" + customer +
            R"(","payment_token":"tok_visa","items":[{"product_id":"adm-mug","quantity":1}],)"
            R"("shipping_address":)" +
            kAddress + "}");
  }

  std::string logs() const {
    std::string out;
    for (const auto* s : {order_.get(), shipping_.get()}) out += s->name + ":\n" + s->process->log() + "\n";
    return out + "gateway:\n" + gateway_->log();
  }

  fs::path dir_;
  std::unique_ptr<ServiceProcess> user_, inventory_, payment_, shipping_, notification_, order_;
  std::unique_ptr<Process> gateway_;
  std::uint16_t gateway_port_ = 0;
  bool paused_ = false;
};

TEST_F(AdmissionE2E, TheExcessIsRefusedWithRetryAfterAndEveryAcceptedOrderIsConfirmedInTime) {
  auto user = testing::http(
      user_->port, "POST", "/users",
      R"({"email":"adm-)" + random_hex(6) + R"(@example.com","name":"Ann","password":"correct horse"})");
  ASSERT_EQ(user.status, 201) << user.body;
  std::string customer(user.json().at("id").as_string());
  auto stocked = testing::http(inventory_->port, "PUT", "/inventory/adm-mug",
                               R"({"name":"Mug","price_cents":1000,"available":1000})");
  ASSERT_TRUE(stocked.status == 200 || stocked.status == 201) << stocked.body;

  // No saga can finish from here on: each stops at its shipment.
  shipping_->process->signal(SIGSTOP);
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
  EXPECT_EQ(testing::metric(order_->port, R"(mercato_order_admissions_total{decision="refused"})"),
            static_cast<double>(refused.size()));
  EXPECT_EQ(testing::metric(order_->port, "mercato_order_saga_backlog"), kLimit);
  // The gateway keeps serving the order service: its circuit is closed and a read goes through.
  EXPECT_EQ(testing::metric(gateway_port_, R"(mercato_upstream_circuit_state{upstream="orders"})"), 0)
      << testing::http(gateway_port_, "GET", "/metrics").body;
  ASSERT_FALSE(accepted.empty());
  EXPECT_EQ(testing::http(gateway_port_, "GET", "/api/orders/" + accepted.front()).status, 200);

  // A restarted order service starts from the database's count: the backlog is still full. (Straight to
  // the service from here on: the gateway's pooled connection to the old process may be stale.)
  order_->process->signal(SIGTERM);
  ASSERT_TRUE(order_->process->wait(10s));
  order_->start();
  ASSERT_TRUE(testing::wait_ready(order_->port)) << order_->process->log();
  EXPECT_EQ(testing::metric(order_->port, "mercato_order_saga_backlog"), kLimit);
  auto after_restart = place(customer, true);
  EXPECT_EQ(after_restart.status, 503) << after_restart.body;

  // Shipping resumes: every accepted order is confirmed, within the order deadline of its placement.
  shipping_->process->signal(SIGCONT);
  paused_ = false;
  auto until = std::chrono::steady_clock::now() + 20s;
  for (const auto& id : accepted) {
    boost::json::object order;
    while (std::chrono::steady_clock::now() < until) {
      auto r = testing::http(order_->port, "GET", "/orders/" + id);
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
  EXPECT_EQ(testing::wait_metric(order_->port, "mercato_order_saga_backlog", 0), 0);
  auto again = place(customer, true);
  EXPECT_EQ(again.status, 201) << again.body;
}

}  // namespace
}  // namespace mercato
