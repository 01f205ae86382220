// End to end: the real shipping service (and the gateway in front of it), as child processes on free
// loopback ports or as modules of the monolith (docs/topologies.md, testing::System), driven over HTTP
// exactly as a client would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/events/transport.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/openapi.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using testing::data_of;
using testing::kTraceparent;
using testing::trace_id;

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;

// Every answer from the shipping service is held to its contract (api/shipping.yaml). `target` is the
// service's own path; `prefix` is "/api" when the request goes through the gateway.
HttpResult checked(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body = {}, const std::map<std::string, std::string>& headers = {},
                   const std::string& prefix = {}) {
  auto r = testing::http(port, method, prefix + target, body, headers);
  EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
  return r;
}

std::string str(const boost::json::value& v, std::string_view key) {
  return std::string(v.at(key).as_string());
}

boost::json::object address() {
  return {{"name", "Ann Lee"},
          {"line1", "1 Main St"},
          {"city", "Berlin"},
          {"postal_code", "10115"},
          {"country", "DE"}};
}

std::string body(const std::string& order_id, const std::string& customer_id = "cust-1",
                 const boost::json::object& addr = address()) {
  return boost::json::serialize(
      boost::json::object{{"order_id", order_id}, {"customer_id", customer_id}, {"address", addr}});
}

// The shipping service (and the services in `services`) in `topology`, with `env` for the shipping
// service; by default four I/O threads (the monolith's shared ones there) and four database connections,
// so parallel requests really race inside the service.
testing::SystemSettings shipping_system(testing::Topology topology, std::vector<std::string> services,
                                        std::map<std::string, std::string> env = {
                                            {"APP_SERVER__THREADS", "4"},
                                            {"APP_DATABASE__CONNECTIONS", "4"}}) {
  std::map<std::string, std::string> monolith;
  if (auto threads = env.find("APP_SERVER__THREADS"); threads != env.end())
    monolith["APP_MONOLITH__SERVER__THREADS"] = threads->second;
  return {.topology = topology,
          .services = std::move(services),
          .per_service = {{"shipping", std::move(env)}},
          .monolith = std::move(monolith)};
}

// The shipping service alone, as its own process or as the one module of the monolith
// (docs/topologies.md). Per test (each runs in its own process).
class ShippingTest : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("shared"));
    system_ = new testing::System(*dir_, shipping_system(GetParam(), {"shipping"}));
    port_ = system_->port("shipping");
  }
  void TearDown() override {
    delete system_;
    system_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }
  static HttpResult call(const std::string& method, const std::string& target, const std::string& b = {}) {
    return checked(port_, method, target, b);
  }
  static std::string unique_order() {
    static std::atomic<int> n{0};
    return "order-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  }

  static inline fs::path* dir_ = nullptr;
  static inline testing::System* system_ = nullptr;
  static inline std::uint16_t port_ = 0;
};

TEST_P(ShippingTest, CreateGetListCancel) {
  auto order = unique_order();
  auto created = call("POST", "/shipments", body(order));
  ASSERT_EQ(created.status, 201) << created.body;
  auto s = created.json();
  std::string id = str(s, "id");
  EXPECT_EQ(id.size(), 36U);
  EXPECT_EQ(str(s, "order_id"), order);
  EXPECT_EQ(str(s, "customer_id"), "cust-1");
  EXPECT_EQ(str(s, "status"), "created");
  EXPECT_EQ(str(s, "created_at").size(), 24U);  // 2026-11-29T19:26:53.123Z
  EXPECT_EQ(str(s, "updated_at"), str(s, "created_at"));
  auto expected_address = address();
  expected_address["line2"] = "";
  EXPECT_EQ(s.at("address"), expected_address);
  EXPECT_EQ(s.as_object().size(), 7U);
  EXPECT_EQ(created.header("location"), "/shipments/" + id);
  EXPECT_EQ(created.header("content-type"), "application/json");

  auto got = call("GET", "/shipments/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), s);

  auto listed = call("GET", "/shipments?order_id=" + order);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json(), (boost::json::object{{"shipments", boost::json::array{s}}}));

  auto cancelled = call("POST", "/shipments/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  auto c = cancelled.json();
  EXPECT_EQ(str(c, "status"), "cancelled");
  EXPECT_EQ(str(c, "id"), id);
  EXPECT_EQ(str(c, "created_at"), str(s, "created_at"));
  EXPECT_GE(str(c, "updated_at"), str(s, "updated_at"));
  EXPECT_EQ(c.at("address"), s.at("address"));
  EXPECT_EQ(call("GET", "/shipments/" + id).json(), c);

  // Idempotent: again, with an empty-object body this time, changes nothing.
  auto again = call("POST", "/shipments/" + id + "/cancel", "{}");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json(), c);
}

TEST_P(ShippingTest, AddressIsStoredTrimmedWithOptionalLine2) {
  auto order = unique_order();
  boost::json::object a{{"name", "  Zoë Ng "}, {"line1", "Straße 5"},     {"line2", " Apt 3 "},
                        {"city", "Łódź"},      {"postal_code", "90-001"}, {"country", "PL"}};
  auto created = call("POST", "/shipments", body(order, "cust-9", a));
  ASSERT_EQ(created.status, 201) << created.body;
  boost::json::object expected{{"name", "Zoë Ng"}, {"line1", "Straße 5"},     {"line2", "Apt 3"},
                               {"city", "Łódź"},   {"postal_code", "90-001"}, {"country", "PL"}};
  EXPECT_EQ(created.json().at("address"), expected);
  // An untrimmed replay is the same request.
  auto replay = call("POST", "/shipments", body(order, "cust-9", expected));
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json(), created.json());
  // Absent line2 and "" are the same.
  auto order2 = unique_order();
  ASSERT_EQ(call("POST", "/shipments", body(order2)).status, 201);
  auto with_empty = address();
  with_empty["line2"] = "";
  EXPECT_EQ(call("POST", "/shipments", body(order2, "cust-1", with_empty)).status, 200);
}

TEST_P(ShippingTest, CreateIsIdempotentPerOrder) {
  auto order = unique_order();
  auto first = call("POST", "/shipments", body(order));
  ASSERT_EQ(first.status, 201) << first.body;

  auto replay = call("POST", "/shipments", body(order));
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json(), first.json());
  EXPECT_EQ(replay.header("location"), "");

  auto other_customer = call("POST", "/shipments", body(order, "cust-2"));
  EXPECT_EQ(other_customer.status, 409) << other_customer.body;
  EXPECT_EQ(other_customer.error_code(), "conflict");
  EXPECT_EQ(other_customer.error_field(), "order_id");

  for (auto [key, value] :
       {std::pair{"name", "Bob"}, std::pair{"line1", "2 Main St"}, std::pair{"line2", "Apt 1"},
        std::pair{"city", "Hamburg"}, std::pair{"postal_code", "20095"}, std::pair{"country", "AT"}}) {
    auto a = address();
    a[key] = value;
    auto r = call("POST", "/shipments", body(order, "cust-1", a));
    EXPECT_EQ(r.status, 409) << key << ": " << r.body;
    if (r.status == 409) {
      EXPECT_EQ(r.error_field(), "order_id") << key;
    }
  }

  // Whatever its status: after a cancel the replay still answers with the (now cancelled) shipment.
  std::string id = str(first.json(), "id");
  ASSERT_EQ(call("POST", "/shipments/" + id + "/cancel").status, 200);
  auto after_cancel = call("POST", "/shipments", body(order));
  ASSERT_EQ(after_cancel.status, 200) << after_cancel.body;
  EXPECT_EQ(str(after_cancel.json(), "id"), id);
  EXPECT_EQ(str(after_cancel.json(), "status"), "cancelled");

  auto listed = call("GET", "/shipments?order_id=" + order);
  EXPECT_EQ(listed.json().at("shipments").as_array().size(), 1U);
}

TEST_P(ShippingTest, TwentyParallelIdenticalCreatesMakeExactlyOneShipment) {
  auto order = unique_order();
  constexpr int kThreads = 20;
  std::vector<HttpResult> results(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { results[static_cast<std::size_t>(i)] = call("POST", "/shipments", body(order)); });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  int replayed = 0;
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.error << " " << r.body;
    (r.status == 201 ? created : replayed)++;
    ids.insert(str(r.json(), "id"));
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(replayed, kThreads - 1);
  EXPECT_EQ(ids.size(), 1U);
  auto listed = call("GET", "/shipments?order_id=" + order);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json().at("shipments").as_array().size(), 1U);
  EXPECT_EQ(str(listed.json().at("shipments").at(0), "id"), *ids.begin());
}

TEST_P(ShippingTest, ParallelConflictingCreatesLetOneAddressWin) {
  auto order = unique_order();
  constexpr int kThreads = 20;
  auto other = address();
  other["city"] = "Munich";
  std::vector<HttpResult> results(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          call("POST", "/shipments", body(order, "cust-1", i % 2 ? other : address()));
    });
  }
  for (auto& t : threads) t.join();
  auto listed = call("GET", "/shipments?order_id=" + order);
  ASSERT_EQ(listed.json().at("shipments").as_array().size(), 1U);
  std::string winner_city = str(listed.json().at("shipments").at(0).at("address"), "city");
  int created = 0;
  for (int i = 0; i < kThreads; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    bool same_as_winner = (i % 2 ? "Munich" : "Berlin") == winner_city;
    if (same_as_winner) {
      EXPECT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
      created += r.status == 201 ? 1 : 0;
    } else {
      EXPECT_EQ(r.status, 409) << r.body;
    }
  }
  EXPECT_EQ(created, 1);
}

struct BadInput {
  std::string name;
  std::string body;
  int status;
  std::string code;
  std::string field;  // "" when the error names no field
};

TEST_P(ShippingTest, BadCreateBodiesGetA400NamingTheField) {
  auto with = [](const std::string& key, boost::json::value v) {
    auto a = address();
    a[key] = std::move(v);
    return body("order-bad", "cust-1", a);
  };
  auto without = [](const std::string& key) {
    auto a = address();
    a.erase(key);
    return body("order-bad", "cust-1", a);
  };
  auto top = [](const boost::json::object& o) { return boost::json::serialize(o); };
  boost::json::string s201(201, 'x');
  const auto cases = std::to_array<BadInput>({
      {"malformed JSON", R"({"order_id":)", 400, "malformed_request", ""},
      {"empty body", "", 400, "malformed_request", ""},
      {"array body", "[1]", 400, "malformed_request", ""},
      {"invalid UTF-8", "{\"order_id\":\"\xff\"}", 400, "malformed_request", ""},
      {"missing order_id", top({{"customer_id", "c"}, {"address", address()}}), 400, "validation_failed",
       "order_id"},
      {"missing customer_id", top({{"order_id", "o"}, {"address", address()}}), 400, "validation_failed",
       "customer_id"},
      {"missing address", top({{"order_id", "o"}, {"customer_id", "c"}}), 400, "validation_failed",
       "address"},
      {"order_id a number", top({{"order_id", 7}, {"customer_id", "c"}, {"address", address()}}), 400,
       "validation_failed", "order_id"},
      {"order_id null", top({{"order_id", nullptr}, {"customer_id", "c"}, {"address", address()}}), 400,
       "validation_failed", "order_id"},
      {"order_id empty", body(""), 400, "validation_failed", "order_id"},
      {"order_id too long", body(std::string(129, 'o')), 400, "validation_failed", "order_id"},
      {"order_id control char", body("o\n1"), 400, "validation_failed", "order_id"},
      {"customer_id empty", body("o", ""), 400, "validation_failed", "customer_id"},
      {"customer_id an array",
       top({{"order_id", "o"}, {"customer_id", boost::json::array{}}, {"address", address()}}), 400,
       "validation_failed", "customer_id"},
      {"address a string", top({{"order_id", "o"}, {"customer_id", "c"}, {"address", "1 Main St"}}), 400,
       "validation_failed", "address"},
      {"address an array", top({{"order_id", "o"}, {"customer_id", "c"}, {"address", boost::json::array{}}}),
       400, "validation_failed", "address"},
      {"unknown top-level field",
       top({{"order_id", "o"}, {"customer_id", "c"}, {"address", address()}, {"x", 1}}), 400,
       "validation_failed", "x"},
      {"unknown address field", with("zip", "10115"), 400, "validation_failed", "address.zip"},
      {"name missing", without("name"), 400, "validation_failed", "address.name"},
      {"name empty", with("name", ""), 400, "validation_failed", "address.name"},
      {"name blank", with("name", "   "), 400, "validation_failed", "address.name"},
      {"name too long", with("name", s201), 400, "validation_failed", "address.name"},
      {"name a number", with("name", 1), 400, "validation_failed", "address.name"},
      {"name control char", with("name", "Ann\u0001"), 400, "validation_failed", "address.name"},
      {"line1 missing", without("line1"), 400, "validation_failed", "address.line1"},
      {"line1 too long", with("line1", s201), 400, "validation_failed", "address.line1"},
      {"line2 too long", with("line2", s201), 400, "validation_failed", "address.line2"},
      {"line2 a bool", with("line2", true), 400, "validation_failed", "address.line2"},
      {"city missing", without("city"), 400, "validation_failed", "address.city"},
      {"city empty", with("city", ""), 400, "validation_failed", "address.city"},
      {"city too long", with("city", s201), 400, "validation_failed", "address.city"},
      {"postal_code missing", without("postal_code"), 400, "validation_failed", "address.postal_code"},
      {"postal_code empty", with("postal_code", ""), 400, "validation_failed", "address.postal_code"},
      {"postal_code too long", with("postal_code", boost::json::string(21, '1')), 400, "validation_failed",
       "address.postal_code"},
      {"country missing", without("country"), 400, "validation_failed", "address.country"},
      {"country lower case", with("country", "de"), 400, "validation_failed", "address.country"},
      {"country three letters", with("country", "DEU"), 400, "validation_failed", "address.country"},
      {"country one letter", with("country", "D"), 400, "validation_failed", "address.country"},
      {"country digits", with("country", "12"), 400, "validation_failed", "address.country"},
      {"country unassigned", with("country", "ZZ"), 400, "validation_failed", "address.country"},
      {"country a name", with("country", "Germany"), 400, "validation_failed", "address.country"},
      {"country a number", with("country", 49), 400, "validation_failed", "address.country"},
  });
  for (const auto& c : cases) {
    auto r = call("POST", "/shipments", c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    if (r.status != c.status) continue;
    EXPECT_EQ(r.error_code(), c.code) << c.name;
    EXPECT_EQ(r.error_field(), c.field) << c.name;
    EXPECT_FALSE(r.json().at("error").at("message").as_string().empty()) << c.name;
    EXPECT_FALSE(r.json().at("error").at("request_id").as_string().empty()) << c.name;
  }
  // None of them created anything.
  for (const char* order : {"order-bad", "o", ""}) {
    auto listed = call("GET", std::string("/shipments?order_id=") + (*order ? order : "x"));
    EXPECT_TRUE(listed.json().at("shipments").as_array().empty()) << order;
  }
}

TEST_P(ShippingTest, BadQueriesAndCancelBodiesGetA400) {
  for (const char* target : {"/shipments", "/shipments?order_id=", "/shipments?orderid=o", "/shipments?"}) {
    auto r = call("GET", target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    if (r.status != 400) continue;
    EXPECT_EQ(r.error_code(), "validation_failed") << target;
    EXPECT_EQ(r.error_field(), "order_id") << target;
  }
  auto too_long = call("GET", "/shipments?order_id=" + std::string(129, 'o'));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.error_field(), "order_id");
  // Unknown orders are simply an empty list; query values are percent-decoded.
  auto none = call("GET", "/shipments?order_id=no%20such%20order");
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(none.json().at("shipments").as_array().empty());

  auto created = call("POST", "/shipments", body(unique_order()));
  ASSERT_EQ(created.status, 201);
  std::string id = str(created.json(), "id");
  const auto cases = std::to_array<BadInput>({
      {"cancel with unknown field", R"({"reason":"changed my mind"})", 400, "validation_failed", "reason"},
      {"cancel with malformed body", "nope", 400, "malformed_request", ""},
      {"cancel with array body", "[]", 400, "malformed_request", ""},
  });
  for (const auto& c : cases) {
    auto r = call("POST", "/shipments/" + id + "/cancel", c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    if (r.status != c.status) continue;
    EXPECT_EQ(r.error_code(), c.code) << c.name;
    EXPECT_EQ(r.error_field(), c.field) << c.name;
  }
  // The refused cancels did not cancel.
  EXPECT_EQ(str(call("GET", "/shipments/" + id).json(), "status"), "created");
}

TEST_P(ShippingTest, UnknownShipmentsAre404AndWrongMethods405) {
  auto missing = call("GET", "/shipments/does-not-exist");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_code(), "not_found");
  auto cancel_missing = call("POST", "/shipments/does-not-exist/cancel");
  EXPECT_EQ(cancel_missing.status, 404);
  EXPECT_EQ(cancel_missing.error_code(), "not_found");

  auto del = call("DELETE", "/shipments/some-id");
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.error_code(), "method_not_allowed");
  EXPECT_EQ(del.header("allow"), "GET, HEAD");
  auto get_cancel = call("GET", "/shipments/some-id/cancel");
  EXPECT_EQ(get_cancel.status, 405);
  EXPECT_EQ(get_cancel.header("allow"), "POST");
  EXPECT_EQ(call("PUT", "/shipments").status, 405);

  std::string huge(std::size_t{2} * 1024 * 1024, 'x');
  auto too_large = call("POST", "/shipments", body("order-huge", huge));
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.error_code(), "payload_too_large");
}

TEST_P(ShippingTest, HealthReadinessAndMetrics) {
  auto port = port_;
  EXPECT_EQ(testing::http(port, "GET", "/health/live").status, 200);
  auto ready = testing::http(port, "GET", "/health/ready");
  ASSERT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  call("GET", "/shipments/metric-probe");
  auto metrics = testing::http(port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find(
                R"(http_server_requests_total{method="GET",route="/shipments/{id}",status_class="4xx"})"),
            std::string::npos);
}

class ShippingGateway : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(ShippingGateway, ShipmentsAreReachableThroughTheGateway) {
  auto dir = testing::temp_dir("gateway");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, shipping_system(GetParam(), {"shipping", "gateway"})));
  auto shipping_port = system->port("shipping");
  auto gateway_port = system->port("gateway");

  // Shipments are created by the saga on the service's own port, not through the gateway.
  auto refused =
      checked(gateway_port, "POST", "/shipments", body("gw-order"), {{"X-Request-ID", "gw-1"}}, "/api");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.json().at("error").at("request_id").as_string(), "gw-1");
  auto created = checked(shipping_port, "POST", "/shipments", body("gw-order"), {});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = str(created.json(), "id");
  EXPECT_EQ(checked(gateway_port, "GET", "/shipments/" + id, {}, {}, "/api").json(), created.json());
  auto listed = checked(gateway_port, "GET", "/shipments?order_id=gw-order", {}, {}, "/api");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json().at("shipments").as_array().size(), 1U);
  auto cancelled = checked(gateway_port, "POST", "/shipments/" + id + "/cancel", {}, {}, "/api");
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(str(cancelled.json(), "status"), "cancelled");
  auto bad = checked(gateway_port, "GET", "/shipments", {}, {{"X-Request-ID", "gw-bad"}}, "/api");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json().at("error").at("request_id").as_string(), "gw-bad");
  system.reset();
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Topologies, ShippingTest, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, ShippingGateway, testing::kTopologies, testing::topology_name);

// With a broker configured, every change leaves through the outbox to the broker, keyed by the order:
// shipment.created, then shipment.cancelled. The replayed create between them publishes nothing (the
// broker keeps one subject's events in order, so it would show up as the second event), and neither
// does the repeated cancel: once a later change (another order's shipment) is published, everything
// committed before it has been, and the counters are exact.
class ShippingEvents : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(ShippingEvents, PublishesItsChangesToTheBrokerKeyedByTheOrder) {
  MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_NATS_URL");
  auto dir = testing::temp_dir("shipping-events");
  auto prefix = "e2e" + random_hex(5);
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(
      dir,
      shipping_system(GetParam(), {"shipping"}, {{"APP_EVENTS__URL", url}, {"APP_EVENTS__PREFIX", prefix}})));
  auto shipping_port = system->port("shipping");
  testing::EventProbe probe(url, prefix, {"shipment.created", "shipment.cancelled"});
  ASSERT_EQ(probe.error(), "");

  auto created =
      checked(shipping_port, "POST", "/shipments", body("ev-order"), {{"traceparent", kTraceparent}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = str(created.json(), "id");
  ASSERT_EQ(checked(shipping_port, "POST", "/shipments", body("ev-order")).status, 200);  // a replay
  auto cancelled = checked(shipping_port, "POST", "/shipments/" + id + "/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  ASSERT_EQ(checked(shipping_port, "POST", "/shipments/" + id + "/cancel").status, 200);  // changes nothing
  ASSERT_EQ(checked(shipping_port, "POST", "/shipments", body("ev-later")).status, 201);

  EXPECT_EQ(
      testing::wait_metric(shipping_port, R"(mercato_events_published_total{type="shipment.created"})", 2),
      2);
  EXPECT_EQ(testing::metric(shipping_port, R"(mercato_events_published_total{type="shipment.cancelled"})"),
            1);
  auto seen = probe.wait_for("ev-order", 2);
  ASSERT_EQ(seen.size(), 2U) << system->logs();
  EXPECT_EQ(seen[0].type, "shipment.created");
  EXPECT_EQ(seen[0].source, "/mercato/shipping");
  EXPECT_EQ(trace_id(seen[0].traceparent), trace_id(kTraceparent)) << "the request's trace goes on";
  auto c = data_of(seen[0]);
  EXPECT_EQ(c.at("shipment_id").as_string(), id);
  EXPECT_EQ(c.at("order_id").as_string(), "ev-order");
  EXPECT_EQ(c.at("customer_id").as_string(), "cust-1");
  EXPECT_EQ(c.at("status").as_string(), "created");
  EXPECT_EQ(c.at("address"), created.json().at("address"));
  EXPECT_EQ(c.at("created_at"), created.json().at("created_at"));
  EXPECT_EQ(seen[1].type, "shipment.cancelled");
  auto x = data_of(seen[1]);
  EXPECT_EQ(x.at("shipment_id").as_string(), id);
  EXPECT_EQ(x.at("status").as_string(), "cancelled");
  EXPECT_EQ(x.at("cancelled_at"), cancelled.json().at("updated_at"));
  system.reset();
  fs::remove_all(dir);
}

// In the monolith the kill takes the whole process (a module cannot crash alone), and the restart is the
// monolith's.
class ShippingRestart : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(ShippingRestart, ShipmentsAndTheOnePerOrderRuleSurviveARestart) {
  auto dir = testing::temp_dir("restart");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, shipping_system(GetParam(), {"shipping"})));
  auto shipping_port = system->port("shipping");
  auto created = checked(shipping_port, "POST", "/shipments", body("restart-order"));
  ASSERT_EQ(created.status, 201) << created.body;

  system->process_of("shipping").signal(SIGKILL);
  ASSERT_TRUE(system->process_of("shipping").wait(5s));
  ASSERT_NO_THROW(system->restart("shipping"));

  auto got = checked(shipping_port, "GET", "/shipments/" + str(created.json(), "id"));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), created.json());
  EXPECT_EQ(checked(shipping_port, "POST", "/shipments", body("restart-order")).status, 200);
  EXPECT_EQ(checked(shipping_port, "POST", "/shipments", body("restart-order", "someone-else")).status, 409);
  system.reset();
  fs::remove_all(dir);
}

// --- the order saga -----------------------------------------------------------------------------------

// The saga's commands published on the broker as the order service sends them; each is answered once,
// keyed by its order, in the order the order's commands were sent. AQ is configured as a country the
// carrier does not serve, which is how a test (or an operator) makes the shipping step fail.
class ShippingSaga : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(ShippingSaga, EachCommandIsAnsweredOnceOverTheBroker) {
  MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_NATS_URL");
  auto dir = testing::temp_dir("shipping-saga");
  auto prefix = "e2e" + random_hex(5);
  testing::EventProbe answers(url, prefix, {"shipment.created", "shipment.failed", "shipment.cancelled"});
  ASSERT_EQ(answers.error(), "");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, shipping_system(GetParam(), {"shipping"},
                                                      {{"APP_EVENTS__URL", url},
                                                       {"APP_EVENTS__PREFIX", prefix},
                                                       {"APP_SHIPPING__UNSERVED_COUNTRIES", "AQ"}})));
  auto shipping_port = system->port("shipping");
  auto transport = events::open_transport({.url = url, .prefix = prefix});
  ASSERT_TRUE(transport) << transport.error().message;
  auto send = [&](const std::string& type, const std::string& order_id, const boost::json::object& data) {
    auto e = events::make_event("order", type, order_id, boost::json::serialize(data), kTraceparent);
    auto sent = (*transport)->publish(e);
    EXPECT_TRUE(sent) << sent.error().message;
    return e;
  };
  auto create = [&](const std::string& order_id, const std::string& country) {
    auto a = address();
    a["country"] = country;
    return send("shipment.create_requested", order_id,
                {{"order_id", order_id}, {"customer_id", "cust-saga"}, {"shipping_address", a}});
  };
  auto cancel = [&](const std::string& order_id) {
    return send("shipment.cancel_requested", order_id,
                {{"order_id", order_id}, {"reason", "payment declined"}});
  };

  // ss-ok: created; the same command published again (the broker's dedupe window or the inbox drops it);
  // the create again under a new id (answered from the shipment, not created again); cancelled; the
  // cancel again under a new id (the same cancellation). The same create with another address is not
  // the order's shipment (shipment_conflict): the shipping saga handler tests cover it.
  auto first = create("ss-ok", "DE");
  ASSERT_TRUE((*transport)->publish(first));
  create("ss-ok", "DE");
  cancel("ss-ok");
  cancel("ss-ok");
  // ss-aq: the carrier does not serve AQ; the compensating cancel finds nothing to cancel.
  create("ss-aq", "AQ");
  cancel("ss-aq");
  // ss-bad: an address the domain refuses.
  create("ss-bad", "Germany");

  auto ok = answers.wait_for("ss-ok", 4);
  ASSERT_EQ(ok.size(), 4U) << system->logs();
  for (const auto& e : ok) {
    EXPECT_EQ(e.source, "/mercato/shipping");
    EXPECT_EQ(trace_id(e.traceparent), trace_id(kTraceparent)) << "the command's trace goes on";
    EXPECT_EQ(data_of(e).at("order_id").as_string(), "ss-ok");
  }
  EXPECT_EQ(ok[0].type, "shipment.created");
  EXPECT_EQ(data_of(ok[0]).at("address").at("country").as_string(), "DE");
  EXPECT_EQ(ok[1].type, "shipment.created");
  EXPECT_EQ(data_of(ok[1]), data_of(ok[0]));
  EXPECT_EQ(ok[2].type, "shipment.cancelled");
  EXPECT_EQ(data_of(ok[2]).at("shipment_id"), data_of(ok[0]).at("shipment_id"));
  EXPECT_EQ(ok[3].type, "shipment.cancelled");
  EXPECT_EQ(data_of(ok[3]), data_of(ok[2]));
  auto aq = answers.wait_for("ss-aq", 2);
  ASSERT_EQ(aq.size(), 2U);
  EXPECT_EQ(aq[0].type, "shipment.failed");
  EXPECT_EQ(data_of(aq[0]),
            (boost::json::object{{"order_id", "ss-aq"},
                                 {"reason", "address.country: the carrier does not deliver to AQ"}}));
  EXPECT_EQ(aq[1].type, "shipment.cancelled");
  EXPECT_FALSE(data_of(aq[1]).contains("shipment_id"));
  auto bad = answers.wait_for("ss-bad", 1);
  ASSERT_EQ(bad.size(), 1U);
  EXPECT_EQ(bad[0].type, "shipment.failed");
  EXPECT_EQ(std::string(data_of(bad[0]).at("reason").as_string()).rfind("address.country:", 0), 0U)
      << bad[0].data;

  // One order's answers arrive in the order of its commands: each order's last answer came after any a
  // redelivered command could have caused, so these counts are final.
  std::map<std::string, int> per_order;
  for (const auto& e : answers.seen()) per_order[e.subject]++;
  EXPECT_EQ(per_order, (std::map<std::string, int>{{"ss-ok", 4}, {"ss-aq", 2}, {"ss-bad", 1}}));
  auto listed = checked(shipping_port, "GET", "/shipments?order_id=ss-ok");
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json().at("shipments").as_array().size(), 1U) << "created once";
  EXPECT_EQ(str(listed.json().at("shipments").at(0), "status"), "cancelled");
  EXPECT_TRUE(
      checked(shipping_port, "GET", "/shipments?order_id=ss-aq").json().at("shipments").as_array().empty());
  system.reset();
  fs::remove_all(dir);
}

// Both topologies refuse to start: the service's process, or the whole monolith.
TEST_P(ShippingSaga, AnUnservedCountryThatIsNoCountryStopsTheServiceAtStartUp) {
  auto dir = testing::temp_dir("shipping-unserved");
  try {
    testing::System system(
        dir, shipping_system(GetParam(), {"shipping"}, {{"APP_SHIPPING__UNSERVED_COUNTRIES", "AQ,Germany"}}));
    ADD_FAILURE() << "started:\n" << system.logs();
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("exited with status 2"), std::string::npos) << what;
    EXPECT_NE(what.find("shipping.unserved_countries"), std::string::npos) << what;
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Topologies, ShippingEvents, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, ShippingRestart, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, ShippingSaga, testing::kTopologies, testing::topology_name);

}  // namespace
}  // namespace mercato
