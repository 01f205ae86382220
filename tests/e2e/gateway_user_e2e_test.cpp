// End to end: the real gateway and user service, as child processes on free loopback ports or as modules
// of the monolith (docs/topologies.md, testing::System), driven over HTTP exactly as a client would.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
#include "mercato/testing/raw_http.hpp"
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

// The user service and the gateway (those of them in `services`) in `topology` (docs/topologies.md), with
// two I/O threads each (the monolith's shared ones there) and `env` added per service; `outside` run as
// their own process beside the monolith.
testing::SystemSettings user_system(testing::Topology topology, std::vector<std::string> services,
                                    std::map<std::string, std::map<std::string, std::string>> env = {},
                                    std::vector<std::string> outside = {}) {
  env["user"].try_emplace("APP_SERVER__THREADS", "2");
  env["user"].try_emplace("APP_SERVICE__OPENAPI", testing::source_dir() + "/api/user.yaml");
  env["gateway"].try_emplace("APP_SERVER__THREADS", "2");
  return {.topology = topology,
          .services = std::move(services),
          .per_service = std::move(env),
          .outside_monolith = std::move(outside),
          .monolith = {{"APP_MONOLITH__SERVER__THREADS", "2"}}};
}

// A hand-made upstream for what the real services never do: echo the request head it received (to see
// which headers the gateway forwards), add hop-by-hop headers to its answer, or never answer at all.
class FakeUpstream {
 public:
  enum class Mode { kEcho, kSilent };
  explicit FakeUpstream(Mode mode) : mode_(mode) {
    if (mode_ == Mode::kEcho) thread_ = std::thread([this] { serve(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    listener_.close();
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return listener_.port(); }
  std::string last_request() {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  void serve() {
    for (int served = 0; served < 100 && !stop_; ++served) {
      int c = ::accept(listener_.fd(), nullptr, nullptr);
      if (c < 0) return;
      timeval tv{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string in;
      std::array<char, 4096> buf{};
      while (in.find("\r\n\r\n") == std::string::npos) {
        auto n = ::recv(c, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        in.append(buf.data(), static_cast<std::size_t>(n));
      }
      {
        std::lock_guard lock(mutex_);
        last_ = in.substr(0, in.find("\r\n\r\n"));
      }
      std::string body = "{\"echo\":true}";
      std::string out =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nKeep-Alive: timeout=5\r\n"
          "Proxy-Authenticate: Basic\r\nX-Upstream: yes\r\nConnection: close\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  Mode mode_;
  testing::LoopbackListener listener_;  // a silent one still accepts into its backlog, never answering
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::string last_;
};

// The user service and the gateway, as separate processes or as the modules of the monolith; per test
// (each runs in its own process).
class GatewayUserTest : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = new fs::path(testing::temp_dir("shared"));
    system_ = new testing::System(
        *dir_, user_system(
                   GetParam(), {"user", "gateway"},
                   {{"gateway",
                     {{"APP_GATEWAY__DOCS_DIR", testing::source_dir() + "/node_modules/swagger-ui-dist"}}}}));
    user_port_ = system_->port("user");
    gateway_port_ = system_->port("gateway");
  }
  void TearDown() override {
    delete system_;
    system_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }

  // Every answer from the user service is held to its contract (api/user.yaml).
  static HttpResult api(const std::string& method, const std::string& target, const std::string& body = {},
                        const std::map<std::string, std::string>& headers = {}) {
    auto r = testing::http(gateway_port_, method, "/api" + target, body, headers);
    if (target.rfind("/users", 0) == 0) {
      EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    }
    return r;
  }

  static std::string unique_email() {
    static std::atomic<int> n{0};
    return "user" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "@example.com";
  }

  static inline fs::path* dir_ = nullptr;
  static inline testing::System* system_ = nullptr;
  static inline std::uint16_t user_port_ = 0, gateway_port_ = 0;
};

TEST_P(GatewayUserTest, CreateGetPatchThroughGateway) {
  auto email = unique_email();
  auto created =
      api("POST", "/users", R"({"email":")" + email + R"(","name":"Ann Lee","password":"correct horse"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto user = created.json().as_object();
  std::string id(user.at("id").as_string());
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(user.at("email").as_string(), email);
  EXPECT_EQ(user.at("name").as_string(), "Ann Lee");
  EXPECT_EQ(user.at("created_at").as_string().size(), 24U);  // 2026-11-29T19:26:53.123Z
  EXPECT_EQ(created.header("location"), "/users/" + id);

  auto got = api("GET", "/users/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), created.json());

  auto patched = api("PATCH", "/users/" + id, R"({"name":"Ann B. Lee"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json().at("name").as_string(), "Ann B. Lee");
  EXPECT_EQ(patched.json().at("email").as_string(), email);
  EXPECT_EQ(api("GET", "/users/" + id).json().at("name").as_string(), "Ann B. Lee");

  auto new_email = unique_email();
  auto email_changed = api("PATCH", "/users/" + id, R"({"email":")" + new_email + R"("})");
  ASSERT_EQ(email_changed.status, 200);
  EXPECT_EQ(api("GET", "/users/" + id).json().at("email").as_string(), new_email);
}

TEST_P(GatewayUserTest, EveryResponseCarriesARequestIdAndForwardsTheCallers) {
  auto generated = api("GET", "/users/nope");
  EXPECT_EQ(generated.header("x-request-id").size(), 36U);
  auto bad = api("POST", "/users", "{", {{"X-Request-ID", "e2e-req-1"}});
  EXPECT_EQ(bad.header("x-request-id"), "e2e-req-1");
  // The user service produced this body: the id reached it.
  EXPECT_EQ(bad.json().at("error").at("request_id").as_string(), "e2e-req-1");
}

struct BadInput {
  const char* name;
  const char* method;  // POST /users or PATCH /users/{id}
  std::string body;
  int status;
  const char* code;
  const char* field;  // "" when the error names no field
};

TEST_P(GatewayUserTest, BadInputsGetA4xxNamingTheProblem) {
  auto existing =
      api("POST", "/users", R"({"email":")" + unique_email() + R"(","name":"X","password":"correct horse"})");
  ASSERT_EQ(existing.status, 201);
  std::string id(existing.json().at("id").as_string());
  std::string long_name(201, 'n');
  const auto cases = std::to_array<BadInput>({
      {"malformed JSON", "POST", R"({"email":)", 400, "malformed_request", ""},
      {"empty body", "POST", "", 400, "malformed_request", ""},
      {"array body", "POST", "[1,2]", 400, "malformed_request", ""},
      {"string body", "POST", "\"x\"", 400, "malformed_request", ""},
      {"trailing garbage", "POST", R"({"email":"a@b.io","name":"A"} x)", 400, "malformed_request", ""},
      {"invalid UTF-8", "POST", "{\"email\":\"a@b.io\",\"name\":\"\xff\"}", 400, "malformed_request", ""},
      {"missing email", "POST", R"({"name":"A","password":"correct horse"})", 400, "validation_failed",
       "email"},
      {"missing name", "POST", R"({"email":"a@b.io"})", 400, "validation_failed", "name"},
      {"email not a string", "POST", R"({"email":42,"name":"A","password":"correct horse"})", 400,
       "validation_failed", "email"},
      {"name null", "POST", R"({"email":"a@b.io","name":null})", 400, "validation_failed", "name"},
      {"name an object", "POST", R"({"email":"a@b.io","name":{}})", 400, "validation_failed", "name"},
      {"invalid email", "POST", R"({"email":"not-an-email","name":"A","password":"correct horse"})", 400,
       "validation_failed", "email"},
      {"email without domain dot", "POST", R"({"email":"a@localhost","name":"A","password":"correct horse"})",
       400, "validation_failed", "email"},
      {"blank name", "POST", R"({"email":"a@b.io","name":"   ","password":"correct horse"})", 400,
       "validation_failed", "name"},
      {"name too long", "POST",
       R"({"email":"a@b.io","name":")" + long_name + R"(","password":"correct horse"})", 400,
       "validation_failed", "name"},
      {"unknown field", "POST", R"({"email":"a@b.io","name":"A","password":"correct horse","role":"admin"})",
       400, "validation_failed", "role"},
      {"missing password", "POST", R"({"email":"a@b.io","name":"A"})", 400, "validation_failed", "password"},
      {"password not a string", "POST", R"({"email":"a@b.io","name":"A","password":12345678})", 400,
       "validation_failed", "password"},
      {"password too short", "POST", R"({"email":"a@b.io","name":"A","password":"1234567"})", 400,
       "validation_failed", "password"},
      {"password too long", "POST",
       R"({"email":"a@b.io","name":"A","password":")" + std::string(129, 'p') + R"("})", 400,
       "validation_failed", "password"},
      {"patch nothing", "PATCH", "{}", 400, "validation_failed", ""},
      {"patch unknown field", "PATCH", R"({"nick":"x"})", 400, "validation_failed", "nick"},
      {"patch invalid email", "PATCH", R"({"email":"@@"})", 400, "validation_failed", "email"},
      {"patch name wrong type", "PATCH", R"({"name":true})", 400, "validation_failed", "name"},
      {"patch malformed", "PATCH", "nope", 400, "malformed_request", ""},
  });
  for (const auto& c : cases) {
    std::string target = std::string(c.method) == "POST" ? "/users" : "/users/" + id;
    auto r = api(c.method, target, c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    if (r.status != c.status) continue;
    EXPECT_EQ(r.error_code(), c.code) << c.name;
    EXPECT_EQ(r.error_field(), c.field) << c.name;
    EXPECT_FALSE(r.json().at("error").at("message").as_string().empty()) << c.name;
  }
  // Nothing was half-written by the rejected patches.
  auto after = api("GET", "/users/" + id);
  EXPECT_EQ(after.json(), existing.json());
}

TEST_P(GatewayUserTest, DuplicateEmailIs409IgnoringCase) {
  auto email = unique_email();
  ASSERT_EQ(
      api("POST", "/users", R"({"email":")" + email + R"(","name":"A","password":"correct horse"})").status,
      201);
  std::string upper = email;
  upper[0] = 'U';
  auto dup = api("POST", "/users", R"({"email":")" + upper + R"(","name":"B","password":"correct horse"})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.error_code(), "conflict");
  EXPECT_EQ(dup.error_field(), "email");

  auto other =
      api("POST", "/users", R"({"email":")" + unique_email() + R"(","name":"C","password":"correct horse"})");
  std::string id(other.json().at("id").as_string());
  auto taken = api("PATCH", "/users/" + id, R"({"email":")" + email + R"("})");
  EXPECT_EQ(taken.status, 409);
}

TEST_P(GatewayUserTest, UnknownThingsAre404And405AsJson) {
  auto missing = api("GET", "/users/does-not-exist");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_code(), "not_found");
  EXPECT_EQ(api("PATCH", "/users/does-not-exist", R"({"name":"x"})").status, 404);

  auto no_service = api("GET", "/nosuchservice/1");
  EXPECT_EQ(no_service.status, 404);
  EXPECT_EQ(no_service.error_code(), "not_found");
  EXPECT_NE(std::string(no_service.json().at("error").at("message").as_string()).find("nosuchservice"),
            std::string::npos);

  auto not_api = testing::http(gateway_port_, "GET", "/elsewhere");
  EXPECT_EQ(not_api.status, 404);

  auto wrong_method = api("DELETE", "/users/some-id");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.header("allow"), "GET, HEAD, PATCH");
  EXPECT_EQ(wrong_method.error_code(), "method_not_allowed");
}

TEST_P(GatewayUserTest, OversizedBodyIs413AtTheGateway) {
  std::string big(std::size_t{2} * 1024 * 1024, 'x');
  auto r = api("POST", "/users", R"({"email":"a@b.io","name":")" + big + R"("})");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.error_code(), "payload_too_large");
}

TEST_P(GatewayUserTest, HealthAndMetricsOnBothProcesses) {
  for (auto port : {user_port_, gateway_port_}) {
    EXPECT_EQ(testing::http(port, "GET", "/health/live").status, 200);
    auto ready = testing::http(port, "GET", "/health/ready");
    EXPECT_EQ(ready.status, 200);
    EXPECT_EQ(ready.json().at("status").as_string(), "ready");
    auto metrics = testing::http(port, "GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("# TYPE http_server_requests_total counter"), std::string::npos);
    EXPECT_NE(metrics.body.find("process_resident_memory_bytes"), std::string::npos);
  }
  auto ready = testing::http(user_port_, "GET", "/health/ready");
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  api("GET", "/users/metric-probe");
  auto metrics = testing::http(user_port_, "GET", "/metrics");
  EXPECT_NE(
      metrics.body.find(R"(http_server_requests_total{method="GET",route="/users/{id}",status_class="4xx"})"),
      std::string::npos);
}

TEST_P(GatewayUserTest, ContractsAreServedAndTheGatewayShowsThemInSwaggerUi) {
  auto own = testing::http(user_port_, "GET", "/openapi.json");
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(own.json().at("openapi").as_string(), "3.0.3");
  EXPECT_TRUE(own.json().at("paths").as_object().contains("/users/{id}"));

  auto via_gateway = testing::http(gateway_port_, "GET", "/docs/specs/users.json");
  ASSERT_EQ(via_gateway.status, 200) << via_gateway.body;
  EXPECT_EQ(via_gateway.json(), own.json());

  auto page = testing::http(gateway_port_, "GET", "/docs");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/docs/specs/users.json"), std::string::npos);
  auto bundle = testing::http(gateway_port_, "GET", "/docs/swagger-ui-bundle.js");
  EXPECT_EQ(bundle.status, 200);
  EXPECT_EQ(bundle.header("content-type"), "application/javascript");
  EXPECT_GT(bundle.body.size(), 100000U);

  EXPECT_EQ(testing::http(gateway_port_, "GET", "/docs/..%2f..%2fetc%2fpasswd").status, 404);
  EXPECT_EQ(testing::http(gateway_port_, "GET", "/docs/index.html").status, 404);
  EXPECT_EQ(testing::http(gateway_port_, "GET", "/docs/specs/nosuch.json").status, 404);
}

// The gateway alone in front of hand-made upstreams: as its own process or as the monolith's one module.
class GatewayProxy : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(GatewayProxy, ForwardsEndToEndHeadersOnlyAndSetsTracing) {
  FakeUpstream echo(FakeUpstream::Mode::kEcho);
  auto dir = testing::temp_dir("echo");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(
      dir,
      user_system(GetParam(), {"gateway"},
                  {{"gateway",
                    {{"APP_GATEWAY__SERVICES__ECHO__UPSTREAM", "127.0.0.1:" + std::to_string(echo.port())},
                     {"APP_GATEWAY__SERVICES__ECHO__ROUTES", "echo"}}}})));
  auto gateway_port = system->port("gateway");
  // The caller's own token goes on to the service, which verifies it again.
  auto token = testing::TestTokens::instance().bearer(auth::Role::kCustomer, "c-1");
  auto r = testing::http(gateway_port, "GET", "/api/echo/a/b?x=1&y=%2F", {},
                         {{"Authorization", token},
                          {"Connection", "close, X-Hop"},
                          {"X-Hop", "secret"},
                          {"Keep-Alive", "timeout=9"},
                          {"X-Request-ID", "hop-test"},
                          {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto seen = echo.last_request();
  EXPECT_EQ(seen.rfind("GET /echo/a/b?x=1&y=%2F HTTP/1.1", 0), 0U) << seen;
  EXPECT_NE(seen.find("Authorization: " + token), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Request-ID: hop-test"), std::string::npos) << seen;
  EXPECT_NE(seen.find("traceparent: 00-0af7651916cd43dd8448eb211c80319c-"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("b7ad6b7169203331"), std::string::npos) << "the gateway's own span must be the parent";
  EXPECT_NE(seen.find("X-Forwarded-For: 127.0.0.1"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("X-Hop"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("timeout=9"), std::string::npos) << seen;
  // And back: the upstream's hop-by-hop headers stay behind, its end-to-end ones come through.
  EXPECT_EQ(r.header("x-upstream"), "yes");
  EXPECT_EQ(r.header("proxy-authenticate"), "");
  EXPECT_EQ(r.header("keep-alive"), "");
  EXPECT_EQ(r.header("x-request-id"), "hop-test");
}

TEST_P(GatewayProxy, SilentUpstreamIs504WithinItsTimeout) {
  FakeUpstream silent(FakeUpstream::Mode::kSilent);
  auto dir = testing::temp_dir("silent");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(
      dir,
      user_system(GetParam(), {"gateway"},
                  {{"gateway",
                    {{"APP_GATEWAY__SERVICES__SLOW__UPSTREAM", "127.0.0.1:" + std::to_string(silent.port())},
                     {"APP_GATEWAY__SERVICES__SLOW__ROUTES", "slow"},
                     {"APP_GATEWAY__SERVICES__SLOW__REQUEST_TIMEOUT", "300ms"}}}})));
  auto gateway_port = system->port("gateway");
  auto started = std::chrono::steady_clock::now();
  auto r = testing::http(gateway_port, "GET", "/api/slow/x");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(r.error_code(), "deadline_exceeded");
  EXPECT_LT(took, 3s);
  // The caller's own, shorter budget wins over the route's.
  auto budget = testing::http(gateway_port, "GET", "/api/slow/x", {}, {{"X-Request-Timeout-Ms", "50"}});
  EXPECT_EQ(budget.status, 504);
}

// Kills the user service: in the monolith it runs as its own process beside it (a module cannot be
// killed alone), and the gateway is the monolith's.
TEST_P(GatewayProxy, KilledServiceGives503FastAndRecoversWhenBack) {
  auto dir = testing::temp_dir("kill");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, user_system(GetParam(), {"user", "gateway"}, {}, {"user"})));
  auto gateway_port = system->port("gateway");
  auto created = testing::http(gateway_port, "POST", "/api/users",
                               R"({"email":"kill@example.com","name":"K","password":"correct horse"})");
  ASSERT_EQ(created.status, 201);
  std::string id(created.json().at("id").as_string());

  system->process_of("user").signal(SIGKILL);
  ASSERT_TRUE(system->process_of("user").wait(5s));
  auto started = std::chrono::steady_clock::now();
  auto down = testing::http(gateway_port, "GET", "/api/users/" + id);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.error_code(), "unavailable");

  ASSERT_NO_THROW(system->restart("user"));  // same port, same database file
  auto back = testing::http(gateway_port, "GET", "/api/users/" + id);
  EXPECT_EQ(back.status, 200) << back.body;
  system.reset();
  fs::remove_all(dir);
}

// In the monolith the SIGTERM stops the whole process (its one module), and the restart is the monolith's.
class UserService : public ::testing::TestWithParam<testing::Topology> {};

TEST_P(UserService, SigtermDuringLoadLosesNoInFlightRequest) {
  auto dir = testing::temp_dir("sigterm");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(dir, user_system(GetParam(), {"user"})));
  auto user_port = system->port("user");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  std::atomic<int> completed{0};
  std::mutex mutex;
  std::vector<std::string> created_ids;
  std::vector<std::string> failed_emails;
  std::vector<std::string> bad_statuses;
  std::vector<std::thread> clients;
  clients.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string email = "load" + std::to_string(t) + "-" + std::to_string(i) + "@example.com";
        auto r =
            testing::http(user_port, "POST", "/users",
                          R"({"email":")" + email + R"(","name":"L","password":"correct horse"})", {}, 5s);
        std::lock_guard lock(mutex);
        if (r.status == 201) {
          created_ids.emplace_back(r.json().at("id").as_string());
        } else if (r.status == 0) {
          failed_emails.push_back(email);  // refused or reset: must not have been applied
        } else {
          bad_statuses.push_back(std::to_string(r.status) + " " + r.body);
        }
        if (r.status == 0 && r.error.rfind("connect", 0) == 0) return;  // server gone: stop this client
        completed++;
      }
    });
  }
  while (completed < 200) std::this_thread::yield();
  system->process_of("user").signal(SIGTERM);
  auto exit_status = system->process_of("user").wait(15s);
  for (auto& c : clients) c.join();
  ASSERT_TRUE(exit_status);
  EXPECT_EQ(*exit_status, 0) << system->logs();
  EXPECT_TRUE(bad_statuses.empty()) << bad_statuses.front();
  EXPECT_GE(created_ids.size(), 200U);

  system->restart("user");
  ASSERT_TRUE(testing::wait_ready(user_port)) << system->logs();
  // Every acknowledged write survived.
  for (const auto& id : created_ids) {
    ASSERT_EQ(testing::http(user_port, "GET", "/users/" + id).status, 200) << id;
  }
  // Every request that got no answer was never applied: registering it again must succeed. A 409 here
  // would mean the server did the work and dropped the response.
  for (const auto& email : failed_emails) {
    auto again = testing::http(user_port, "POST", "/users",
                               R"({"email":")" + email + R"(","name":"L","password":"correct horse"})");
    EXPECT_EQ(again.status, 201) << email << ": " << again.body;
  }
  system.reset();
  fs::remove_all(dir);
}

// The same service on PostgreSQL, chosen by configuration alone (database.url).
TEST_P(UserService, RunsOnPostgresChosenByConfiguration) {
  MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
  testing::PostgresSchema schema(base, "e2e_user");
  ASSERT_TRUE(schema.ok()) << schema.error();
  auto url = schema.url();
  auto dir = testing::temp_dir("postgres");
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(
      dir, user_system(GetParam(), {"user"},
                       {{"user", {{"APP_DATABASE__URL", url}, {"APP_DATABASE__CONNECTIONS", "4"}}}})));
  auto port = system->port("user");
  std::string email = "pg" + std::to_string(::getpid()) + "@example.com";
  auto created = testing::http(port, "POST", "/users",
                               R"({"email":")" + email + R"(","name":"Pg","password":"correct horse"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(testing::check_contract("POST", "/users", created), "");
  std::string id(created.json().at("id").as_string());
  auto got = testing::http(port, "GET", "/users/" + id);
  EXPECT_EQ(got.json(), created.json());
  std::string upper = email;
  upper[0] = 'P';
  EXPECT_EQ(testing::http(port, "POST", "/users",
                          R"({"email":")" + upper + R"(","name":"Dup","password":"correct horse"})")
                .status,
            409);
  auto patched = testing::http(port, "PATCH", "/users/" + id, R"({"name":"Renamed"})");
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(patched.json().at("name").as_string(), "Renamed");
  auto ready = testing::http(port, "GET", "/health/ready");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json().at("checks").at("database").as_string(), "ok");
  system.reset();
  fs::remove_all(dir);
}

// With a broker configured, every change leaves through the outbox to the broker, where any consumer
// reads it: user.registered, then user.updated for the PATCH that changed something. The no-op PATCH
// between them publishes nothing (the broker keeps one subject's events in order, so it would show up
// as the second event).
TEST_P(UserService, PublishesItsChangesToTheBroker) {
  MERCATO_BACKEND_URL_OR_SKIP(url, "MERCATO_TEST_NATS_URL");
  auto dir = testing::temp_dir("user-events");
  auto prefix = "e2e" + random_hex(5);
  std::optional<testing::System> system;
  ASSERT_NO_THROW(system.emplace(
      dir, user_system(GetParam(), {"user"},
                       {{"user", {{"APP_EVENTS__URL", url}, {"APP_EVENTS__PREFIX", prefix}}}})));
  auto user_port = system->port("user");
  testing::EventProbe probe(url, prefix, {"user.registered", "user.updated"});
  ASSERT_EQ(probe.error(), "");

  std::string email = "events" + std::to_string(::getpid()) + "@example.com";
  auto created = testing::http(user_port, "POST", "/users",
                               R"({"email":")" + email + R"(","name":"Ev","password":"correct horse"})",
                               {{"traceparent", kTraceparent}});
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(created.json().at("id").as_string());
  ASSERT_EQ(testing::http(user_port, "PATCH", "/users/" + id, R"({"name":"Ev"})").status, 200);
  auto renamed = testing::http(user_port, "PATCH", "/users/" + id, R"({"name":"Eve"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;

  auto seen = probe.wait_for(id, 2);
  ASSERT_EQ(seen.size(), 2U) << system->logs();
  EXPECT_EQ(seen[0].type, "user.registered");
  EXPECT_EQ(seen[0].source, "/mercato/user");
  EXPECT_EQ(trace_id(seen[0].traceparent), trace_id(kTraceparent)) << "the request's trace goes on";
  auto registered = data_of(seen[0]);
  EXPECT_EQ(registered.at("user_id").as_string(), id);
  EXPECT_EQ(registered.at("email").as_string(), email);
  EXPECT_EQ(registered.at("name").as_string(), "Ev");
  EXPECT_EQ(registered.at("created_at"), created.json().at("created_at"));
  EXPECT_EQ(seen[1].type, "user.updated");
  auto updated = data_of(seen[1]);
  EXPECT_EQ(updated.at("name").as_string(), "Eve");
  EXPECT_EQ(updated.at("updated_at"), renamed.json().at("updated_at"));
  system.reset();
  fs::remove_all(dir);
}

// Both topologies refuse to start: the service's process, or the whole monolith.
TEST_P(UserService, BadConfigurationStopsTheProcessNamingTheKey) {
  auto dir = testing::temp_dir("config");
  auto refusal = [&](const std::string& service, std::map<std::string, std::string> env) -> std::string {
    try {
      testing::System system(dir, user_system(GetParam(), {service}, {{service, std::move(env)}}));
      ADD_FAILURE() << "started:\n" << system.logs();
      return {};
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  };
  for (const auto& [env, key] : std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"APP_SERVER__PROT", "1"}}, "server.prot"}, {{{"APP_SERVER__PORT", "eighty"}}, "server.port"}}) {
    auto refused = refusal("user", env);
    EXPECT_NE(refused.find("exited with status 2"), std::string::npos) << refused;
    EXPECT_NE(refused.find(key), std::string::npos) << refused;
  }
  auto refused = refusal("gateway", {{"APP_GATEWAY__SERVICES__USER__UPSTREAM", "nohostport"}});
  EXPECT_NE(refused.find("exited with status 2"), std::string::npos) << refused;
  EXPECT_NE(refused.find("gateway.services.user.upstream"), std::string::npos) << refused;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Topologies, GatewayUserTest, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, GatewayProxy, testing::kTopologies, testing::topology_name);
INSTANTIATE_TEST_SUITE_P(Topologies, UserService, testing::kTopologies, testing::topology_name);

}  // namespace
}  // namespace mercato
