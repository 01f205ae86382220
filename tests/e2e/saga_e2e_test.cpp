// The order saga end to end over NATS JetStream, in both coordination styles (saga.mode orchestration
// and choreography, the same tests): the real user, inventory, payment, shipping, notification and
// order services, each with its own database. Placing an order reserves, charges, ships, commits and
// confirms it; a failing step compensates the done ones (in reverse order when orchestrated, all at
// once on order.cancelled when choreographed); the stock, the money and the notifications add up
// afterwards. The flows (SagaE2E) also run against the monolith (docs/topologies.md): the same modules in
// one process, their events through its in-process broker; what kills or restarts one participant
// (SagaKillE2E, the fault fixtures) needs separate processes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include "mercato/core/ids.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/openapi.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::ServiceProcess;

constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";
constexpr const char* kUnservedAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Reykjavik","postal_code":"101","country":"IS"})";

class SagaE2E : public ::testing::TestWithParam<std::string> {
 protected:
  virtual std::string step_timeout() const { return "20s"; }
  virtual std::string order_deadline() const { return "15m"; }
  virtual std::map<std::string, std::string> order_settings() const { return {}; }
  // The parameter: the saga mode, then (the fault matrix) "/" and the participant at fault, or (the
  // topologies) "@monolith" for the same services as the modules of one process, or (the transports)
  // "@http" for the order service's calls to users and inventory over HTTP instead of gRPC.
  std::string mode() const { return GetParam().substr(0, GetParam().find_first_of("/@")); }
  std::string participant() const {
    auto slash = GetParam().find('/');
    return slash == std::string::npos ? std::string() : GetParam().substr(slash + 1);
  }
  bool monolith() const { return GetParam().ends_with("@monolith"); }
  bool over_http() const { return GetParam().ends_with("@http"); }
  std::map<std::string, std::string> transport_settings() const {
    if (!over_http()) return {};
    return {{"APP_ORDER__USER__TRANSPORT", "http"}, {"APP_ORDER__INVENTORY__TRANSPORT", "http"}};
  }
  std::uint16_t port(const std::string& service) const {
    if (system_) return system_->port(service);
    for (const auto* s : {user_.get(), inventory_.get(), payment_.get(), shipping_.get(), notification_.get(),
                          order_.get()}) {
      if (s != nullptr && s->name == service) return s->port;
    }
    ADD_FAILURE() << "no service " << service;
    return 0;
  }
  bool choreography() const { return mode() == "choreography"; }
  // The event a participant undoes or does its step on: the command (orchestration) or the order's or
  // the previous participant's event (choreography).
  std::string release_trigger() const {
    return choreography() ? "order.cancelled" : "inventory.release_requested";
  }
  std::string ship_trigger() const {
    return choreography() ? "payment.processed" : "shipment.create_requested";
  }
  void SetUp() override {
    if (monolith()) {
      set_up_monolith();
    } else {
      set_up_processes();
    }
    if (HasFatalFailure() || IsSkipped()) return;
    auto user = testing::http(
        port("user"), "POST", "/users",
        R"({"email":"saga-)" + random_hex(6) + R"(@example.com","name":"Ann","password":"correct horse"})");
    ASSERT_EQ(user.status, 201) << user.body;
    customer_ = std::string(user.json().at("id").as_string());
  }
  // The same services and settings as modules of one process, their events in process.
  void set_up_monolith() {
    dir_ = testing::temp_dir("saga-" + random_hex(4));
    testing::SystemSettings settings{
        .topology = testing::Topology::kMonolith,
        .services = {"user", "inventory", "payment", "shipping", "notification", "order"}};
    settings.per_service["shipping"]["APP_SHIPPING__UNSERVED_COUNTRIES"] = "IS";
    // The participants subscribe by the same key (mercato/service/saga.hpp).
    for (const char* participant : {"inventory", "payment", "shipping"})
      settings.per_service[participant]["APP_SAGA__MODE"] = mode();
    auto& order = settings.per_service["order"];
    order["APP_SAGA__STEP_TIMEOUT"] = step_timeout();
    // Admission control's limit must stay below the step timeout (ADR 0018); these tests place far
    // fewer orders than its floor, so it never refuses here.
    order["APP_ADMISSION__MAX_BACKLOG_TIME"] = "500ms";
    order["APP_SAGA__MODE"] = mode();
    order["APP_SAGA__ORDER_DEADLINE"] = order_deadline();
    for (const auto& [key, value] : order_settings()) order[key] = value;
    for (const auto& [key, value] : transport_settings()) order[key] = value;
    system_ = std::make_unique<testing::System>(dir_, std::move(settings));
  }
  void set_up_processes() {
    MERCATO_BROKER_URL_OR_SKIP(url, "nats");
    dir_ = testing::temp_dir("saga-" + random_hex(4));
    // ack_wait: what a killed participant held unacknowledged comes back after it. The default 30 s made
    // each kill of the mixed run wait that long (about 50 s a run); handlers here take milliseconds, so
    // 5 s never redelivers to a live consumer, and redelivery after a kill is still what is tested.
    std::map<std::string, std::string> bus{{"APP_EVENTS__URL", url},
                                           {"APP_EVENTS__PREFIX", "saga" + random_hex(5)},
                                           {"APP_EVENTS__ACK_WAIT", "5s"}};
    user_ = std::make_unique<ServiceProcess>("user", dir_, bus);
    // The participants subscribe by the order service's saga.mode (mercato/service/saga.hpp).
    auto participant_env = bus;
    participant_env["APP_SAGA__MODE"] = mode();
    inventory_ = std::make_unique<ServiceProcess>("inventory", dir_, participant_env);
    payment_ = std::make_unique<ServiceProcess>("payment", dir_, participant_env);
    auto shipping_env = participant_env;
    shipping_env["APP_SHIPPING__UNSERVED_COUNTRIES"] = "IS";
    shipping_ = std::make_unique<ServiceProcess>("shipping", dir_, shipping_env);
    notification_ = std::make_unique<ServiceProcess>("notification", dir_, bus);
    auto order_env = bus;
    order_env["APP_UPSTREAMS__USER"] = "127.0.0.1:" + std::to_string(port("user"));
    order_env["APP_UPSTREAMS__INVENTORY"] = "127.0.0.1:" + std::to_string(port("inventory"));
    order_env["APP_SAGA__STEP_TIMEOUT"] = step_timeout();
    order_env["APP_ADMISSION__MAX_BACKLOG_TIME"] = "500ms";  // below the step timeout, as above
    order_env["APP_SAGA__MODE"] = mode();
    order_env["APP_SAGA__ORDER_DEADLINE"] = order_deadline();
    for (const auto& [key, value] : order_settings()) order_env[key] = value;
    for (const auto& [key, value] : transport_settings()) order_env[key] = value;
    order_ = std::make_unique<ServiceProcess>("order", dir_, order_env);
    for (auto* s :
         {user_.get(), inventory_.get(), payment_.get(), shipping_.get(), notification_.get(), order_.get()})
      ASSERT_TRUE(testing::wait_ready(s->port)) << s->name << ": " << s->process->log();
  }
  void TearDown() override {
    system_.reset();
    order_.reset();
    notification_.reset();
    shipping_.reset();
    payment_.reset();
    inventory_.reset();
    user_.reset();
    fs::remove_all(dir_);
  }

  void stock(const std::string& product, std::int64_t available) {
    auto r =
        testing::http(port("inventory"), "PUT", "/inventory/" + product,
                      R"({"name":"x","price_cents":1000,"available":)" + std::to_string(available) + "}");
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }

  std::string place(const std::string& product, int quantity, const std::string& token = "tok_visa",
                    const std::string& address = kAddress) {
    auto r = testing::http(port("order"), "POST", "/orders",
                           R"({"customer_id":")" + customer_ + R"(","payment_token":")" + token +
                               R"(","items":[{"product_id":")" + product + R"(","quantity":)" +
                               std::to_string(quantity) + R"(}],"shipping_address":)" + address + "}");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? std::string(r.json().at("id").as_string()) : std::string();
  }

  // Waits (bounded) until the order has `status`; returns whether it did.
  bool wait_status(const std::string& id, const std::string& status,
                   std::chrono::milliseconds timeout = 30s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = testing::http(port("order"), "GET", "/orders/" + id);
      if (r.status == 200 && r.json().at("status") == status.c_str()) return true;
      std::this_thread::sleep_for(50ms);  // a poll of the order's status, bounded by the deadline
    }
    return false;
  }

  // Waits (bounded) until the order leaves pending/pending_payment; returns the final order.
  boost::json::object settled(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    boost::json::object order;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = testing::http(port("order"), "GET", "/orders/" + id);
      if (r.status == 200) {
        order = r.json().as_object();
        auto status = std::string(order.at("status").as_string());
        auto saga = testing::http(port("order"), "GET", "/orders/" + id + "/saga");
        bool finished = saga.status == 200 &&
                        (saga.json().at("state") == "completed" || saga.json().at("state") == "compensated");
        if ((status == "confirmed" || status == "cancelled") && finished) return order;
      }
      std::this_thread::sleep_for(50ms);  // a poll of the order's status, bounded by the deadline
    }
    ADD_FAILURE() << "order " << id << " did not settle: " << boost::json::serialize(order) << "\n"
                  << testing::http(port("order"), "GET", "/orders/" + id + "/saga").body;
    return order;
  }

  boost::json::object product(const std::string& id) {
    return testing::http(port("inventory"), "GET", "/inventory/" + id).json().as_object();
  }

  std::vector<std::string> timeline(const std::string& id) {
    auto saga = testing::http(port("order"), "GET", "/orders/" + id + "/saga");
    EXPECT_EQ(testing::check_contract("GET", "/orders/" + id + "/saga", saga), "");
    std::vector<std::string> out;
    auto body = saga.json();  // named: the loop below must not walk a destroyed temporary
    for (const auto& e : body.at("timeline").as_array())
      out.push_back(std::string(e.at("step").as_string()) + ":" + std::string(e.at("status").as_string()));
    return out;
  }

  // Choreographed compensations run at once, in no set order: each of them started and succeeded.
  void expect_compensated_at_once(const std::vector<std::string>& steps) {
    for (const char* c : {"cancel_shipment", "refund", "release"}) {
      for (const char* status : {":started", ":succeeded"}) {
        EXPECT_NE(std::find(steps.begin(), steps.end(), std::string(c) + status), steps.end())
            << c << status << " missing";
      }
    }
  }

  std::size_t notifications(const std::string& kind) {
    auto r = testing::http(port("notification"), "GET", "/notifications?customer_id=" + customer_);
    std::size_t n = 0;
    auto body = r.json();
    for (const auto& item : body.at("notifications").as_array()) n += item.at("kind") == kind.c_str();
    return n;
  }

  // `./mercato check` against these services: its exit status and report.
  std::pair<int, std::string> run_check(const std::string& name) {
    std::map<std::string, std::string> env{
        {"MERCATO_ORDER_PORT", std::to_string(port("order"))},
        {"MERCATO_INVENTORY_PORT", std::to_string(port("inventory"))},
        {"MERCATO_PAYMENT_PORT", std::to_string(port("payment"))},
        {"MERCATO_SHIPPING_PORT", std::to_string(port("shipping"))},
        {"MERCATO_NOTIFICATION_PORT", std::to_string(port("notification"))},
        // The checker reads every order as an admin.
        {"MERCATO_ADMIN_TOKEN", testing::TestTokens::instance().token(auth::Role::kAdmin, "checker")}};
    testing::Process p(testing::source_dir() + "/mercato", {"check"}, env, (dir_ / (name + ".log")).string());
    auto status = p.wait(120s);
    return {status.value_or(-1), p.log()};
  }

  // The checker passes, at once or once the last effects (a commit after a choreographed confirmation, a
  // confirmation notification) have landed: repeated until it does, bounded.
  void expect_check_passes(std::chrono::seconds within = 30s) {
    auto deadline = std::chrono::steady_clock::now() + within;
    auto [status, report] = run_check("check-0");
    for (int round = 1; status != 0 && std::chrono::steady_clock::now() < deadline; ++round) {
      std::this_thread::sleep_for(200ms);  // bounded by the deadline
      std::tie(status, report) = run_check("check-" + std::to_string(round));
    }
    EXPECT_EQ(status, 0) << report;
    EXPECT_NE(report.find("check: PASSED"), std::string::npos) << report;
  }

  // Restarts `s` so that the first delivery of each of `types` fails (MERCATO_EVENTS_FAIL) and comes
  // again after `retry`: the saga is held at that participant's step for that long.
  void hold(ServiceProcess& s, const std::vector<std::string>& types, const std::string& retry = "3s") {
    s.process->signal(SIGKILL);
    ASSERT_TRUE(s.process->wait(10s));
    std::string spec;
    for (const auto& t : types) spec += (spec.empty() ? "" : ",") + t + ":1";
    s.env["MERCATO_EVENTS_FAIL"] = spec;
    s.env["APP_EVENTS__RETRY_DELAY"] = retry;
    s.start();
    ASSERT_TRUE(testing::wait_ready(s.port)) << s.process->log();
  }
  // Waits (bounded) until `s` has logged the injected failure of `type`: the saga is held there now.
  bool held_at(ServiceProcess& s, const std::string& type, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (s.process->log().find("injected failure (MERCATO_EVENTS_FAIL) of " + type) != std::string::npos)
        return true;
      std::this_thread::sleep_for(20ms);  // a poll of the log, bounded by the deadline
    }
    return false;
  }

  // The service whose step the fault matrix breaks.
  ServiceProcess& victim() {
    auto name = participant();
    if (name == "inventory") return *inventory_;
    if (name == "payment") return *payment_;
    if (name == "shipping") return *shipping_;
    return *notification_;
  }
  // The events the victim does its step on: the command (orchestration), or the events it acts on
  // (choreography: payment and shipping act on whichever of their two events comes second).
  std::vector<std::string> step_triggers() const {
    auto name = participant();
    if (name == "notification") return {"order.confirmed"};
    if (!choreography()) {
      if (name == "inventory") return {"inventory.reserve_requested"};
      if (name == "payment") return {"payment.charge_requested"};
      return {"shipment.create_requested"};
    }
    if (name == "inventory") return {"order.created"};
    if (name == "payment") return {"order.created", "inventory.reserved"};
    return {"order.created", "payment.processed"};
  }
  // Restarts the victim with `env` changed (a value of "" removes the variable).
  void restart_victim(const std::map<std::string, std::string>& env) {
    auto& v = victim();
    if (v.process->running()) {
      v.process->signal(SIGKILL);
      ASSERT_TRUE(v.process->wait(10s));
    }
    for (const auto& [key, value] : env) {
      if (value.empty()) {
        v.env.erase(key);
      } else {
        v.env[key] = value;
      }
    }
    v.start();
    ASSERT_TRUE(testing::wait_ready(v.port)) << v.name << ": " << v.process->log();
  }

  fs::path dir_;
  std::string customer_;
  std::unique_ptr<ServiceProcess> user_, inventory_, payment_, shipping_, notification_, order_;
  std::unique_ptr<testing::System> system_;  // the monolith (the separate processes are the members above)
};

// Participants killed, held at a step or restarted (separate processes only).
class SagaKillE2E : public SagaE2E {};

TEST_P(SagaE2E, AnOrderIsReservedChargedShippedCommittedAndConfirmed) {
  stock("saga-mug", 5);
  auto id = place("saga-mug", 2);
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "confirmed") << boost::json::serialize(order);
  std::vector<std::string> expected{"reserve:started",  "reserve:succeeded", "charge:started",
                                    "charge:succeeded", "ship:started",      "ship:succeeded",
                                    "commit:started",   "commit:succeeded"};
  auto steps = timeline(id);
  if (choreography()) {
    // Each participant publishes on its own topic: the order service may hear a charge before the
    // reservation that led to it, and then records the reservation's successor as done already.
    EXPECT_EQ(steps.back(), "commit:succeeded");
    for (const char* step : {"reserve:succeeded", "charge:succeeded", "ship:succeeded", "commit:started"})
      EXPECT_EQ(std::count(steps.begin(), steps.end(), step), 1) << step;
  } else {
    EXPECT_EQ(steps, expected);
  }
  auto mug = product("saga-mug");
  EXPECT_EQ(mug.at("available").as_int64(), 3);
  EXPECT_EQ(mug.at("reserved").as_int64(), 0);
  EXPECT_EQ(mug.at("sold").as_int64(), 2);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (notifications("order_confirmed") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);  // the notification follows order.confirmed; bounded
  EXPECT_EQ(notifications("order_confirmed"), 1u);
}

TEST_P(SagaE2E, OutOfStockCancelsTheOrderAndTouchesNothing) {
  stock("saga-rare", 1);
  auto id = place("saga-rare", 2);
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled");
  EXPECT_NE(std::string(order.at("reason").as_string()).find("reserve failed"), std::string::npos);
  EXPECT_EQ(product("saga-rare").at("available").as_int64(), 1);
}

TEST_P(SagaE2E, ADeclinedCardReleasesTheStock) {
  stock("saga-cup", 4);
  auto id = place("saga-cup", 3, "tok_chargeDeclined");
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled");
  if (choreography()) {
    expect_compensated_at_once(timeline(id));
  } else {
    EXPECT_EQ(timeline(id).back(), "release:succeeded");
  }
  auto cup = product("saga-cup");
  EXPECT_EQ(cup.at("available").as_int64(), 4);
  EXPECT_EQ(cup.at("reserved").as_int64(), 0);
}

TEST_P(SagaE2E, AShipmentThatCannotBeMadeRefundsAndReleasesInReverseOrder) {
  stock("saga-pot", 2);
  auto id = place("saga-pot", 1, "tok_visa", kUnservedAddress);
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled");
  auto steps = timeline(id);
  if (choreography()) {
    expect_compensated_at_once(steps);
  } else {
    ASSERT_GE(steps.size(), 4u);
    EXPECT_EQ(std::vector<std::string>(steps.end() - 4, steps.end()),
              (std::vector<std::string>{"refund:started", "refund:succeeded", "release:started",
                                        "release:succeeded"}));
  }
  EXPECT_EQ(product("saga-pot").at("available").as_int64(), 2);
  auto payments = testing::http(port("payment"), "GET", "/payments?order_id=" + id);
  ASSERT_EQ(payments.status, 200) << payments.body;
  EXPECT_NE(payments.body.find("\"refunded\""), std::string::npos) << payments.body;
}

// `./mercato check` against these services: it passes after the saga's outcomes above, and catches
// stock held that no order explains.
TEST_P(SagaE2E, TheInvariantCheckerPassesAndCatchesStockNoOrderExplains) {
  stock("check-mug", 5);
  auto ok = place("check-mug", 2);
  auto declined = place("check-mug", 1, "tok_chargeDeclined");
  settled(ok);
  settled(declined);
  auto check = [&](const std::string& name) { return run_check(name); };
  auto deadline = std::chrono::steady_clock::now() + 20s;
  auto [status, report] = check("check-1");
  while (status != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);  // the confirmation notification may trail the order; bounded
    std::tie(status, report) = check("check-n");
  }
  EXPECT_EQ(status, 0) << report;
  EXPECT_NE(report.find("check: PASSED"), std::string::npos) << report;
  EXPECT_NE(report.find("1 confirmed, 1 cancelled"), std::string::npos) << report;
  auto ghost =
      testing::http(port("inventory"), "POST", "/inventory/reservations",
                    R"({"order_id":"no-such-order","items":[{"product_id":"check-mug","quantity":1}]})");
  ASSERT_EQ(ghost.status, 201) << ghost.body;
  std::tie(status, report) = check("check-ghost");
  EXPECT_EQ(status, 1) << report;
  EXPECT_NE(report.find("product check-mug: reserved 1, the orders hold 0"), std::string::npos) << report;
}

// The mixed run: 500 orders from four clients with random products, quantities, declined cards and
// unservable addresses, stock running out, while participants and the order service are killed with
// SIGKILL and restarted. Afterwards every order settles, the stock adds up and `./mercato check` passes.
TEST_P(SagaKillE2E, AMixedRunWithKillsEndsWithEveryInvariantHolding) {
  constexpr int kOrders = 500, kClients = 4, kProducts = 5;
  constexpr std::int64_t kInitial = 150;
  for (int p = 0; p < kProducts; ++p) stock("mix-" + std::to_string(p), kInitial);
  std::atomic<int> next{0}, placed{0};
  std::mutex ids_mutex;
  std::vector<std::string> ids;
  auto client = [&](unsigned seed) {
    std::mt19937 rng(seed);
    for (int n = next++; n < kOrders; n = next++) {
      auto product = "mix-" + std::to_string(rng() % kProducts);
      int quantity = 1 + static_cast<int>(rng() % 3);
      std::string token = rng() % 10 == 0 ? "tok_chargeDeclined" : "tok_visa";
      std::string address = rng() % 20 == 0 ? kUnservedAddress : kAddress;
      // The order service may be down (killed, restarting): try again, bounded.
      for (int attempt = 0; attempt < 200; ++attempt) {
        auto r = testing::http(port("order"), "POST", "/orders",
                               R"({"customer_id":")" + customer_ + R"(","payment_token":")" + token +
                                   R"(","items":[{"product_id":")" + product + R"(","quantity":)" +
                                   std::to_string(quantity) + R"(}],"shipping_address":)" + address + "}");
        if (r.status == 201) {
          std::lock_guard lock(ids_mutex);
          ids.emplace_back(r.json().at("id").as_string());
          ++placed;
          break;
        }
        std::this_thread::sleep_for(50ms);  // back off while the service restarts; bounded by the count
      }
    }
  };
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) clients.emplace_back(client, 1000u + static_cast<unsigned>(c));
  // The kills, spread over the run: each waits until that many orders were placed (bounded).
  auto kill_at = [&](int orders, ServiceProcess& victim) {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (placed < orders && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    victim.process->signal(SIGKILL);
    ASSERT_TRUE(victim.process->wait(10s));
    victim.start();
    ASSERT_TRUE(testing::wait_ready(victim.port, 20s)) << victim.name << ": " << victim.process->log();
  };
  kill_at(100, *inventory_);
  kill_at(200, *payment_);
  kill_at(280, *order_);
  kill_at(360, *shipping_);
  kill_at(430, *notification_);
  for (auto& t : clients) t.join();
  ASSERT_EQ(placed.load(), kOrders);

  // Every order settles (bounded).
  std::map<std::string, int> by_status;
  std::map<std::string, std::string> truth;  // order id → status, from the write side
  auto deadline = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    by_status.clear();
    truth.clear();
    std::vector<std::string> unsettled;
    for (int page = 1;; ++page) {
      auto r = testing::http(port("order"), "GET", "/admin/orders?limit=1000&page=" + std::to_string(page));
      ASSERT_EQ(r.status, 200) << r.body;
      auto body = r.json();
      for (const auto& o : body.at("orders").as_array()) {
        auto status = std::string(o.at("status").as_string());
        ++by_status[status];
        truth[std::string(o.at("id").as_string())] = status;
        if (status == "pending" || status == "pending_payment")
          unsettled.emplace_back(o.at("id").as_string());
      }
      if (!body.at("has_more").as_bool()) break;
    }
    if (unsettled.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      // What is stuck, and what every service dead-lettered, to tell why.
      std::string why;
      for (std::size_t i = 0; i < std::min<std::size_t>(unsettled.size(), 2); ++i)
        why += testing::http(port("order"), "GET", "/orders/" + unsettled[i] + "/saga").body + "\n";
      for (auto* s : {inventory_.get(), payment_.get(), shipping_.get(), notification_.get(), order_.get()})
        why += s->name +
               " dead letters: " + testing::http(s->port, "GET", "/admin/dead-letters").body.substr(0, 1500) +
               "\n";
      FAIL() << by_status["pending"] << " pending, " << by_status["pending_payment"] << " pending_payment\n"
             << why;
    }
    std::this_thread::sleep_for(200ms);  // a poll of the orders' statuses, bounded by the deadline
  }
  EXPECT_GT(by_status["confirmed"], 0);
  EXPECT_GT(by_status["cancelled"], 0);
  // Stock adds up: nothing created or lost. A choreographed order is confirmed before inventory commits
  // its stock (on order.confirmed), so the last commits may trail the statuses: awaited, bounded.
  auto held = [&] {
    std::int64_t reserved = 0;
    for (int p = 0; p < kProducts; ++p)
      reserved += product("mix-" + std::to_string(p)).at("reserved").as_int64();
    return reserved;
  };
  auto stock_deadline = std::chrono::steady_clock::now() + 60s;
  while (held() != 0 && std::chrono::steady_clock::now() < stock_deadline)
    std::this_thread::sleep_for(200ms);  // a poll of the stock, bounded by the deadline
  for (int p = 0; p < kProducts; ++p) {
    auto product_json = product("mix-" + std::to_string(p));
    EXPECT_EQ(product_json.at("available").as_int64() + product_json.at("reserved").as_int64() +
                  product_json.at("sold").as_int64(),
              kInitial)
        << boost::json::serialize(product_json);
    EXPECT_EQ(product_json.at("reserved").as_int64(), 0) << "stock still held after every order settled";
  }
  // Confirmation notifications trail the orders: the check is repeated until it passes (bounded).
  expect_check_passes(60s);
  // The read model, projected by an order service that was killed mid-run, matches the streams: every
  // order once, with the status the write side gives it (the projector may trail: awaited, bounded).
  std::map<std::string, std::string> listed;
  auto list_deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    listed.clear();
    std::size_t rows = 0;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      auto r = testing::http(
          port("order"), "GET",
          "/orders?customer_id=" + customer_ + "&limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
      ASSERT_EQ(r.status, 200) << r.body;
      auto body = r.json();
      for (const auto& o : body.at("orders").as_array()) {
        listed[std::string(o.at("id").as_string())] = std::string(o.at("status").as_string());
        ++rows;
      }
      if (body.at("next_cursor").is_null()) break;
      cursor = std::string(body.at("next_cursor").as_string());
    }
    ASSERT_EQ(rows, listed.size()) << "an order is listed twice";
    if (listed == truth || std::chrono::steady_clock::now() >= list_deadline) break;
    std::this_thread::sleep_for(100ms);  // a poll of the read model, bounded by the deadline
  }
  EXPECT_EQ(listed, truth) << "the order list (read model) does not match the orders";
}

// Faults: the same system with a short step timeout, and participants stopped and restarted.
class SagaFaultE2E : public SagaE2E {
 protected:
  std::string step_timeout() const override { return "1s"; }
};

// "orchestration@monolith" → "orchestration_monolith" (a test name allows only letters, digits and _).
std::string mode_name(const ::testing::TestParamInfo<std::string>& param) {
  auto name = param.param;
  std::replace(name.begin(), name.end(), '@', '_');
  return name;
}

// The end-to-end flows in both topologies and over both transports of the order service's calls (gRPC,
// the default, and HTTP); what stops or restarts one participant (SagaKillE2E and the fault fixtures)
// needs separate processes: a module cannot crash alone.
INSTANTIATE_TEST_SUITE_P(Modes, SagaE2E,
                         ::testing::Values("orchestration", "choreography", "orchestration@monolith",
                                           "choreography@monolith", "orchestration@http",
                                           "choreography@http"),
                         mode_name);
INSTANTIATE_TEST_SUITE_P(Modes, SagaKillE2E, ::testing::Values("orchestration", "choreography"));
INSTANTIATE_TEST_SUITE_P(Modes, SagaFaultE2E, ::testing::Values("orchestration", "choreography"));

// The article's fallback: with the payment service down the order waits in pending_payment, its charge
// queued in the broker; when the service is back the saga goes on and the order is confirmed.
TEST_P(SagaFaultE2E, AnOrderWaitsInPendingPaymentWhileThePaymentServiceIsDown) {
  stock("fault-mug", 3);
  payment_->process->signal(SIGKILL);
  ASSERT_TRUE(payment_->process->wait(10s));
  auto id = place("fault-mug", 1);
  EXPECT_TRUE(wait_status(id, "pending_payment"))
      << testing::http(port("order"), "GET", "/orders/" + id + "/saga").body;
  payment_->start();
  ASSERT_TRUE(testing::wait_ready(port("payment"))) << payment_->process->log();
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "confirmed") << boost::json::serialize(order);
  auto steps = timeline(id);
  EXPECT_NE(std::find(steps.begin(), steps.end(), "charge:timed_out"), steps.end());
  EXPECT_EQ(product("fault-mug").at("sold").as_int64(), 1);
  expect_check_passes();
}

// Issue 15, item 1, with the timing held: the payment service's first delivery of what it charges on
// fails, so the saga waits at the charge while a payment of 1 cent for the order is posted through the
// API. The saga's charge does not take it for the order's: the order is cancelled (payment_conflict),
// its stock is back, and the foreign payment stays as it was — not the saga's to refund; once its owner
// (an operator here) refunds it, every invariant holds.
TEST_P(SagaKillE2E, AOneCentPaymentPostedBeforeTheChargeDoesNotConfirmTheOrder) {
  std::string trigger = choreography() ? "inventory.reserved" : "payment.charge_requested";
  hold(*payment_, choreography() ? std::vector<std::string>{"order.created", trigger}
                                 : std::vector<std::string>{trigger});
  stock("cent-mug", 3);
  auto id = place("cent-mug", 1);
  ASSERT_TRUE(held_at(*payment_, trigger)) << payment_->process->log();
  auto foreign = testing::http(port("payment"), "POST", "/payments",
                               R"({"order_id":")" + id + R"(","customer_id":")" + customer_ +
                                   R"(","amount_cents":1,"payment_token":"tok_visa"})");
  ASSERT_EQ(foreign.status, 201) << foreign.body;
  auto foreign_id = std::string(foreign.json().at("id").as_string());

  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled") << boost::json::serialize(order);
  // Refused by the order service (the foreign capture's own payment.processed: payment_mismatch) or by
  // payment's charge (payment_conflict), whichever the saga hears first.
  auto reason = std::string(order.at("reason").as_string());
  EXPECT_TRUE(reason.find("payment_conflict") != std::string::npos ||
              reason.find("payment_mismatch") != std::string::npos)
      << reason;
  EXPECT_EQ(product("cent-mug").at("available").as_int64(), 3);
  auto payments = testing::http(port("payment"), "GET", "/payments?order_id=" + id);
  auto listed = payments.json().at("payments").as_array();
  ASSERT_EQ(listed.size(), 1U) << payments.body;
  EXPECT_EQ(listed[0].at("id").as_string(), foreign_id);
  EXPECT_EQ(listed[0].at("amount_cents").as_int64(), 1);
  EXPECT_EQ(listed[0].at("status").as_string(), "captured");

  auto refunded = testing::http(port("payment"), "POST", "/payments/" + foreign_id + "/refund");
  ASSERT_EQ(refunded.status, 200) << refunded.body;
  expect_check_passes();
}

// Issue 15, item 2, likewise: shipping's first delivery of what it ships on fails, and meanwhile a
// shipment of the order to another address is created through the API. The saga's shipment does not
// take it for the order's: the order is cancelled (shipment_conflict), the charge refunded and the stock
// released, and the foreign shipment stays as it was until its owner cancels it.
TEST_P(SagaKillE2E, AShipmentToAnotherAddressPostedBeforeTheSagasIsNotTakenForTheOrders) {
  std::string trigger = choreography() ? "payment.processed" : "shipment.create_requested";
  hold(*shipping_, choreography() ? std::vector<std::string>{"order.created", trigger}
                                  : std::vector<std::string>{trigger});
  stock("ship-mug", 3);
  auto id = place("ship-mug", 1);
  ASSERT_TRUE(held_at(*shipping_, trigger)) << shipping_->process->log();
  auto foreign = testing::http(
      port("shipping"), "POST", "/shipments",
      R"({"order_id":")" + id + R"(","customer_id":")" + customer_ +
          R"(","address":{"name":"Mallory","line1":"9 Side St","city":"Hamburg","postal_code":"20095","country":"DE"}})");
  ASSERT_EQ(foreign.status, 201) << foreign.body;
  auto foreign_id = std::string(foreign.json().at("id").as_string());

  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled") << boost::json::serialize(order);
  auto reason = std::string(order.at("reason").as_string());
  EXPECT_TRUE(reason.find("shipment_conflict") != std::string::npos ||
              reason.find("shipment_mismatch") != std::string::npos)
      << reason;
  EXPECT_EQ(product("ship-mug").at("available").as_int64(), 3);
  auto shipments = testing::http(port("shipping"), "GET", "/shipments?order_id=" + id);
  auto listed = shipments.json().at("shipments").as_array();
  ASSERT_EQ(listed.size(), 1U) << shipments.body;
  EXPECT_EQ(listed[0].at("id").as_string(), foreign_id);
  EXPECT_EQ(listed[0].at("status").as_string(), "created");
  EXPECT_EQ(listed[0].at("address").at("name").as_string(), "Mallory");
  auto payments = testing::http(port("payment"), "GET", "/payments?order_id=" + id);
  auto paid = payments.json().at("payments").as_array();
  ASSERT_EQ(paid.size(), 1U) << payments.body;
  EXPECT_EQ(paid[0].at("status").as_string(), "refunded");

  auto cancelled = testing::http(port("shipping"), "POST", "/shipments/" + foreign_id + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  expect_check_passes();
}

// A compensation that fails twice (the inventory's release handler, by injection) is retried by the bus
// and succeeds the third time: the order is cancelled and the stock is back, nothing dropped.
TEST_P(SagaKillE2E, ACompensationThatFailsTwiceIsRetriedUntilItSucceeds) {
  inventory_->process->signal(SIGKILL);
  ASSERT_TRUE(inventory_->process->wait(10s));
  inventory_->env["MERCATO_EVENTS_FAIL"] = release_trigger() + ":2";
  inventory_->env["APP_EVENTS__RETRY_DELAY"] = "50ms";
  inventory_->start();
  ASSERT_TRUE(testing::wait_ready(port("inventory"))) << inventory_->process->log();
  stock("fault-cup", 3);
  auto id = place("fault-cup", 2, "tok_chargeDeclined");
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled");
  auto steps = timeline(id);
  EXPECT_NE(std::find(steps.begin(), steps.end(), "release:succeeded"), steps.end());
  if (!choreography()) {
    EXPECT_EQ(steps.back(), "release:succeeded");
  }
  EXPECT_EQ(product("fault-cup").at("available").as_int64(), 3);
  // Both injected failures happened (each logged as a failed delivery), and then the release went through.
  auto log = inventory_->process->log();
  std::size_t failures = 0;
  for (auto pos = log.find("injected failure"); pos != std::string::npos;
       pos = log.find("injected failure", pos + 1))
    ++failures;
  EXPECT_EQ(failures, 2u) << log;
  auto dead = testing::http(port("inventory"), "GET", "/admin/dead-letters");
  EXPECT_EQ(dead.json().at("dead_letters").as_array().size(), 0u) << dead.body;
  expect_check_passes();
}

// A participant that keeps failing (shipping's handler errors on every delivery, the 5xx of an
// asynchronous step): the command is dead-lettered, the step times out and the saga compensates in
// reverse order (cancel the shipment, refund, release); the order is cancelled and nothing is held.
TEST_P(SagaFaultE2E, AParticipantThatKeepsFailingIsCompensated) {
  shipping_->process->signal(SIGKILL);
  ASSERT_TRUE(shipping_->process->wait(10s));
  shipping_->env["MERCATO_EVENTS_FAIL"] = ship_trigger() + ":1000";
  shipping_->env["APP_EVENTS__MAX_DELIVER"] = "2";
  shipping_->env["APP_EVENTS__RETRY_DELAY"] = "20ms";
  shipping_->start();
  ASSERT_TRUE(testing::wait_ready(port("shipping"))) << shipping_->process->log();
  stock("fault-bowl", 4);
  auto id = place("fault-bowl", 1);
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled");
  EXPECT_EQ(order.at("reason").as_string(), "ship timed out");
  auto steps = timeline(id);
  if (choreography()) {
    expect_compensated_at_once(steps);
  } else {
    ASSERT_GE(steps.size(), 6u);
    EXPECT_EQ(
        std::vector<std::string>(steps.end() - 6, steps.end()),
        (std::vector<std::string>{"cancel_shipment:started", "cancel_shipment:succeeded", "refund:started",
                                  "refund:succeeded", "release:started", "release:succeeded"}));
  }
  EXPECT_EQ(product("fault-bowl").at("available").as_int64(), 4);
  EXPECT_GE(testing::metric(port("order"), R"(mercato_saga_steps_total{status="timed_out",step="ship"})"), 1);
  EXPECT_GE(testing::metric(port("order"), R"(mercato_saga_steps_total{status="succeeded",step="refund"})"),
            1);
  auto dead = testing::http(port("shipping"), "GET", "/admin/dead-letters").json();
  EXPECT_EQ(dead.at("dead_letters").as_array().size(), 1u) << "the failing command, kept for an operator";
  expect_check_passes();
}

// A participant killed mid-saga and down longer than the step timeout: the step is compensated, and the
// compensation it must answer is resent until it is back; then the saga finishes.
TEST_P(SagaFaultE2E, ACompensationWaitsForAParticipantThatIsDown) {
  stock("fault-jug", 2);
  shipping_->process->signal(SIGKILL);
  ASSERT_TRUE(shipping_->process->wait(10s));
  auto id = place("fault-jug", 1);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  bool waiting = false;
  while (!waiting && std::chrono::steady_clock::now() < deadline) {
    auto saga = testing::http(port("order"), "GET", "/orders/" + id + "/saga");
    waiting = saga.status == 200 && saga.json().at("current_step") == "cancel_shipment";
    if (!waiting) std::this_thread::sleep_for(50ms);  // a poll of the saga, bounded by the deadline
  }
  ASSERT_TRUE(waiting) << testing::http(port("order"), "GET", "/orders/" + id + "/saga").body;
  // Orchestrated, the order is cancelled once its compensations are done; choreographed, at once (its
  // order.cancelled is what the participants undo on).
  EXPECT_EQ(testing::http(port("order"), "GET", "/orders/" + id).json().at("status"),
            choreography() ? "cancelled" : "pending");
  shipping_->start();
  ASSERT_TRUE(testing::wait_ready(port("shipping"))) << shipping_->process->log();
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "cancelled");
  EXPECT_EQ(product("fault-jug").at("available").as_int64(), 2);
  EXPECT_EQ(product("fault-jug").at("reserved").as_int64(), 0);
  expect_check_passes();
}

// The order service killed with SIGKILL while a saga waits on a step: restarted, it resumes the saga
// from its database and finishes it.
TEST_P(SagaKillE2E, AKilledOrderServiceResumesItsSagas) {
  stock("fault-pot", 2);
  shipping_->process->signal(SIGKILL);
  ASSERT_TRUE(shipping_->process->wait(10s));
  auto id = place("fault-pot", 1);
  // Wait until the saga waits on the (stopped) shipping service.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  bool shipping = false;
  while (!shipping && std::chrono::steady_clock::now() < deadline) {
    auto saga = testing::http(port("order"), "GET", "/orders/" + id + "/saga");
    shipping = saga.status == 200 && saga.json().at("current_step") == "ship";
    if (!shipping) std::this_thread::sleep_for(50ms);  // a poll of the saga, bounded by the deadline
  }
  ASSERT_TRUE(shipping) << "the saga never reached the shipping step";
  order_->process->signal(SIGKILL);
  ASSERT_TRUE(order_->process->wait(10s));
  order_->start();
  ASSERT_TRUE(testing::wait_ready(port("order"))) << order_->process->log();
  shipping_->start();
  ASSERT_TRUE(testing::wait_ready(port("shipping"))) << shipping_->process->log();
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "confirmed") << boost::json::serialize(order);
  EXPECT_EQ(product("fault-pot").at("sold").as_int64(), 1);
  expect_check_passes();
}

// --- The fault matrix: every participant's step, in both modes ---------------------------------------

// (a) The participant's handler keeps failing at its step (the 5xx of an asynchronous step: retried,
// then dead-lettered). Inventory or shipping: the step times out and the order is cancelled with
// everything undone. Payment: the order waits in pending_payment until its deadline, then is cancelled.
// Notification: the order is confirmed all the same — a notification is not part of the order; the
// confirmation waits as a dead letter and is sent when an operator redrives it.
class SagaMatrixE2E : public SagaE2E {
 protected:
  std::string step_timeout() const override { return "1s"; }
  std::string order_deadline() const override { return "4s"; }
};

// (b) The participant is killed -9 right after doing its step, before acknowledging it, and restarted:
// the step's event comes again, the effect is not repeated, and the order is confirmed once.
class SagaKillMatrixE2E : public SagaE2E {};

std::vector<std::string> matrix() {
  std::vector<std::string> out;
  for (const char* mode : {"orchestration", "choreography"})
    for (const char* who : {"inventory", "payment", "shipping", "notification"})
      out.push_back(std::string(mode) + "/" + who);
  return out;
}

std::string matrix_name(const ::testing::TestParamInfo<std::string>& info) {
  auto name = info.param;
  std::replace(name.begin(), name.end(), '/', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Steps, SagaMatrixE2E, ::testing::ValuesIn(matrix()), matrix_name);
INSTANTIATE_TEST_SUITE_P(Steps, SagaKillMatrixE2E, ::testing::ValuesIn(matrix()), matrix_name);

TEST_P(SagaMatrixE2E, AStepWhoseHandlerKeepsFailingEndsConsistent) {
  std::string failing;
  for (const auto& t : step_triggers()) failing += (failing.empty() ? "" : ",") + t + ":1000";
  restart_victim({{"MERCATO_EVENTS_FAIL", failing},
                  {"APP_EVENTS__MAX_DELIVER", "2"},
                  {"APP_EVENTS__RETRY_DELAY", "20ms"}});
  stock("matrix-mug", 3);
  auto id = place("matrix-mug", 1);
  auto order = settled(id);
  auto dead_letters = [&] {
    auto body = testing::http(victim().port, "GET", "/admin/dead-letters").json();
    return body.at("dead_letters").as_array();
  };
  if (participant() == "notification") {
    EXPECT_EQ(order.at("status").as_string(), "confirmed") << boost::json::serialize(order);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (dead_letters().empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);  // the confirmation fails twice, then is kept; bounded
    auto letters = dead_letters();
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_EQ(notifications("order_confirmed"), 0u);
    restart_victim({{"MERCATO_EVENTS_FAIL", ""}});
    auto redrive =
        testing::http(victim().port, "POST",
                      "/admin/dead-letters/" + std::string(letters[0].at("id").as_string()) + "/redrive");
    EXPECT_LT(redrive.status, 300) << redrive.body;
    EXPECT_EQ(notifications("order_confirmed"), 1u);
    EXPECT_TRUE(dead_letters().empty());
  } else {
    EXPECT_EQ(order.at("status").as_string(), "cancelled");
    std::string reason = participant() == "inventory"  ? "reserve timed out"
                         : participant() == "shipping" ? "ship timed out"
                                                       : "not completed before the order's deadline";
    EXPECT_EQ(order.at("reason").as_string(), reason);
    auto mug = product("matrix-mug");
    EXPECT_EQ(mug.at("available").as_int64(), 3) << boost::json::serialize(mug);
    EXPECT_EQ(mug.at("reserved").as_int64(), 0);
    EXPECT_FALSE(dead_letters().empty()) << "the failing step's event, kept for an operator";
  }
  expect_check_passes();
}

TEST_P(SagaKillMatrixE2E, AParticipantKilledRightAfterItsStepIsRestartedAndTheOrderConfirmedOnce) {
  std::string points;
  for (const auto& t : step_triggers()) points += (points.empty() ? "" : ",") + ("consumer.before_ack:" + t);
  // A short ack wait: the broker delivers the unacknowledged event again soon after the restart.
  restart_victim({{"MERCATO_FAILPOINTS", points}, {"APP_EVENTS__ACK_WAIT", "1s"}});
  stock("matrix-cup", 3);
  auto id = place("matrix-cup", 1);
  auto& v = victim();
  ASSERT_TRUE(v.process->wait(30s)) << v.name << " was not killed at its step: " << v.process->log();
  restart_victim({{"MERCATO_FAILPOINTS", ""}});
  auto order = settled(id);
  EXPECT_EQ(order.at("status").as_string(), "confirmed") << boost::json::serialize(order);
  // Once: one unit sold, one capture, one live shipment, one confirmation (the checker counts them).
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (product("matrix-cup").at("sold").as_int64() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);  // a choreographed commit follows the confirmation; bounded
  auto cup = product("matrix-cup");
  EXPECT_EQ(cup.at("sold").as_int64(), 1) << boost::json::serialize(cup);
  EXPECT_EQ(cup.at("available").as_int64(), 2);
  expect_check_passes();
}

// --- The payment step's circuit breaker ---------------------------------------------------------------

// The article's breaker in front of the payment call: the payment service down, a charge times out and
// the circuit opens; from then on orders go to pending_payment at once (their charge queued) instead of
// after the step timeout. With the service back the queued charges complete, and after the recovery
// timeout a trial charge closes the circuit.
class SagaPaymentCircuitE2E : public SagaE2E {
 protected:
  std::string step_timeout() const override { return "3s"; }
  std::map<std::string, std::string> order_settings() const override {
    return {{"APP_SAGA__PAYMENT_CIRCUIT_BREAKER__FAILURE_THRESHOLD", "1"},
            {"APP_SAGA__PAYMENT_CIRCUIT_BREAKER__RECOVERY_TIMEOUT", "1s"}};
  }
};

INSTANTIATE_TEST_SUITE_P(Modes, SagaPaymentCircuitE2E, ::testing::Values("orchestration", "choreography"));

TEST_P(SagaPaymentCircuitE2E, WithThePaymentServiceDownTheCircuitOpensAndOrdersWaitAtOnce) {
  stock("circuit-mug", 100);  // enough for the orders placed until a trial closes the circuit
  // A short ack wait: an event the killed payment service had fetched but not handled comes back soon.
  payment_->process->signal(SIGKILL);
  ASSERT_TRUE(payment_->process->wait(10s));
  payment_->env["APP_EVENTS__ACK_WAIT"] = "1s";
  payment_->start();
  ASSERT_TRUE(testing::wait_ready(port("payment"))) << payment_->process->log();
  payment_->process->signal(SIGKILL);
  ASSERT_TRUE(payment_->process->wait(10s));
  auto first = place("circuit-mug", 1);
  EXPECT_TRUE(wait_status(first, "pending_payment", 15s)) << "after the 3 s step timeout";
  EXPECT_EQ(testing::metric(port("order"), "mercato_saga_payment_circuit_state"), 1) << "open";
  auto placed_at = std::chrono::steady_clock::now();
  auto second = place("circuit-mug", 1);
  EXPECT_TRUE(wait_status(second, "pending_payment", 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - placed_at, 1500ms) << "well under the step timeout";
  auto steps = timeline(second);
  EXPECT_NE(std::find(steps.begin(), steps.end(), "charge:deferred"), steps.end());

  payment_->start();
  ASSERT_TRUE(testing::wait_ready(port("payment"))) << payment_->process->log();
  for (const auto& id : {first, second}) {
    auto order = settled(id);
    EXPECT_EQ(order.at("status").as_string(), "confirmed") << "its queued charge went through";
  }
  // Past the recovery timeout a charge is a trial; answered, it closes the circuit.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string last;
  while (testing::metric(port("order"), "mercato_saga_payment_circuit_state") != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    last = place("circuit-mug", 1);
    settled(last);
  }
  EXPECT_EQ(testing::metric(port("order"), "mercato_saga_payment_circuit_state"), 0)
      << "closed again; transitions: "
      << testing::metric(port("order"), R"(mercato_saga_payment_circuit_transitions_total{to="open"})")
      << " open, "
      << testing::metric(port("order"), R"(mercato_saga_payment_circuit_transitions_total{to="half_open"})")
      << " half-open; the last order's saga: "
      << (last.empty() ? "none" : testing::http(port("order"), "GET", "/orders/" + last + "/saga").body);
  expect_check_passes();
}

}  // namespace
}  // namespace mercato
