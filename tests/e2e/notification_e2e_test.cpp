// End to end: the real notification service (and the gateway in front of it), as child processes on free
// loopback ports or as modules of the monolith (docs/topologies.md, testing::System), driven over HTTP
// exactly as a client would. The outbox file the service
// writes is read back to see what was actually sent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
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
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

using testing::data_of;
using testing::kTraceparent;
using testing::trace_id;

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;

// The outbox of a system under `dir`: in directories that do not exist yet, which the service must create.
fs::path outbox_in(const fs::path& dir) { return dir / "mail" / "out" / "outbox.log"; }

// The notification service (and the services in `services`) in `topology`, writing its outbox to
// outbox_in(dir), with `env` for the notification service besides; by default four I/O threads (the
// monolith's shared ones there) and four database connections, so parallel requests really race inside
// the service.
testing::SystemSettings notification_system(testing::Topology topology, std::vector<std::string> services,
                                            const fs::path& dir,
                                            std::map<std::string, std::string> env = {
                                                {"APP_SERVER__THREADS", "4"},
                                                {"APP_DATABASE__CONNECTIONS", "4"}}) {
  env.try_emplace("APP_NOTIFICATION__OUTBOX_FILE", outbox_in(dir).string());
  std::map<std::string, std::string> monolith;
  if (auto threads = env.find("APP_SERVER__THREADS"); threads != env.end())
    monolith["APP_MONOLITH__SERVER__THREADS"] = threads->second;
  return {.topology = topology,
          .services = std::move(services),
          .per_service = {{"notification", std::move(env)}},
          .monolith = std::move(monolith)};
}

// Every outbox line, parsed (a line that is not a JSON object fails the test).
std::vector<boost::json::object> outbox_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<boost::json::object> out;
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    EXPECT_FALSE(ec) << "outbox line is not JSON: " << line;
    EXPECT_TRUE(!ec && v.is_object()) << line;
    if (!ec && v.is_object()) out.push_back(v.as_object());
  }
  return out;
}

// The outbox lines for one (order_id, kind).
std::vector<boost::json::object> sent_for(const fs::path& path, const std::string& order_id,
                                          const std::string& kind) {
  std::vector<boost::json::object> out;
  for (auto& line : outbox_lines(path)) {
    if (line.at("order_id").as_string() == order_id && line.at("kind").as_string() == kind)
      out.push_back(line);
  }
  return out;
}

// Every answer from the notification service is held to its contract (api/notification.yaml).
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

std::string body(const std::string& customer, const std::string& order,
                 const std::string& kind = "order_confirmed",
                 const std::string& message = "Thank you for your order!") {
  return boost::json::serialize(boost::json::object{
      {"customer_id", customer}, {"order_id", order}, {"kind", kind}, {"message", message}});
}

// The notification service alone, as its own process or as the one module of the monolith
// (docs/topologies.md). Per test (each runs in its own process).
class NotificationTest : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("shared"));
    system_ = new testing::System(*dir_, notification_system(GetParam(), {"notification"}, *dir_));
    port_ = system_->port("notification");
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
  static std::string unique(const std::string& what) {
    static std::atomic<int> n{0};
    return what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  }
  static fs::path outbox() { return outbox_in(*dir_); }

  static inline fs::path* dir_ = nullptr;
  static inline testing::System* system_ = nullptr;
  static inline std::uint16_t port_ = 0;
};

TEST_P(NotificationTest, SendRecordsAndWritesOneOutboxLine) {
  auto customer = unique("cust");
  auto order = unique("order");
  auto sent =
      call("POST", "/notifications", body(customer, order, "order_confirmed", "Line one\nLine \"two\""));
  ASSERT_EQ(sent.status, 201) << sent.body;
  auto n = sent.json();
  std::string id = str(n, "id");
  EXPECT_EQ(id.size(), 36U);
  EXPECT_EQ(str(n, "customer_id"), customer);
  EXPECT_EQ(str(n, "order_id"), order);
  EXPECT_EQ(str(n, "kind"), "order_confirmed");
  EXPECT_EQ(str(n, "message"), "Line one\nLine \"two\"");
  EXPECT_EQ(str(n, "created_at").size(), 24U);  // 2026-11-29T19:26:53.123Z
  EXPECT_EQ(n.as_object().size(), 6U);
  EXPECT_EQ(sent.header("content-type"), "application/json");

  auto lines = sent_for(outbox(), order, "order_confirmed");
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], (boost::json::object{{"id", id},
                                           {"to", customer},
                                           {"order_id", order},
                                           {"kind", "order_confirmed"},
                                           {"subject", "Your order has been confirmed"},
                                           {"message", "Line one\nLine \"two\""},
                                           {"created_at", str(n, "created_at")}}));

  auto listed = call("GET", "/notifications?customer_id=" + customer);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json(), (boost::json::object{{"notifications", boost::json::array{n}}}));
}

TEST_P(NotificationTest, EachKindHasItsSubject) {
  auto customer = unique("cust");
  auto order = unique("order");
  const auto kinds = std::to_array<std::pair<const char*, const char*>>(
      {{"order_confirmed", "Your order has been confirmed"},
       {"order_cancelled", "Your order has been cancelled"},
       {"payment_failed", "Your payment did not go through"},
       {"shipment_created", "Your order is on its way"}});
  for (auto [kind, subject] : kinds) {
    auto r = call("POST", "/notifications", body(customer, order, kind));
    ASSERT_EQ(r.status, 201) << kind << ": " << r.body;
    EXPECT_EQ(str(r.json(), "kind"), kind);
    auto lines = sent_for(outbox(), order, kind);
    ASSERT_EQ(lines.size(), 1U) << kind;
    EXPECT_EQ(lines[0].at("subject").as_string(), subject);
  }
  EXPECT_EQ(
      call("GET", "/notifications?customer_id=" + customer).json().at("notifications").as_array().size(), 4U);
}

TEST_P(NotificationTest, RepeatedOrderAndKindIsSentOnce) {
  auto customer = unique("cust");
  auto order = unique("order");
  auto first = call("POST", "/notifications", body(customer, order));
  ASSERT_EQ(first.status, 201) << first.body;

  auto again = call("POST", "/notifications", body(customer, order));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json(), first.json());
  // A different message or recipient for the same pair is not that notification: 409 naming the order,
  // never answered as sent (issue 15: a notice posted first must not stand for the real one).
  auto reworded =
      call("POST", "/notifications", body(customer, order, "order_confirmed", "Confirmed again?"));
  ASSERT_EQ(reworded.status, 409) << reworded.body;
  EXPECT_EQ(str(reworded.json().at("error"), "field"), "order_id") << reworded.body;
  auto elsewhere = call("POST", "/notifications", body(unique("cust"), order));
  ASSERT_EQ(elsewhere.status, 409) << elsewhere.body;

  auto lines = sent_for(outbox(), order, "order_confirmed");
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].at("id").as_string(), str(first.json(), "id"));
  EXPECT_EQ(
      call("GET", "/notifications?customer_id=" + customer).json().at("notifications").as_array().size(), 1U);

  // Another kind for the same order is a new notification with its own line.
  auto cancelled = call("POST", "/notifications", body(customer, order, "order_cancelled", "Cancelled."));
  EXPECT_EQ(cancelled.status, 201) << cancelled.body;
  EXPECT_EQ(sent_for(outbox(), order, "order_cancelled").size(), 1U);
  EXPECT_EQ(sent_for(outbox(), order, "order_confirmed").size(), 1U);
}

TEST_P(NotificationTest, TwentyParallelRepeatsWriteExactlyOneLine) {
  auto customer = unique("cust");
  auto order = unique("order");
  constexpr int kThreads = 20;
  std::vector<HttpResult> results(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] = call("POST", "/notifications", body(customer, order));
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.error << " " << r.body;
    created += r.status == 201 ? 1 : 0;
    ids.insert(str(r.json(), "id"));
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1U);
  auto lines = sent_for(outbox(), order, "order_confirmed");
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].at("id").as_string(), *ids.begin());
}

TEST_P(NotificationTest, ListIsNewestFirstWithADefaultAndAMaximumLimit) {
  auto customer = unique("cust");
  auto other = unique("cust");
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) {
    auto r = call("POST", "/notifications", body(customer, unique("order")));
    ASSERT_EQ(r.status, 201) << r.body;
    ids.push_back(str(r.json(), "id"));
  }
  ASSERT_EQ(call("POST", "/notifications", body(other, unique("order"))).status, 201);

  auto page = call("GET", "/notifications?customer_id=" + customer);
  ASSERT_EQ(page.status, 200);
  auto page_json = page.json();
  const auto& items = page_json.at("notifications").as_array();
  ASSERT_EQ(items.size(), 20U);  // the default limit
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(str(items[i], "id"), ids[ids.size() - 1 - i]) << i;
    EXPECT_EQ(str(items[i], "customer_id"), customer);
    if (i > 0) {
      EXPECT_LE(str(items[i], "created_at"), str(items[i - 1], "created_at"));
    }
  }
  auto three = call("GET", "/notifications?customer_id=" + customer + "&limit=3");
  ASSERT_EQ(three.status, 200);
  ASSERT_EQ(three.json().at("notifications").as_array().size(), 3U);
  EXPECT_EQ(str(three.json().at("notifications").at(0), "id"), ids.back());
  EXPECT_EQ(call("GET", "/notifications?limit=100&customer_id=" + customer)
                .json()
                .at("notifications")
                .as_array()
                .size(),
            25U);
  EXPECT_EQ(call("GET", "/notifications?customer_id=" + customer + "&limit=1")
                .json()
                .at("notifications")
                .as_array()
                .size(),
            1U);
  EXPECT_EQ(call("GET", "/notifications?customer_id=" + other).json().at("notifications").as_array().size(),
            1U);
  auto nobody = call("GET", "/notifications?customer_id=nobody%20at%20all");
  ASSERT_EQ(nobody.status, 200);
  EXPECT_TRUE(nobody.json().at("notifications").as_array().empty());
}

struct BadInput {
  std::string name;
  std::string body;
  int status;
  std::string code;
  std::string field;  // "" when the error names no field
};

TEST_P(NotificationTest, BadBodiesGetA400NamingTheFieldAndSendNothing) {
  auto before = outbox_lines(outbox()).size();
  auto obj = [](const boost::json::object& o) { return boost::json::serialize(o); };
  auto without = [](const std::string& key) {
    auto o = boost::json::parse(body("c", "o-bad")).as_object();
    o.erase(key);
    return boost::json::serialize(o);
  };
  auto with = [](const std::string& key, boost::json::value v) {
    auto o = boost::json::parse(body("c", "o-bad")).as_object();
    o[key] = std::move(v);
    return boost::json::serialize(o);
  };
  const auto cases = std::to_array<BadInput>({
      {"malformed JSON", R"({"kind":)", 400, "malformed_request", ""},
      {"empty body", "", 400, "malformed_request", ""},
      {"array body", "[]", 400, "malformed_request", ""},
      {"number body", "42", 400, "malformed_request", ""},
      {"invalid UTF-8", "{\"message\":\"\xc3\x28\"}", 400, "malformed_request", ""},
      {"missing customer_id", without("customer_id"), 400, "validation_failed", "customer_id"},
      {"missing order_id", without("order_id"), 400, "validation_failed", "order_id"},
      {"missing kind", without("kind"), 400, "validation_failed", "kind"},
      {"missing message", without("message"), 400, "validation_failed", "message"},
      {"customer_id empty", with("customer_id", ""), 400, "validation_failed", "customer_id"},
      {"customer_id a number", with("customer_id", 5), 400, "validation_failed", "customer_id"},
      {"customer_id too long", with("customer_id", boost::json::string(129, 'c')), 400, "validation_failed",
       "customer_id"},
      {"order_id null", with("order_id", nullptr), 400, "validation_failed", "order_id"},
      {"order_id empty", with("order_id", ""), 400, "validation_failed", "order_id"},
      {"order_id control char", with("order_id", "o\u0007"), 400, "validation_failed", "order_id"},
      {"kind unknown", with("kind", "order_shipped"), 400, "validation_failed", "kind"},
      {"kind upper case", with("kind", "ORDER_CONFIRMED"), 400, "validation_failed", "kind"},
      {"kind empty", with("kind", ""), 400, "validation_failed", "kind"},
      {"kind a number", with("kind", 1), 400, "validation_failed", "kind"},
      {"kind an array", with("kind", boost::json::array{"order_confirmed"}), 400, "validation_failed",
       "kind"},
      {"message empty", with("message", ""), 400, "validation_failed", "message"},
      {"message blank", with("message", "  \n "), 400, "validation_failed", "message"},
      {"message too long", with("message", boost::json::string(2001, 'm')), 400, "validation_failed",
       "message"},
      {"message far too long", with("message", boost::json::string(100000, 'm')), 400, "validation_failed",
       "message"},
      {"message control char", with("message", "ding\u0007"), 400, "validation_failed", "message"},
      {"message an object", with("message", boost::json::object{}), 400, "validation_failed", "message"},
      {"unknown field", with("subject", "Hi"), 400, "validation_failed", "subject"},
      {"only unknown", obj({{"to", "x"}}), 400, "validation_failed", "customer_id"},
  });
  for (const auto& c : cases) {
    auto r = call("POST", "/notifications", c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    if (r.status != c.status) continue;
    EXPECT_EQ(r.error_code(), c.code) << c.name;
    EXPECT_EQ(r.error_field(), c.field) << c.name;
    EXPECT_FALSE(r.json().at("error").at("message").as_string().empty()) << c.name;
    EXPECT_FALSE(r.json().at("error").at("request_id").as_string().empty()) << c.name;
  }
  EXPECT_EQ(outbox_lines(outbox()).size(), before);
  EXPECT_TRUE(call("GET", "/notifications?customer_id=c").json().at("notifications").as_array().empty());
  // A message of exactly 2000 bytes is fine.
  EXPECT_EQ(call("POST", "/notifications", with("message", boost::json::string(2000, 'm'))).status, 201);
}

TEST_P(NotificationTest, BadQueriesGetA400NamingTheParameter) {
  const auto cases = std::to_array<std::pair<std::string, std::string>>({
      {"/notifications", "customer_id"},
      {"/notifications?", "customer_id"},
      {"/notifications?customer_id=", "customer_id"},
      {"/notifications?customerid=c", "customer_id"},
      {"/notifications?limit=5", "customer_id"},
      {"/notifications?customer_id=" + std::string(129, 'c'), "customer_id"},
      {"/notifications?customer_id=c&limit=", "limit"},
      {"/notifications?customer_id=c&limit=0", "limit"},
      {"/notifications?customer_id=c&limit=101", "limit"},
      {"/notifications?customer_id=c&limit=-1", "limit"},
      {"/notifications?customer_id=c&limit=%2B5", "limit"},
      {"/notifications?customer_id=c&limit=1.5", "limit"},
      {"/notifications?customer_id=c&limit=ten", "limit"},
      {"/notifications?customer_id=c&limit=5x", "limit"},
      {"/notifications?customer_id=c&limit=%205", "limit"},
      {"/notifications?customer_id=c&limit=99999999999999999999", "limit"},
      {"/notifications?customer_id=c&limit=1&limit=100", "limit"},
      {"/notifications?customer_id=c&customer_id=d", "customer_id"},
      {"/notifications?customer_id=c%00d", "customer_id"},
  });
  for (const auto& [target, field] : cases) {
    auto r = call("GET", target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    if (r.status != 400) continue;
    EXPECT_EQ(r.error_code(), "validation_failed") << target;
    EXPECT_EQ(r.error_field(), field) << target;
  }
}

TEST_P(NotificationTest, WrongMethodsAre405AndTooLargeIs413) {
  auto put = call("PUT", "/notifications");
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.error_code(), "method_not_allowed");
  EXPECT_EQ(put.header("allow"), "POST, GET, HEAD");
  auto missing = testing::http(port_, "GET", "/notifications/some-id");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_code(), "not_found");
  std::string huge(std::size_t{2} * 1024 * 1024, 'x');
  auto too_large = call("POST", "/notifications", body("c", "o-huge", "order_confirmed", huge));
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.error_code(), "payload_too_large");
}

TEST_P(NotificationTest, HealthReadinessAndMetrics) {
  auto port = port_;
  EXPECT_EQ(testing::http(port, "GET", "/health/live").status, 200);
  auto ready = testing::http(port, "GET", "/health/ready");
  ASSERT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  EXPECT_EQ(ready.json().at("checks").at("outbox").as_string(), "ok");
  call("GET", "/notifications");
  auto metrics = testing::http(port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find(
                R"(http_server_requests_total{method="GET",route="/notifications",status_class="4xx"})"),
            std::string::npos);
}

class NotificationOutbox : public ::testing::TestWithParam<testing::Topology> {};

// Both topologies refuse to start: the service's process, or the whole monolith.
TEST_P(NotificationOutbox, UnwritableOutboxStopsTheServiceAtStartUp) {
  auto dir = testing::temp_dir("unwritable");
  fs::create_directories(dir / "outbox.log");  // a directory where the file should be
  try {
    testing::System system(
        dir, notification_system(GetParam(), {"notification"}, dir,
                                 {{"APP_NOTIFICATION__OUTBOX_FILE", (dir / "outbox.log").string()}}));
    ADD_FAILURE() << "started:\n" << system.logs();
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("exited with status 1"), std::string::npos) << what;
    EXPECT_NE(what.find("outbox.log"), std::string::npos) << what;
  }
  fs::remove_all(dir);
}

TEST_P(NotificationOutbox, LostOutboxMakesTheServiceUnreadyAndSendsFailWithoutRecording) {
  auto dir = testing::temp_dir("lost");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, notification_system(GetParam(), {"notification"}, dir)));
  auto notification_port = system->port("notification");
  fs::remove_all(dir / "mail");  // the outbox directory disappears (unmounted, deleted)

  auto ready = testing::http(notification_port, "GET", "/health/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("outbox"), std::string::npos) << ready.body;
  auto failed = checked(notification_port, "POST", "/notifications", body("c1", "o1"));
  EXPECT_EQ(failed.status, 500) << failed.body;
  EXPECT_EQ(failed.error_code(), "internal");
  EXPECT_TRUE(checked(notification_port, "GET", "/notifications?customer_id=c1")
                  .json()
                  .at("notifications")
                  .as_array()
                  .empty());

  // Once the directory is back, the retry is sent (it was not recorded the first time).
  fs::create_directories(dir / "mail" / "out");
  EXPECT_TRUE(testing::wait_ready(notification_port));
  auto retried = checked(notification_port, "POST", "/notifications", body("c1", "o1"));
  EXPECT_EQ(retried.status, 201) << retried.body;
  EXPECT_EQ(sent_for(outbox_in(dir), "o1", "order_confirmed").size(), 1U);
  system.reset();
  fs::remove_all(dir);
}

// In the monolith the kill takes the whole process (a module cannot crash alone), and the restart is the
// monolith's.
class NotificationRestart : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(NotificationRestart, SentOnceSurvivesARestart) {
  auto dir = testing::temp_dir("restart");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, notification_system(GetParam(), {"notification"}, dir)));
  auto notification_port = system->port("notification");
  auto first = checked(notification_port, "POST", "/notifications", body("c1", "o1"));
  ASSERT_EQ(first.status, 201) << first.body;

  system->process_of("notification").signal(SIGKILL);
  ASSERT_TRUE(system->process_of("notification").wait(5s));
  ASSERT_NO_THROW(system->restart("notification"));

  auto again = checked(notification_port, "POST", "/notifications", body("c1", "o1"));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json(), first.json());
  auto lines = outbox_lines(outbox_in(dir));
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0].at("id").as_string(), str(first.json(), "id"));
  system.reset();
  fs::remove_all(dir);
}

// With a broker configured, every recorded notification leaves through the outbox to the broker as
// notification.sent, keyed by the order and without the message. The repeat of the first publishes
// nothing: the broker keeps one subject's events in order, so it would show up before the second
// notification of the order.
class NotificationEvents : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(NotificationEvents, PublishesEachRecordedNotificationToTheBroker) {
  MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_NATS_URL");
  auto dir = testing::temp_dir("notification-events");
  auto prefix = "e2e" + random_hex(5);
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(
      dir, notification_system(GetParam(), {"notification"}, dir,
                               {{"APP_EVENTS__URL", url},
                                {"APP_EVENTS__PREFIX", prefix},
                                {"APP_NOTIFICATION__OUTBOX_FILE", (dir / "outbox.log").string()}})));
  auto notification_port = system->port("notification");
  testing::EventProbe probe(url, prefix, {"notification.sent"});
  ASSERT_EQ(probe.error(), "");

  auto first = checked(notification_port, "POST", "/notifications", body("cust-ev", "ev-order"),
                       {{"traceparent", kTraceparent}});
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(checked(notification_port, "POST", "/notifications", body("cust-ev", "ev-order")).status, 200);
  auto second = checked(notification_port, "POST", "/notifications",
                        body("cust-ev", "ev-order", "order_cancelled", "Sorry: private words"));
  ASSERT_EQ(second.status, 201) << second.body;

  auto seen = probe.wait_for("ev-order", 2);
  ASSERT_EQ(seen.size(), 2U) << system->logs();
  EXPECT_EQ(seen[0].type, "notification.sent");
  EXPECT_EQ(seen[0].source, "/mercato/notification");
  EXPECT_EQ(trace_id(seen[0].traceparent), trace_id(kTraceparent)) << "the request's trace goes on";
  auto a = data_of(seen[0]);
  EXPECT_EQ(a.at("notification_id"), first.json().at("id"));
  EXPECT_EQ(a.at("order_id").as_string(), "ev-order");
  EXPECT_EQ(a.at("customer_id").as_string(), "cust-ev");
  EXPECT_EQ(a.at("kind").as_string(), "order_confirmed");
  EXPECT_EQ(a.at("created_at"), first.json().at("created_at"));
  auto b = data_of(seen[1]);
  EXPECT_EQ(b.at("notification_id"), second.json().at("id"));
  EXPECT_EQ(b.at("kind").as_string(), "order_cancelled");
  EXPECT_FALSE(b.contains("message"));
  EXPECT_EQ(seen[1].data.find("private words"), std::string::npos) << seen[1].data;
  system.reset();
  fs::remove_all(dir);
}

// order.confirmed from the bus (published here as the order service will) sends the customer one
// confirmation naming the order and its total, however often it is delivered or published again: the
// cancellation published after it, for the same order, is the one other notice that order gets.
TEST_P(NotificationEvents, AnOrderConfirmedOnTheBusSendsOneConfirmation) {
  MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_NATS_URL");
  auto dir = testing::temp_dir("notification-confirmed");
  auto prefix = "e2e" + random_hex(5);
  auto outbox = dir / "outbox.log";
  std::optional<testing::System> system;
  ASSERT_NO_THROW(
      system.emplace(dir, notification_system(GetParam(), {"notification"}, dir,
                                              {{"APP_EVENTS__URL", url},
                                               {"APP_EVENTS__PREFIX", prefix},
                                               {"APP_NOTIFICATION__OUTBOX_FILE", outbox.string()}})));
  auto notification_port = system->port("notification");
  testing::EventProbe probe(url, prefix, {"notification.sent"});
  ASSERT_EQ(probe.error(), "");
  auto transport = events::open_transport({.url = url, .prefix = prefix});
  ASSERT_TRUE(transport) << transport.error().message;

  auto data = R"({"order_id":"conf-order","customer_id":"cust-conf","total_cents":4599,)"
              R"("confirmed_at":"2026-11-29T10:00:00.000Z"})";
  auto confirmed = events::make_event("order", "order.confirmed", "conf-order", data, kTraceparent);
  ASSERT_TRUE((*transport)->publish(confirmed));
  ASSERT_TRUE((*transport)->publish(confirmed));  // the same event again
  auto republished = events::make_event("order", "order.confirmed", "conf-order", data);
  ASSERT_TRUE((*transport)->publish(republished));  // the same confirmation under a new id
  ASSERT_TRUE((*transport)
                  ->publish(events::make_event(
                      "order", "order.cancelled", "conf-order",
                      R"({"order_id":"conf-order","customer_id":"cust-conf","reason":"changed my mind"})")));

  // One order's events are handled in order: the cancellation's notice comes after anything the
  // repeated confirmations could have sent.
  auto seen = probe.wait_for("conf-order", 2);
  ASSERT_EQ(seen.size(), 2U) << system->logs();
  EXPECT_EQ(data_of(seen[0]).at("kind").as_string(), "order_confirmed");
  EXPECT_EQ(data_of(seen[0]).at("customer_id").as_string(), "cust-conf");
  EXPECT_EQ(trace_id(seen[0].traceparent), trace_id(kTraceparent)) << "the order's trace goes on";
  EXPECT_EQ(data_of(seen[1]).at("kind").as_string(), "order_cancelled");
  EXPECT_EQ(probe.seen().size(), 2U);

  auto sent = sent_for(outbox, "conf-order", "order_confirmed");
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].at("to").as_string(), "cust-conf");
  EXPECT_EQ(sent[0].at("message").as_string(), "Your order conf-order is confirmed. Total: 45.99.");
  EXPECT_EQ(sent[0].at("id"), data_of(seen[0]).at("notification_id"));
  auto listed = checked(notification_port, "GET", "/notifications?customer_id=cust-conf&limit=10");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json().at("notifications").as_array().size(), 2U);
  system.reset();
  fs::remove_all(dir);
}

class NotificationGateway : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(NotificationGateway, NotificationsAreReachableThroughTheGateway) {
  auto dir = testing::temp_dir("gateway");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, notification_system(GetParam(), {"notification", "gateway"}, dir)));
  auto notification_port = system->port("notification");
  auto gateway_port = system->port("gateway");

  // Only services send notifications, and not through the gateway.
  auto refused =
      checked(gateway_port, "POST", "/notifications", body("gw-c", "gw-o", "payment_failed"), {}, "/api");
  EXPECT_EQ(refused.status, 403) << refused.body;
  auto sent = checked(notification_port, "POST", "/notifications", body("gw-c", "gw-o", "payment_failed"));
  ASSERT_EQ(sent.status, 201) << sent.body;
  // The customer reads their own (customer_id defaults to them); another customer sees none.
  auto gw_c = testing::TestTokens::instance().header(auth::Role::kCustomer, "gw-c");
  auto listed = checked(gateway_port, "GET", "/notifications?limit=5", {}, gw_c, "/api");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json().at("notifications").at(0), sent.json());
  auto other = testing::TestTokens::instance().header(auth::Role::kCustomer, "someone-else");
  auto theirs = checked(gateway_port, "GET", "/notifications?customer_id=gw-c&limit=5", {}, other, "/api");
  ASSERT_EQ(theirs.status, 200);
  EXPECT_TRUE(theirs.json().at("notifications").as_array().empty()) << theirs.body;
  auto bad = checked(gateway_port, "GET", "/notifications?customer_id=gw-c&limit=0", {},
                     {{"X-Request-ID", "gw-n"}}, "/api");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_field(), "limit");
  EXPECT_EQ(bad.json().at("error").at("request_id").as_string(), "gw-n");
  EXPECT_EQ(sent_for(outbox_in(dir), "gw-o", "payment_failed").size(), 1U);
  system.reset();
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Topologies, NotificationTest, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, NotificationOutbox, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, NotificationRestart, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, NotificationEvents, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, NotificationGateway, testing::kTopologies, testing::topology_name);

}  // namespace
}  // namespace mercato
