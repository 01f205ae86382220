// One order is one trace: the whole system with tracing on at 100% (OTEL_* variables, as an operator
// sets them), exporting to the strict OTLP receiver of lib/testing. An order placed through the gateway
// must come back as a single trace with spans from the gateway and all six services — the gateway's
// request, the order service's gRPC calls to user and inventory, the saga's commands and answers
// through the broker, every participant's handling and transactions, the notification — every span's
// parent in the trace (one root: the gateway's request), and the semantic-convention attributes on each
// kind of span. Separate processes over NATS; the monolith too (its events in process, its calls
// between modules local).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/otlp_receiver.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;
using testing::ReceivedSpan;

constexpr const char* kAddress =
    R"({"name":"Ann Lee","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"})";
// The services a customer's order crosses: all but the user service, which a customer's own order does
// not ask (their token proves they exist, ADR 0021); its part is checked in a registration's trace below.
const std::set<std::string> kOrderServices{"gateway", "order",    "inventory",
                                           "payment", "shipping", "notification"};
constexpr int kServer = 2;
constexpr int kClient = 3;
constexpr int kProducer = 4;
constexpr int kConsumer = 5;

std::string field(const HttpResult& r, const char* name) {
  auto v = r.json();
  const auto* f = v.is_object() ? v.as_object().if_contains(name) : nullptr;
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
}

std::vector<ReceivedSpan> in_trace(const std::vector<ReceivedSpan>& all, const std::string& trace_id) {
  std::vector<ReceivedSpan> out;
  for (const auto& s : all) {
    if (s.trace_id == trace_id) out.push_back(s);
  }
  return out;
}

// Every parent present, every service seen, and the last step of all — the notification handling
// order.confirmed, which the order service appends with the trace of the answer that confirmed it — in
// the trace: it is whole (spans of one trace arrive in several exports, from up to seven processes, in no
// particular order).
bool complete(const std::vector<ReceivedSpan>& trace) {
  std::set<std::string> ids;
  std::set<std::string> services;
  bool committed = false;
  for (const auto& s : trace) {
    ids.insert(s.span_id);
    services.insert(s.service);
    committed = committed ||
                (s.service == "notification" && s.kind == kConsumer && s.name == "process order.confirmed");
  }
  for (const auto& s : trace) {
    if (!s.parent_span_id.empty() && ids.count(s.parent_span_id) == 0) return false;
  }
  return committed && services == kOrderServices;
}

std::string describe(const std::vector<ReceivedSpan>& trace) {
  std::ostringstream out;
  for (const auto& s : trace) {
    out << "  " << s.service << " kind=" << s.kind << " '" << s.name << "' " << s.span_id << " <- "
        << (s.parent_span_id.empty() ? "(root)" : s.parent_span_id) << "\n";
  }
  return out.str();
}

// The first span of `trace` of `kind` that has `key` set, or nullptr.
const ReceivedSpan* with(const std::vector<ReceivedSpan>& trace, int kind, const std::string& key) {
  for (const auto& s : trace) {
    if (s.kind == kind && s.attributes.count(key) != 0) return &s;
  }
  return nullptr;
}

void expect_attributes(const ReceivedSpan* span, const std::vector<std::string>& keys,
                       const std::string& what) {
  ASSERT_NE(span, nullptr) << "no " << what << " span";
  for (const auto& k : keys)
    EXPECT_EQ(span->attributes.count(k), 1U) << what << " span '" << span->name << "' lacks " << k;
}

class TracingE2E : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    testing::SystemSettings settings{.topology = GetParam()};
    if (GetParam() == testing::Topology::kProcesses) {
      MERCATO_BROKER_URL_OR_SKIP(url, "nats");
      settings.broker_url = url;
      settings.common["APP_EVENTS__PREFIX"] = "trace" + random_hex(5);
    }
    dir_ = testing::temp_dir("tracing");
    auto admin_password = dir_ / "admin-password";
    std::ofstream(admin_password) << "admin password for tracing";
    settings.per_service["user"]["APP_AUTH__ADMIN__PASSWORD_FILE"] = admin_password.string();
    settings.per_service["notification"]["APP_NOTIFICATION__OUTBOX_FILE"] = (dir_ / "outbox.log").string();
    // The standard variables every process inherits: all spans, exported every 100 ms. The ratio
    // sampler at 1 also checks that the sampled flag is followed downstream (parent-based).
    ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver_.endpoint().c_str(), 1);
    ::setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", 1);
    ::setenv("OTEL_TRACES_SAMPLER_ARG", "1.0", 1);
    ::setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    system_ = std::make_unique<testing::System>(dir_, std::move(settings));
    gateway_ = system_->port("gateway");
  }

  void TearDown() override {
    system_.reset();
    for (const char* v : {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
                          "OTEL_BSP_SCHEDULE_DELAY"})
      ::unsetenv(v);
    fs::remove_all(dir_);
  }

  HttpResult call(const std::string& token, const std::string& method, const std::string& target,
                  const std::string& body = {}) {
    return testing::http(gateway_, method, target, body,
                         {{"Authorization", token.empty() ? "" : "Bearer " + token}});
  }

  std::string login(const std::string& email, const std::string& password) {
    auto r = call("", "POST", "/api/auth/login",
                  boost::json::serialize(boost::json::object{{"email", email}, {"password", password}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return field(r, "access_token");
  }

  testing::OtlpReceiver receiver_;  // before the system: its processes export to it until they stop
  fs::path dir_;
  std::unique_ptr<testing::System> system_;
  std::uint16_t gateway_ = 0;
};

TEST_P(TracingE2E, OneOrderIsOneTraceAcrossEveryService) {
  auto admin = login("admin@mercato.local", "admin password for tracing");
  auto sku = "trace-" + random_hex(4);
  auto stocked =
      call(admin, "PUT", "/api/inventory/" + sku, R"({"name":"Mug","price_cents":1299,"available":5})");
  ASSERT_TRUE(stocked.status == 200 || stocked.status == 201) << stocked.body;
  auto email = "trace-" + random_hex(6) + "@example.com";
  std::string register_trace = random_hex(16);  // checked at the end: the account's insert is in it
  auto registered =
      testing::http(gateway_, "POST", "/api/users",
                    R"({"email":")" + email + R"(","name":"Ann Lee","password":"correct horse"})",
                    {{"traceparent", "00-" + register_trace + "-" + random_hex(8) + "-01"}});
  ASSERT_EQ(registered.status, 201) << registered.body;
  auto customer = login(email, "correct horse");

  auto placed =
      call(customer, "POST", "/api/orders",
           R"({"items":[{"product_id":")" + sku +
               R"(","quantity":2}],"payment_token":"tok_visa","shipping_address":)" + kAddress + "}");
  ASSERT_EQ(placed.status, 201) << placed.body;
  auto order_id = field(placed, "id");

  // The order's trace: the one whose root is the gateway's POST /api/orders.
  std::string trace_id;
  receiver_.wait_for(
      [&](const auto& all) {
        for (const auto& s : all) {
          if (s.service == "gateway" && s.kind == kServer && s.parent_span_id.empty() &&
              s.attributes.count("http.request.method") != 0 &&
              s.attributes.at("http.request.method") == "POST" && s.attributes.count("url.path") != 0 &&
              s.attributes.at("url.path") == "/api/orders") {
            trace_id = s.trace_id;
            return true;
          }
        }
        return false;
      },
      20s);
  ASSERT_FALSE(trace_id.empty()) << "no gateway span for POST /api/orders; " << receiver_.spans().size()
                                 << " spans received\n"
                                 << system_->logs();
  auto trace = in_trace(
      receiver_.wait_for([&](const auto& all) { return complete(in_trace(all, trace_id)); }, 40s), trace_id);
  ASSERT_TRUE(complete(trace)) << "the order's trace is not whole:\n" << describe(trace);
  EXPECT_EQ(receiver_.rejected(), 0) << receiver_.rejections().front();

  // One trace, one root (the gateway's request), every parent in the trace, every span sampled.
  std::set<std::string> ids;
  int roots = 0;
  std::set<std::string> services;
  for (const auto& s : trace) {
    EXPECT_TRUE(ids.insert(s.span_id).second) << "span id " << s.span_id << " twice";
    services.insert(s.service);
    EXPECT_EQ(s.flags & 1U, 1U) << s.name;
    if (s.parent_span_id.empty()) {
      ++roots;
      EXPECT_EQ(s.service, "gateway");
      EXPECT_EQ(s.kind, kServer);
    }
  }
  EXPECT_EQ(roots, 1) << describe(trace);
  EXPECT_EQ(services, kOrderServices) << describe(trace);

  // The semantic conventions, on at least one span of each kind.
  expect_attributes(with(trace, kServer, "http.route"),
                    {"http.request.method", "http.route", "http.response.status_code", "url.path",
                     "server.address", "server.port"},
                    "HTTP server");
  expect_attributes(
      with(trace, kClient, "http.request.method"),
      {"http.request.method", "http.response.status_code", "url.path", "server.address", "server.port"},
      "HTTP client");
  expect_attributes(with(trace, kServer, "rpc.system"),
                    {"rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code"}, "gRPC server");
  expect_attributes(
      with(trace, kClient, "rpc.system"),
      {"rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code", "server.address", "server.port"},
      "gRPC client");
  expect_attributes(with(trace, kClient, "db.system"), {"db.system", "db.operation"}, "database");
  expect_attributes(
      with(trace, kProducer, "messaging.system"),
      {"messaging.system", "messaging.operation", "messaging.destination.name", "messaging.message.id"},
      "publish");
  expect_attributes(
      with(trace, kConsumer, "messaging.system"),
      {"messaging.system", "messaging.operation", "messaging.destination.name", "messaging.message.id"},
      "process");
  const auto* rpc = with(trace, kClient, "rpc.system");
  if (rpc != nullptr) {
    EXPECT_EQ(rpc->attributes.at("rpc.system"), "grpc");
  }
  const auto* db = with(trace, kClient, "db.system");
  if (db != nullptr) {
    EXPECT_EQ(db->attributes.at("db.system"), "sqlite");
  }
  const auto* publish = with(trace, kProducer, "messaging.operation");
  if (publish != nullptr) {
    EXPECT_EQ(publish->attributes.at("messaging.operation"), "publish");
  }
  const auto* process = with(trace, kConsumer, "messaging.operation");
  if (process != nullptr) {
    EXPECT_EQ(process->attributes.at("messaging.operation"), "process");
  }
  // The placement's transaction is a span of the order service's POST /orders (an async handler: the
  // order service installs the context for the transaction itself).
  const ReceivedSpan* placement = nullptr;
  for (const auto& s : trace) {
    if (s.service == "order" && s.kind == kServer && s.attributes.count("http.route") != 0 &&
        s.attributes.at("http.route") == "/orders" && s.attributes.at("http.request.method") == "POST")
      placement = &s;
  }
  ASSERT_NE(placement, nullptr) << describe(trace);
  bool placed_in_db = false;
  for (const auto& s : trace) {
    placed_in_db =
        placed_in_db || (s.service == "order" && s.kind == kClient && s.attributes.count("db.system") != 0 &&
                         s.parent_span_id == placement->span_id);
  }
  EXPECT_TRUE(placed_in_db) << "no database span under the order service's POST /orders\n" << describe(trace);
  // Every participant handled a saga message inside this trace.
  for (const auto* participant : {"inventory", "payment", "shipping", "notification"}) {
    bool consumed = false;
    for (const auto& s : trace) consumed = consumed || (s.service == participant && s.kind == kConsumer);
    EXPECT_TRUE(consumed) << participant << " has no CONSUMER span in the order's trace\n" << describe(trace);
  }
  EXPECT_FALSE(order_id.empty());

  // Work an async handler does synchronously is inside the request's trace too (http::Request::tracer,
  // a scope around it): the order list's query after its wait for the read model, and the account's
  // insert on the user service's blocking pool.
  auto expect_query_under = [&](const std::string& which, const std::string& service,
                                const std::string& method, const std::string& route) {
    auto spans = in_trace(receiver_.wait_for(
                              [&](const auto& all) {
                                auto t = in_trace(all, which);
                                return std::any_of(t.begin(), t.end(), [&](const auto& s) {
                                  return s.service == service && s.kind == kClient &&
                                         s.attributes.count("db.system") != 0;
                                });
                              },
                              20s),
                          which);
    const ReceivedSpan* server = nullptr;
    for (const auto& s : spans) {
      if (s.service == service && s.kind == kServer && s.attributes.count("http.route") != 0 &&
          s.attributes.at("http.route") == route && s.attributes.at("http.request.method") == method)
        server = &s;
    }
    ASSERT_NE(server, nullptr) << method << " " << route << "\n" << describe(spans);
    bool queried = false;
    for (const auto& s : spans) {
      queried = queried || (s.service == service && s.kind == kClient &&
                            s.attributes.count("db.system") != 0 && s.parent_span_id == server->span_id);
    }
    EXPECT_TRUE(queried) << "no database span under " << service << "'s " << method << " " << route << "\n"
                         << describe(spans);
  };
  std::string list_trace = random_hex(16);
  auto listed = testing::http(gateway_, "GET", "/api/orders", "",
                              {{"Authorization", "Bearer " + customer},
                               {"traceparent", "00-" + list_trace + "-" + random_hex(8) + "-01"}});
  ASSERT_EQ(listed.status, 200) << listed.body;
  expect_query_under(list_trace, "order", "GET", "/orders");
  expect_query_under(register_trace, "user", "POST", "/users");
}

TEST_P(TracingE2E, UnsampledRequestsAreNotExportedButStillPropagate) {
  // A caller that says "not sampled": the parent-based sampler follows it in every service.
  auto unsampled = "00-" + random_hex(16) + "-" + random_hex(8) + "-00";
  // A product that is not there: answered by the inventory service (404), so both processes take part.
  auto r = testing::http(gateway_, "GET", "/api/inventory/none", "",
                         {{"traceparent", unsampled}, {"Authorization", ""}});
  ASSERT_EQ(r.status, 404) << r.body;
  auto sampled_id = random_hex(16);
  auto sampled = "00-" + sampled_id + "-" + random_hex(8) + "-01";
  auto s = testing::http(gateway_, "GET", "/api/inventory/none", "",
                         {{"traceparent", sampled}, {"Authorization", ""}});
  ASSERT_EQ(s.status, 404) << s.body;
  // The sampled request's spans arrive (gateway and inventory) ...
  auto all = receiver_.wait_for(
      [&](const auto& spans) {
        std::set<std::string> seen;
        for (const auto& x : in_trace(spans, sampled_id)) seen.insert(x.service);
        return seen.count("gateway") != 0 && seen.count("inventory") != 0;
      },
      20s);
  // The gateway's server and client spans, the inventory's server span and its (sync route's) read.
  ASSERT_EQ(in_trace(all, sampled_id).size(), 4U) << describe(in_trace(all, sampled_id));
  // ... and, exported in the same or an earlier batch by the same processes, none of the unsampled one.
  EXPECT_TRUE(in_trace(all, unsampled.substr(3, 32)).empty());
}

// A bad OTEL_* value stops a service at start, naming the variable, before it listens.
TEST(TracingConfigE2E, ABadVariableStopsTheServiceNamingIt) {
  struct Case {
    const char* variable;
    const char* value;
  };
  for (const auto& c : {Case{"OTEL_TRACES_SAMPLER", "sometimes"}, Case{"OTEL_BSP_MAX_QUEUE_SIZE", "lots"},
                        Case{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"}}) {
    testing::Process p(testing::binary("payment"), {"--check-config"}, {{c.variable, c.value}});
    auto status = p.wait(10s);
    ASSERT_TRUE(status.has_value()) << c.variable;
    EXPECT_EQ(*status, 2) << c.variable << "\n" << p.log();
    EXPECT_NE(p.log().find(c.variable), std::string::npos) << p.log();
  }
}

INSTANTIATE_TEST_SUITE_P(Topologies, TracingE2E, testing::kTopologies, testing::topology_name);

}  // namespace
}  // namespace mercato
