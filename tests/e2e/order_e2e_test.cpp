// End to end: placing orders through the gateway with the real user, inventory and order services, as
// separate processes and as modules of the monolith (docs/topologies.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <latch>
#include <thread>
#include <vector>

#include "mercato/testing/backends.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/openapi.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;
using testing::PostgresSchema;
using testing::Process;

constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";

// user, inventory and order services plus the gateway, each with its own database, in the topology of
// the parameter (docs/topologies.md): separate processes, or modules of the monolith. Per test (each runs
// in its own process).
class OrderFlowTest : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("order"));
    testing::SystemSettings settings{.topology = GetParam(),
                                     .services = {"user", "inventory", "order", "gateway"},
                                     .outside_monolith = outside_monolith()};
    // Each service's events stay with it, in both topologies: these tests are about the order API, and
    // a saga running underneath would change what they find (a confirmed order cannot be cancelled).
    for (const auto& s : settings.services) {
      if (s != "gateway") settings.per_service[s]["APP_EVENTS__URL"] = "inprocess://" + s;
    }
    for (const auto& [k, v] : std::map<std::string, std::string>{
             {"APP_ORDER__USER__TIMEOUT", "1s"},
             {"APP_ORDER__INVENTORY__TIMEOUT", "1s"},
             {"APP_ORDER__INVENTORY__CIRCUIT_BREAKER__FAILURE_THRESHOLD", "3"},
             {"APP_ORDER__INVENTORY__CIRCUIT_BREAKER__RECOVERY_TIMEOUT", "1s"}})
      settings.per_service["order"][k] = v;
    system_ = new testing::System(*dir_, std::move(settings));
    user_port_ = system_->port("user");
    inventory_port_ = system_->port("inventory");
    order_port_ = system_->port("order");
    gateway_port_ = system_->port("gateway");
  }

  // The services that run as their own process beside the monolith (the tests that kill or stop one).
  virtual std::vector<std::string> outside_monolith() const { return {}; }

  void TearDown() override {
    delete system_;
    system_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }

  // Every answer is held to the contract of the service that gave it (api/*.yaml).
  static HttpResult api(const std::string& method, const std::string& target, const std::string& body = {}) {
    auto r = testing::http(gateway_port_, method, "/api" + target, body);
    EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    return r;
  }

  static std::string new_customer() {
    static std::atomic<int> n{0};
    auto r = api("POST", "/users",
                 R"({"email":"buyer)" + std::to_string(n++) +
                     R"(@example.com","name":"Buyer","password":"correct horse"})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json().at("id").as_string());
  }

  static void stock(const std::string& product, std::int64_t price_cents, std::int64_t available) {
    auto r = api("PUT", "/inventory/" + product,
                 R"({"name":")" + product + R"(","price_cents":)" + std::to_string(price_cents) +
                     R"(,"available":)" + std::to_string(available) + "}");
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }

  static std::string order_body(const std::string& customer, const std::string& items) {
    return R"({"customer_id":")" + customer + R"(","payment_token":"tok_visa","items":)" + items +
           R"(,"shipping_address":)" + kAddress + "}";
  }

  static inline fs::path* dir_ = nullptr;
  static inline testing::System* system_ = nullptr;
  static inline std::uint16_t user_port_ = 0, inventory_port_ = 0, order_port_ = 0, gateway_port_ = 0;
};

TEST_P(OrderFlowTest, PlaceReadListAndCancelAnOrder) {
  auto customer = new_customer();
  stock("flow-apple", 150, 10);
  stock("flow-pear", 275, 10);
  auto placed = api("POST", "/orders",
                    order_body(customer, R"([{"product_id":"flow-apple","quantity":2,"price_cents":150},)"
                                         R"({"product_id":"flow-pear","quantity":1,"price":2.75}])"));
  ASSERT_EQ(placed.status, 201) << placed.body;
  auto order = placed.json().as_object();
  std::string id(order.at("id").as_string());
  EXPECT_EQ(order.at("status").as_string(), "pending");
  EXPECT_EQ(order.at("total_cents").as_int64(), 2 * 150 + 275);
  EXPECT_EQ(order.at("items").as_array()[0].at("price_cents").as_int64(), 150);
  EXPECT_EQ(order.at("items").as_array()[0].at("line_total_cents").as_int64(), 300);
  EXPECT_EQ(order.at("shipping_address").at("country").as_string(), "DE");
  EXPECT_FALSE(order.contains("payment_token"));
  EXPECT_EQ(placed.header("location"), "/orders/" + id);

  auto read = api("GET", "/orders/" + id);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.json(), placed.json());

  auto second = api("POST", "/orders", order_body(customer, R"([{"product_id":"flow-apple","quantity":1}])"));
  ASSERT_EQ(second.status, 201);
  // The list is the read model: the write's position makes it wait until the projector has the order.
  auto position = second.header("mercato-position");
  ASSERT_FALSE(position.empty()) << "a write answers the position it reached";
  auto list = api("GET", "/orders?customer_id=" + customer + "&limit=1&min_position=" + position);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json().at("orders").as_array().size(), 1U);
  EXPECT_EQ(list.json().at("orders").as_array()[0].at("id"), second.json().at("id"));  // newest first
  ASSERT_TRUE(list.json().at("next_cursor").is_string());
  auto page2 = api("GET", "/orders?customer_id=" + customer +
                              "&limit=1&cursor=" + std::string(list.json().at("next_cursor").as_string()));
  EXPECT_EQ(page2.json().at("orders").as_array()[0].at("id").as_string(), id);
  EXPECT_TRUE(page2.json().at("next_cursor").is_null());
  EXPECT_EQ(api("GET", "/orders?customer_id=" + customer + "&limit=1000").json().at("limit").as_int64(), 100);

  auto cancelled = api("POST", "/orders/" + id + "/cancel", R"({"reason":"changed my mind"})");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.json().at("status").as_string(), "cancelled");
  EXPECT_EQ(cancelled.json().at("reason").as_string(), "changed my mind");
  auto again = api("POST", "/orders/" + id + "/cancel");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json().at("reason").as_string(), "changed my mind");
}

TEST_P(OrderFlowTest, BusinessRuleViolationsAre422NamingTheField) {
  auto customer = new_customer();
  stock("rule-apple", 150, 10);
  struct Case {
    const char* name;
    std::string body;
    const char* field;
  };
  const auto cases = std::to_array<Case>({
      {"unknown customer", order_body("no-such-customer", R"([{"product_id":"rule-apple","quantity":1}])"),
       "customer_id"},
      {"unknown product",
       order_body(customer,
                  R"([{"product_id":"rule-apple","quantity":1},{"product_id":"rule-none","quantity":1}])"),
       "items[1].product_id"},
      {"stale price_cents",
       order_body(customer, R"([{"product_id":"rule-apple","quantity":1,"price_cents":149}])"),
       "items[0].price_cents"},
      {"stale decimal price",
       order_body(customer, R"([{"product_id":"rule-apple","quantity":1,"price":1.49}])"), "items[0].price"},
  });
  for (const auto& c : cases) {
    auto r = api("POST", "/orders", c.body);
    EXPECT_EQ(r.status, 422) << c.name << ": " << r.body;
    if (r.status != 422) continue;
    EXPECT_EQ(r.error_code(), "unprocessable") << c.name;
    EXPECT_EQ(r.error_field(), c.field) << c.name;
  }
  EXPECT_TRUE(api("GET", "/orders?customer_id=" + customer).json().at("orders").as_array().empty())
      << "a refused order must not be stored";
}

TEST_P(OrderFlowTest, MalformedRequestsAre400NamingTheProblem) {
  auto customer = new_customer();
  struct Case {
    const char* name;
    std::string method, target, body;
    const char* code;
    const char* field;
  };
  const auto cases = std::to_array<Case>({
      {"not json", "POST", "/orders", "{", "malformed_request", ""},
      {"no items", "POST", "/orders", order_body(customer, "[]"), "validation_failed", "items"},
      {"quantity zero", "POST", "/orders", order_body(customer, R"([{"product_id":"a","quantity":0}])"),
       "validation_failed", "items[0].quantity"},
      {"float money", "POST", "/orders",
       order_body(customer, R"([{"product_id":"a","quantity":1,"price_cents":1.5}])"), "validation_failed",
       "items[0].price_cents"},
      {"bad country", "POST", "/orders",
       R"({"customer_id":"c","payment_token":"t","items":[{"product_id":"a","quantity":1}],"shipping_address":{"name":"A","line1":"x","city":"y","postal_code":"1","country":"de"}})",
       "validation_failed", "shipping_address.country"},
      {"missing token", "POST", "/orders",
       R"({"customer_id":"c","items":[{"product_id":"a","quantity":1}],"shipping_address":{}})",
       "validation_failed", "payment_token"},
      // (An admin's list without customer_id is every customer's: tests/e2e/authz_e2e_test.cpp.)
      {"list bad customer", "GET", "/orders?customer_id=no%20spaces", "", "validation_failed", "customer_id"},
      {"list bad cursor", "GET", "/orders?customer_id=c&cursor=12x", "", "validation_failed", "cursor"},
      {"list bad status", "GET", "/orders?customer_id=c&status=shipped", "", "validation_failed", "status"},
      {"list bad from", "GET", "/orders?customer_id=c&from=yesterday", "", "validation_failed", "from"},
      {"list page is gone", "GET", "/orders?customer_id=c&page=2", "", "validation_failed", "page"},
      {"list position never written", "GET", "/orders?customer_id=c&min_position=999999999999", "",
       "validation_failed", "min_position"},
      {"list bad limit", "GET", "/orders?customer_id=c&limit=ten", "", "validation_failed", "limit"},
      {"list limit twice", "GET", "/orders?customer_id=c&limit=1&limit=2", "", "validation_failed", "limit"},
      {"cancel unknown field", "POST", "/orders/x/cancel", R"({"why":"x"})", "validation_failed", "why"},
  });
  for (const auto& c : cases) {
    auto r = api(c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
    if (r.status != 400) continue;
    EXPECT_EQ(r.error_code(), c.code) << c.name;
    EXPECT_EQ(r.error_field(), c.field) << c.name;
  }
  EXPECT_EQ(api("GET", "/orders/does-not-exist").status, 404);
  EXPECT_EQ(api("POST", "/orders/does-not-exist/cancel").status, 404);
  auto wrong = api("DELETE", "/orders/x");
  EXPECT_EQ(wrong.status, 405);
}

// A second order service on PostgreSQL, chosen by configuration alone (database.url), against the
// suite's user and inventory services.
TEST_P(OrderFlowTest, RunsOnPostgresChosenByConfiguration) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  PostgresSchema schema(base, "e2e_order");
  ASSERT_TRUE(schema.ok()) << schema.error();
  auto port = testing::free_port();
  auto sqlite_file = *dir_ / "order-postgres.db";
  Process pg(testing::binary("order"), {},
             {{"APP_SERVER__PORT", std::to_string(port)},
              {"APP_SERVER__THREADS", "2"},
              {"APP_DATABASE__URL", schema.url()},
              {"APP_DATABASE__PATH", sqlite_file.string()},
              {"APP_DATABASE__CONNECTIONS", "4"},
              {"APP_LOG__LEVEL", "warn"},
              {"APP_UPSTREAMS__USER", "127.0.0.1:" + std::to_string(user_port_)},
              {"APP_UPSTREAMS__INVENTORY", "127.0.0.1:" + std::to_string(inventory_port_)}});
  ASSERT_TRUE(testing::wait_ready(port)) << pg.log();
  auto call = [port](const std::string& method, const std::string& target, const std::string& body = {}) {
    auto r = testing::http(port, method, target, body);
    EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    return r;
  };
  auto ready = testing::http(port, "GET", "/health/ready");
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");

  auto customer = new_customer();
  stock("pg-apple", 150, 10);
  stock("pg-pear", 275, 10);
  auto placed = call("POST", "/orders",
                     order_body(customer, R"([{"product_id":"pg-apple","quantity":2,"price_cents":150},)"
                                          R"({"product_id":"pg-pear","quantity":1,"price":2.75}])"));
  ASSERT_EQ(placed.status, 201) << placed.body;
  std::string id(placed.json().at("id").as_string());
  EXPECT_EQ(placed.json().at("status").as_string(), "pending");
  EXPECT_EQ(placed.json().at("total_cents").as_int64(), 2 * 150 + 275);
  EXPECT_EQ(placed.json().at("shipping_address").at("city").as_string(), "Berlin");
  EXPECT_EQ(placed.header("location"), "/orders/" + id);
  auto read = call("GET", "/orders/" + id);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.json(), placed.json());

  // Stored in PostgreSQL: the suite's SQLite order service does not know it, and no SQLite file exists.
  EXPECT_EQ(api("GET", "/orders/" + id).status, 404);
  EXPECT_FALSE(fs::exists(sqlite_file));

  auto second = call("POST", "/orders", order_body(customer, R"([{"product_id":"pg-pear","quantity":3}])"));
  ASSERT_EQ(second.status, 201) << second.body;
  auto list = call("GET", "/orders?customer_id=" + customer +
                              "&limit=1&min_position=" + second.header("mercato-position"));
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json().at("orders").as_array().size(), 1U);
  EXPECT_EQ(list.json().at("orders").as_array()[0].at("id"), second.json().at("id"));  // newest first
  ASSERT_TRUE(list.json().at("next_cursor").is_string()) << list.body;
  auto page2 = call("GET", "/orders?customer_id=" + customer +
                               "&limit=1&cursor=" + std::string(list.json().at("next_cursor").as_string()));
  ASSERT_EQ(page2.json().at("orders").as_array().size(), 1U);
  EXPECT_EQ(page2.json().at("orders").as_array()[0].at("id"), read.json().at("id"));
  EXPECT_TRUE(page2.json().at("next_cursor").is_null());

  auto unknown_customer =
      call("POST", "/orders", order_body("no-such-customer", R"([{"product_id":"pg-apple","quantity":1}])"));
  EXPECT_EQ(unknown_customer.status, 422) << unknown_customer.body;
  EXPECT_EQ(unknown_customer.error_field(), "customer_id");
  EXPECT_EQ(call("GET", "/orders/does-not-exist").status, 404);
  EXPECT_EQ(call("POST", "/orders/does-not-exist/cancel").status, 404);

  auto cancelled = call("POST", "/orders/" + id + "/cancel", R"({"reason":"changed my mind"})");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.json().at("status").as_string(), "cancelled");
  EXPECT_EQ(cancelled.json().at("reason").as_string(), "changed my mind");
  auto again = call("POST", "/orders/" + id + "/cancel", R"({"reason":"other"})");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json(), cancelled.json());
  EXPECT_EQ(call("GET", "/orders/" + id).json(), cancelled.json());

  // Parallel cancels of one order with different reasons: one wins, every answer shows its reason.
  std::string second_id(second.json().at("id").as_string());
  constexpr int kClients = 8;
  std::vector<HttpResult> results(kClients);
  std::latch start(kClients);
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[static_cast<std::size_t>(i)] = testing::http(port, "POST", "/orders/" + second_id + "/cancel",
                                                           R"({"reason":"r)" + std::to_string(i) + R"("})");
    });
  }
  for (auto& t : threads) t.join();
  auto stored = call("GET", "/orders/" + second_id);
  ASSERT_EQ(stored.status, 200);
  EXPECT_EQ(stored.json().at("status").as_string(), "cancelled");
  for (const auto& r : results) {
    ASSERT_EQ(r.status, 200) << r.error << " " << r.body;
    EXPECT_EQ(r.json(), stored.json());
  }
}

// The tests that kill or stop the user service: in the monolith it runs as its own process beside it
// (a module cannot be killed alone), so what they test there is the monolith's order module calling it.
class OrderFlowWithUserOutside : public OrderFlowTest {
  std::vector<std::string> outside_monolith() const override { return {"user"}; }
};

TEST_P(OrderFlowWithUserOutside, UserServiceDownIs503AndNothingIsStored) {
  auto customer = new_customer();
  stock("down-apple", 100, 5);
  auto& user = system_->process_of("user");
  user.signal(SIGKILL);
  ASSERT_TRUE(user.wait(5s));
  auto r = api("POST", "/orders", order_body(customer, R"([{"product_id":"down-apple","quantity":1}])"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.error_code(), "unavailable");
  EXPECT_NE(std::string(r.json().at("error").at("message").as_string()).find("user service"),
            std::string::npos);
  ASSERT_NO_THROW(system_->restart("user"));
  EXPECT_TRUE(api("GET", "/orders?customer_id=" + customer).json().at("orders").as_array().empty());
  auto placed = api("POST", "/orders", order_body(customer, R"([{"product_id":"down-apple","quantity":1}])"));
  EXPECT_EQ(placed.status, 201) << placed.body;
}

// gRPC deadlines: the user service stopped (SIGSTOP: connected, never answering), the order service's
// call to it ends at its timeout with DEADLINE_EXCEEDED, which reaches the client through the gateway as
// 504 naming the service, well before the request's own timeout.
TEST_P(OrderFlowWithUserOutside, AnUpstreamThatDoesNotAnswerInTimeIs504AtTheGateway) {
  auto customer = new_customer();
  stock("slow-fig", 100, 5);
  // One order first: the order service then holds its own token (fetched from the user service over
  // HTTP, and cached) and its gRPC channel, so what the stop holds up is the gRPC call itself.
  auto first = api("POST", "/orders", order_body(customer, R"([{"product_id":"slow-fig","quantity":1}])"));
  ASSERT_EQ(first.status, 201) << first.body;
  auto& user = system_->process_of("user");
  ASSERT_TRUE(user.pause()) << "the user service did not stop";
  auto started = std::chrono::steady_clock::now();
  auto r = api("POST", "/orders", order_body(customer, R"([{"product_id":"slow-fig","quantity":1}])"));
  auto took = std::chrono::steady_clock::now() - started;
  user.resume();
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(r.error_code(), "deadline_exceeded") << r.body;
  EXPECT_NE(r.body.find("the user service did not answer in time"), std::string::npos) << r.body;
  EXPECT_LT(took, 3s) << r.body;  // order.user.timeout is 1s here; the gateway waits 5s for the order service
  auto placed = api("POST", "/orders", order_body(customer, R"([{"product_id":"slow-fig","quantity":1}])"));
  EXPECT_EQ(placed.status, 201) << placed.body;
}

// Kills the inventory service: in the monolith it runs as its own process beside it.
class OrderFlowWithInventoryOutside : public OrderFlowTest {
  std::vector<std::string> outside_monolith() const override { return {"inventory"}; }
};

// The article's circuit breaker on the order service's own calls: with the inventory service down, the
// first orders fail on the connection, then the circuit opens and orders are refused at once (503 naming
// the service) instead of each waiting for a timeout; with the service back, a trial call closes it.
TEST_P(OrderFlowWithInventoryOutside, AnInventoryOutageOpensTheCircuitAndItClosesWhenTheServiceIsBack) {
  // The customer straight from the user service: the test before restarted it, and the gateway's pooled
  // connection to the old process is only checked once idle for a moment (lib/http client.cpp).
  auto user = testing::http(user_port_, "POST", "/users",
                            R"({"email":"breaker@example.com","name":"Bea","password":"correct horse"})");
  ASSERT_EQ(user.status, 201) << user.body;
  std::string customer(user.json().at("id").as_string());
  stock("breaker-pear", 100, 50);
  // Straight to the order service: through the gateway, its own breaker for the order service would open
  // on these 503s too (a 5xx is a failure wherever it comes from) and hide the recovery for its timeout.
  auto place = [&] {
    return testing::http(order_port_, "POST", "/orders",
                         order_body(customer, R"([{"product_id":"breaker-pear","quantity":1}])"));
  };
  ASSERT_EQ(place().status, 201);
  auto& inventory = system_->process_of("inventory");
  inventory.signal(SIGKILL);
  ASSERT_TRUE(inventory.wait(5s));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(place().status, 503) << "connection refused";
  EXPECT_EQ(testing::metric(order_port_, R"(mercato_upstream_circuit_state{upstream="inventory"})"), 1);
  auto started = std::chrono::steady_clock::now();
  auto fast = place();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 250ms);
  EXPECT_EQ(fast.status, 503);
  EXPECT_NE(fast.body.find("circuit is open"), std::string::npos) << fast.body;
  EXPECT_GE(
      testing::metric(order_port_,
                      R"(mercato_upstream_rejections_total{reason="circuit_open",upstream="inventory"})"),
      1);
  ASSERT_NO_THROW(system_->restart("inventory"));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  while ((status = place().status) != 201 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);  // until recovery_timeout has passed; bounded
  EXPECT_EQ(status, 201);
  EXPECT_EQ(testing::metric(order_port_, R"(mercato_upstream_circuit_state{upstream="inventory"})"), 0);
}

INSTANTIATE_TEST_SUITE_P(Topologies, OrderFlowTest, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, OrderFlowWithUserOutside, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, OrderFlowWithInventoryOutside, testing::kTopologies,
                         testing::topology_name);

}  // namespace
}  // namespace mercato
