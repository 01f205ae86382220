// The system as a whole in both topologies (docs/topologies.md): the six services and the gateway as
// separate processes (events over NATS JetStream), and the same services as the modules of one
// mercato-monolith process (events in process). The same public API is driven the same way and must
// give the same answers; what differs is checked where it is the point: calls between modules of the
// monolith open no connection, and a service split out of the monolith is a configuration change.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;
using testing::System;
using testing::Topology;

constexpr const char* kAdminPassword = "admin password for the topologies";
constexpr const char* kPassword = "correct horse battery";
constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

std::string text(const boost::json::value& v, const char* key) { return std::string(v.at(key).as_string()); }

// A system started from a SystemSettings, with the admin's password file and the notification outbox in
// the test's own directory, and the calls a customer and the admin make through the gateway.
class SystemTest {
 public:
  SystemTest(const std::string& name, testing::SystemSettings settings) : dir_(testing::temp_dir(name)) {
    std::ofstream(dir_ / "admin-password") << kAdminPassword;
    settings.common["APP_EVENTS__PREFIX"] = "topo" + random_hex(5);
    settings.per_service["user"]["APP_AUTH__ADMIN__PASSWORD_FILE"] = (dir_ / "admin-password").string();
    settings.per_service["notification"]["APP_NOTIFICATION__OUTBOX_FILE"] = (dir_ / "outbox.log").string();
    system_ = std::make_unique<System>(dir_, std::move(settings));
  }
  ~SystemTest() {
    system_.reset();
    fs::remove_all(dir_);
  }

  System& system() { return *system_; }

  HttpResult api(const std::string& method, const std::string& target, const std::string& body,
                 const std::string& token) {
    return testing::http(system_->port("gateway"), method, target, body,
                         {{"Authorization", token.empty() ? "" : "Bearer " + token}});
  }
  std::string login(const std::string& email, const std::string& password) {
    auto r = api("POST", "/api/auth/login",
                 boost::json::serialize(boost::json::object{{"email", email}, {"password", password}}), "");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? text(r.json(), "access_token") : std::string();
  }
  // Registers and logs in a customer; returns {id, token}.
  std::pair<std::string, std::string> customer() {
    auto email = "topo-" + random_hex(6) + "@example.com";
    auto r = api("POST", "/api/users",
                 boost::json::serialize(
                     boost::json::object{{"email", email}, {"name", "Ann"}, {"password", kPassword}}),
                 "");
    EXPECT_EQ(r.status, 201) << r.body;
    return {r.status == 201 ? text(r.json(), "id") : std::string(), login(email, kPassword)};
  }
  // Polls the order (bounded) until it leaves `pending`; returns its last state.
  boost::json::object settled(const std::string& id, const std::string& token) {
    boost::json::object order;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = api("GET", "/api/orders/" + id, "", token);
      if (r.status == 200) {
        order = r.json().as_object();
        auto status = text(order, "status");
        if (status != "pending" && status != "pending_payment") return order;
      }
      std::this_thread::sleep_for(20ms);  // a poll of the order's status, bounded by the deadline
    }
    return order;
  }

  // The order flow through the gateway, as the README's walk-through does it; checks every service's
  // view of the confirmed order.
  void order_is_confirmed_everywhere() {
    auto admin = login("admin@mercato.local", kAdminPassword);
    ASSERT_FALSE(admin.empty());
    auto stocked =
        api("PUT", "/api/inventory/topo-mug", R"({"name":"Mug","price_cents":1299,"available":10})", admin);
    ASSERT_TRUE(stocked.status == 200 || stocked.status == 201) << stocked.body;
    auto [customer_id, token] = customer();
    ASSERT_FALSE(token.empty());
    auto placed =
        api("POST", "/api/orders",
            std::string(R"({"payment_token":"tok_visa","items":[{"product_id":"topo-mug","quantity":2}],)") +
                R"("shipping_address":)" + kAddress + "}",
            token);
    ASSERT_EQ(placed.status, 201) << placed.body;
    auto id = text(placed.json(), "id");
    EXPECT_EQ(placed.json().at("total_cents").as_int64(), 2598);

    auto order = settled(id, token);
    ASSERT_EQ(order.at("status"), "confirmed") << boost::json::serialize(order) << system_->logs();
    auto stock = api("GET", "/api/inventory/topo-mug", "", admin).json();
    EXPECT_EQ(stock.at("available").as_int64(), 8);
    EXPECT_EQ(stock.at("sold").as_int64(), 2);
    EXPECT_EQ(stock.at("reserved").as_int64(), 0);
    auto payments = api("GET", "/api/payments?order_id=" + id, "", admin);
    ASSERT_EQ(payments.status, 200) << payments.body;
    auto items = payments.json().at("payments").as_array();
    ASSERT_EQ(items.size(), 1u) << payments.body;
    EXPECT_EQ(items[0].at("status"), "captured");
    EXPECT_EQ(items[0].at("amount_cents").as_int64(), 2598);
    auto shipments = api("GET", "/api/shipments?order_id=" + id, "", admin);
    ASSERT_EQ(shipments.status, 200) << shipments.body;
    EXPECT_EQ(shipments.json().at("shipments").as_array().size(), 1u) << shipments.body;
    // The confirmation notice comes from the order.confirmed event, after the order reads confirmed.
    bool notified = false;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!notified && std::chrono::steady_clock::now() < deadline) {
      auto notes = api("GET", "/api/notifications?order_id=" + id, "", token);
      ASSERT_EQ(notes.status, 200) << notes.body;
      auto body = notes.json();  // kept: the loop below reads into it
      for (const auto& n : body.at("notifications").as_array()) notified |= n.at("kind") == "order_confirmed";
      if (!notified) std::this_thread::sleep_for(20ms);  // waiting for the event, bounded by the deadline
    }
    EXPECT_TRUE(notified) << system_->logs();
    // Another customer sees none of it, in either topology.
    auto [other_id, other] = customer();
    EXPECT_EQ(api("GET", "/api/orders/" + id, "", other).status, 404);
  }

 private:
  fs::path dir_;
  std::unique_ptr<System> system_;
};

// Open client connections on `port`, from its /metrics (the scrape's own connection counts as one).
double active_connections(std::uint16_t port) {
  auto r = testing::http(port, "GET", "/metrics");
  const std::string needle = "\nhttp_server_active_connections ";
  auto at = r.body.find(needle);
  if (r.status != 200 || at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + needle.size()));
}

class Topologies : public ::testing::TestWithParam<Topology> {};

// The separate processes need a real broker; the monolith's events stay inside it.
// NOLINTBEGIN(bugprone-macro-parentheses): `url` is the name the macro declares
#define BROKER_FOR_TOPOLOGY(url)                  \
  std::string url;                                \
  if (GetParam() == Topology::kProcesses) {       \
    MERCATO_BROKER_URL_OR_SKIP(nats_url, "nats"); \
    url = nats_url;                               \
  }
// NOLINTEND(bugprone-macro-parentheses)

TEST_P(Topologies, AnOrderThroughTheGatewayIsConfirmedAndEveryServiceAgrees) {
  BROKER_FOR_TOPOLOGY(url);
  SystemTest t("topology-flow", {.topology = GetParam(), .broker_url = url});
  t.order_is_confirmed_everywhere();
  if (HasFatalFailure()) return;
  // Every process stops cleanly on SIGTERM (the monolith drains all of its modules).
  t.system().stop();
  for (const auto& s : testing::all_services()) {
    auto status = t.system().process_of(s).wait(1s);
    ASSERT_TRUE(status.has_value()) << s;
    EXPECT_EQ(*status, 0) << s << ":\n" << t.system().process_of(s).log();
  }
}

TEST_P(Topologies, CallsBetweenModulesOfTheMonolithOpenNoConnection) {
  BROKER_FOR_TOPOLOGY(url);
  SystemTest t("topology-calls", {.topology = GetParam(), .broker_url = url});
  t.order_is_confirmed_everywhere();
  if (HasFatalFailure()) return;
  // The order service called the user and inventory services, the gateway called every service, and
  // the services fetched the user service's keys. Over TCP the callers keep those connections pooled;
  // inside the monolith there were none, so each server sees only this scrape.
  for (const char* callee : {"user", "inventory", "order"}) {
    auto open = active_connections(t.system().port(callee));
    if (GetParam() == Topology::kMonolith) {
      EXPECT_EQ(open, 1) << callee;
    } else {
      EXPECT_GT(open, 1) << callee;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Both, Topologies, testing::kTopologies, testing::topology_name);

// The article's advice in practice: the payment service leaves the monolith by configuration alone: the
// monolith runs without it, payment runs as its own process, and the events of every module go over
// NATS so that both processes see them. No code changes; the order flow is the same.
TEST(Monolith, SplittingAServiceOutIsAConfigurationChange) {
  MERCATO_BROKER_URL_OR_SKIP(url, "nats");
  SystemTest t("topology-split",
               {.topology = Topology::kMonolith, .monolith_broker = url, .outside_monolith = {"payment"}});
  EXPECT_NE(t.system().process_of("payment").pid(), t.system().process_of("order").pid());
  EXPECT_EQ(t.system().process_of("user").pid(), t.system().process_of("gateway").pid());
  t.order_is_confirmed_everywhere();
}

TEST(Monolith, ABadKeyInAnyModuleStopsTheStartNamingModuleAndKey) {
  auto binary = std::string(MERCATO_MONOLITH_BINARY);
  auto dir = testing::temp_dir("monolith-bad-key");
  {
    testing::Process p(binary, {"--config", ""},
                       {{"APP_MONOLITH__CONFIG_DIR", ""},
                        {"APP_MONOLITH__MODULES", "user,payment"},
                        {"APP_USER__DATABASE__PATH", (dir / "user.db").string()},
                        {"APP_PAYMENT__DATABASE__PATH", (dir / "payment.db").string()},
                        {"APP_PAYMENT__UPSTREAMS__USER", "127.0.0.1:1"},
                        {"APP_PAYMENT__SERVER__PROT", "1"}});
    auto status = p.wait(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 2);
    EXPECT_NE(p.log().find("\"module\":\"payment\""), std::string::npos) << p.log();
    EXPECT_NE(p.log().find("server.prot"), std::string::npos) << p.log();
  }
  {
    testing::Process p(binary, {"--config", ""}, {{"APP_MONOLITH__MODULES", "user,billing"}});
    auto status = p.wait(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 2);
    EXPECT_NE(p.log().find("unknown module 'billing'"), std::string::npos) << p.log();
  }
  {
    testing::Process p(binary, {"--config", ""}, {{"APP_MONOLITH__MODULES", "user,user"}});
    auto status = p.wait(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 2);
    EXPECT_NE(p.log().find("'user' is listed twice"), std::string::npos) << p.log();
  }
  {
    // Two modules on one port would both bind it (SO_REUSEPORT) and share its connections at random.
    testing::Process p(binary, {"--config", ""},
                       {{"APP_MONOLITH__CONFIG_DIR", ""},
                        {"APP_MONOLITH__MODULES", "user,payment"},
                        {"APP_USER__SERVER__PORT", "18099"},
                        {"APP_PAYMENT__SERVER__PORT", "18099"}});
    auto status = p.wait(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 2);
    EXPECT_NE(p.log().find("18099 is also the port of 'user'"), std::string::npos) << p.log();
  }
  fs::remove_all(dir);
}

// The shipped config/monolith.yaml with the shipped config/*.yaml of every module passes the whole
// start-up check (as config_e2e_test does for each service binary).
TEST(Monolith, TheShippedConfigurationIsValid) {
  auto dir = testing::temp_dir("monolith-config");
  std::map<std::string, std::string> env{{"APP_MONOLITH__CONFIG_DIR", testing::source_dir() + "/config"}};
  for (const auto& s : testing::all_services()) {
    std::string prefix = "APP_";
    for (char c : s) prefix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (s != "gateway") env[prefix + "__DATABASE__PATH"] = (dir / (s + ".db")).string();
  }
  env["APP_USER__AUTH__KEY_DIR"] = (dir / "keys").string();
  env["APP_MONOLITH__EVENTS__FILE"] = (dir / "events.db").string();  // not var/ under the test's directory
  testing::Process p(MERCATO_MONOLITH_BINARY,
                     {"--config", testing::source_dir() + "/config/monolith.yaml", "--check-config"}, env);
  auto status = p.wait(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << p.log();
  EXPECT_NE(p.log().find("configuration is valid"), std::string::npos) << p.log();
  // events.file reached the modules: their buses opened the monolith's durable broker on it.
  EXPECT_TRUE(fs::exists(dir / "events.db")) << p.log();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mercato
