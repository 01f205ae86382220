// The gateway's traffic policy end to end: the real gateway binary in front of backends this test runs
// in-process (so it can make one fail, stall or count what it served): canary routing by header and by
// weight, the circuit breaker failing fast, the per-client rate limit, the connection-pool limit,
// outlier ejection, retries, and reloading the policy on a file change or SIGHUP. As its own process and as
// the monolith's gateway module (docs/topologies.md).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "mercato/core/ids.hpp"
#include "mercato/http/io_pool.hpp"
#include "mercato/http/router.hpp"
#include "mercato/http/server.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// An upstream instance: answers /orders/... with {"instance": name} and the status it is told to, after
// the delay it is told to; counts the requests it received.
class Backend {
 public:
  explicit Backend(std::string name) : name_(std::move(name)) {
    http::Router router;
    auto handler = [this](const http::Request&) -> boost::asio::awaitable<http::Response> {
      ++served_;
      auto delay = std::chrono::milliseconds(delay_ms_.load());
      if (delay.count() > 0) {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
        co_await timer.async_wait(boost::asio::use_awaitable);
      }
      co_return http::Response::json_text(status_.load(), R"({"instance":")" + name_ + R"("})");
    };
    router.any_async("/orders", handler);
    router.any_async("/orders/{rest...}", handler);
    server_ = std::make_unique<http::Server>(pool_, http::ServerSettings{.host = "127.0.0.1"},
                                             std::move(router), logger_, metrics_);
    server_->start();
    pool_.start();
  }
  ~Backend() {
    std::promise<void> done;
    server_->shutdown([&done] { done.set_value(); });
    done.get_future().wait_for(5s);
    pool_.stop();
    pool_.join();
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  int served() const { return served_.load(); }
  void answer(int status) { status_ = status; }
  void delay(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }

 private:
  std::string name_;
  obs::Logger logger_{"backend", obs::LogLevel::kError, 2};
  obs::Registry metrics_;
  http::IoPool pool_{2};
  std::unique_ptr<http::Server> server_;
  std::atomic<int> served_{0};
  std::atomic<int> status_{200};
  std::atomic<int> delay_ms_{0};
};

// The gateway as its own process or as the monolith's module (docs/topologies.md), per test.
class GatewayPolicyE2E : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("policy-" + random_hex(4));
    policy_file_ = dir_ / "policy.yaml";
  }
  void TearDown() override {
    system_.reset();
    fs::remove_all(dir_);
  }

  void write_policy(const std::string& yaml) {
    auto tmp = policy_file_;
    tmp += ".tmp";
    std::ofstream(tmp) << yaml;
    fs::rename(tmp, policy_file_);  // whole, so the watcher never reads half a file
  }

  // The gateway with `orders` → `upstream`, the policy file, and a poll interval (0: SIGHUP only).
  void start_gateway(const Backend& upstream, const std::string& poll = "100ms") {
    start({"gateway"}, {{"APP_SERVER__THREADS", "2"},
                        {"APP_LOG__LEVEL", "info"},
                        {"APP_GATEWAY__SERVICES__ORDER__UPSTREAM", upstream.endpoint()},
                        {"APP_GATEWAY__POLICY_FILE", policy_file_.string()},
                        {"APP_GATEWAY__POLICY_POLL", poll}});
  }
  // `services` (the gateway among them) in the topology of the parameter, `outside` beside the monolith.
  void start(std::vector<std::string> services, std::map<std::string, std::string> gateway_env,
             std::vector<std::string> outside = {}) {
    testing::SystemSettings settings{.topology = GetParam(),
                                     .services = std::move(services),
                                     .per_service = {{"gateway", std::move(gateway_env)}},
                                     .outside_monolith = std::move(outside)};
    if (auto threads = settings.per_service["gateway"].find("APP_SERVER__THREADS");
        threads != settings.per_service["gateway"].end())
      settings.monolith["APP_MONOLITH__SERVER__THREADS"] = threads->second;
    // A gateway that does not start throws (with its log), which ends the test.
    system_ = std::make_unique<testing::System>(dir_, std::move(settings));
    port_ = system_->port("gateway");
  }
  // The process that runs the gateway: its own, or the monolith.
  testing::Process& gateway() { return system_->process_of("gateway"); }

  testing::HttpResult get(const std::map<std::string, std::string>& headers = {}) {
    return testing::http(port_, "GET", "/api/orders/1", "", headers);
  }
  std::string instance_of(const testing::HttpResult& r) {
    if (r.status != 200) return "status " + std::to_string(r.status);
    auto body = r.json();
    return std::string(body.at("instance").as_string());
  }
  double metric(const std::string& series) { return testing::metric(port_, series); }

  fs::path dir_, policy_file_;
  std::uint16_t port_ = 0;
  std::unique_ptr<testing::System> system_;
};

std::string canary_policy(const Backend& stable, const Backend& canary, int stable_weight) {
  return "destinationRules:\n"
         "  - host: orders\n"
         "    subsets:\n"
         "      - {name: stable, endpoints: [\"" +
         stable.endpoint() +
         "\"]}\n"
         "      - {name: canary, endpoints: [\"" +
         canary.endpoint() +
         "\"]}\n"
         "virtualServices:\n"
         "  - host: orders\n"
         "    http:\n"
         "      - match: [{headers: {x-canary: {exact: \"true\"}}}]\n"
         "        route: [{destination: {host: orders, subset: canary}, weight: 100}]\n"
         "      - route:\n"
         "          - {destination: {host: orders, subset: stable}, weight: " +
         std::to_string(stable_weight) +
         "}\n"
         "          - {destination: {host: orders, subset: canary}, weight: " +
         std::to_string(100 - stable_weight) + "}\n";
}

// The article's VirtualService: x-canary: true goes to the canary; the rest splits 90/10 by weight.
TEST_P(GatewayPolicyE2E, TheCanaryHeaderAndTheWeightsRouteAsConfigured) {
  Backend stable("stable"), canary("canary");
  write_policy(canary_policy(stable, canary, 90));
  start_gateway(stable);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(instance_of(get({{"x-canary", "true"}})), "canary");
  std::map<std::string, int> split;
  constexpr int kRequests = 2000;
  for (int i = 0; i < kRequests; ++i) ++split[instance_of(get())];
  EXPECT_EQ(split["stable"] + split["canary"], kRequests) << "every request answered";
  // 10% of 2000 is 200, standard deviation ~13: 140..260 is more than four of them either way.
  EXPECT_GT(split["canary"], 140);
  EXPECT_LT(split["canary"], 260);
}

// Once the circuit is open, requests get a 503 at once — without reaching the upstream — with
// Retry-After; after the recovery timeout a trial request closes it again.
TEST_P(GatewayPolicyE2E, AnOpenCircuitFailsFastAndClosesWhenTheUpstreamRecovers) {
  Backend orders("orders");
  write_policy(
      "destinationRules:\n"
      "  - host: orders\n"
      "    trafficPolicy:\n"
      "      circuitBreaker: {failureThreshold: 3, recoveryTimeout: 1s, successThreshold: 1}\n");
  start_gateway(orders);
  orders.answer(500);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get().status, 500) << "passed through while closed";
  EXPECT_EQ(orders.served(), 3);
  EXPECT_EQ(metric(R"(mercato_upstream_circuit_state{upstream="orders"})"), 1) << "open";
  auto started = std::chrono::steady_clock::now();
  auto fast = get();
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(fast.status, 503);
  EXPECT_EQ(fast.error_code(), "unavailable");
  EXPECT_NE(fast.body.find("circuit is open"), std::string::npos) << fast.body;
  EXPECT_EQ(fast.header("retry-after"), "1");
  EXPECT_LT(took, 250ms) << "fails fast";
  EXPECT_EQ(orders.served(), 3) << "the upstream was not called";
  EXPECT_GE(metric(R"(mercato_upstream_rejections_total{reason="circuit_open",upstream="orders"})"), 1);

  orders.answer(200);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while ((status = get().status) != 200 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);  // until recovery_timeout has passed; bounded
  EXPECT_EQ(status, 200);
  EXPECT_EQ(metric(R"(mercato_upstream_circuit_state{upstream="orders"})"), 0) << "closed again";
  EXPECT_EQ(metric(R"(mercato_upstream_circuit_transitions_total{to="half_open",upstream="orders"})"), 1);
  EXPECT_EQ(metric(R"(mercato_upstream_circuit_transitions_total{to="closed",upstream="orders"})"), 1);
}

// A killed upstream (connection refused) opens the circuit the same way: here the real user service,
// killed with SIGKILL.
TEST_P(GatewayPolicyE2E, AKilledUpstreamOpensTheCircuit) {
  write_policy(
      "destinationRules:\n"
      "  - host: users\n"
      "    trafficPolicy: {circuitBreaker: {failureThreshold: 2, recoveryTimeout: 30s}}\n");
  // In the monolith the user service runs as its own process beside it: a module cannot be killed alone.
  start({"user", "gateway"}, {{"APP_GATEWAY__POLICY_FILE", policy_file_.string()}}, {"user"});
  auto users = [&] { return testing::http(port_, "GET", "/api/users/" + new_uuid()); };
  ASSERT_EQ(users().status, 404) << "a 4xx is an answer: the upstream is healthy";
  system_->process_of("user").signal(SIGKILL);
  ASSERT_TRUE(system_->process_of("user").wait(10s));
  EXPECT_EQ(users().status, 503) << "connection refused";
  EXPECT_EQ(users().status, 503);
  auto started = std::chrono::steady_clock::now();
  auto fast = users();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 250ms);
  EXPECT_EQ(fast.status, 503);
  EXPECT_NE(fast.body.find("circuit is open"), std::string::npos) << fast.body;
  EXPECT_EQ(fast.header("retry-after"), "30");
}

// The per-client limit counts per verified subject: a client cannot reset its budget by sending another
// X-Client-Id (issue item 7), and another customer has a bucket of its own.
TEST_P(GatewayPolicyE2E, ThePerClientRateLimitAnswers429WithRetryAfter) {
  Backend orders("orders");
  write_policy("rateLimits:\n  perClient: {rate: 0.5, burst: 2}\n");
  start_gateway(orders);
  const auto& tokens = testing::TestTokens::instance();
  auto ann = tokens.bearer(auth::Role::kCustomer, "ann");
  EXPECT_EQ(get({{"Authorization", ann}, {"X-Client-Id", "a1"}}).status, 200);
  EXPECT_EQ(get({{"Authorization", ann}, {"X-Client-Id", "a2"}}).status, 200);
  auto limited = get({{"Authorization", ann}, {"X-Client-Id", "a3"}});
  EXPECT_EQ(limited.status, 429) << "a new X-Client-Id is the same client";
  EXPECT_EQ(limited.error_code(), "rate_limited");
  EXPECT_EQ(limited.header("retry-after"), "2") << "one token per two seconds";
  // A fresh token of the same customer is the same subject.
  EXPECT_EQ(get({{"Authorization", tokens.bearer(auth::Role::kCustomer, "ann")}}).status, 429);
  EXPECT_EQ(get({{"Authorization", tokens.bearer(auth::Role::kCustomer, "bob")}}).status, 200)
      << "another customer has its own bucket";
  EXPECT_EQ(orders.served(), 3);
  EXPECT_EQ(metric(R"(mercato_gateway_rejections_total{reason="client_rate_limited",upstream="*"})"), 2);
}

// Anonymous callers are counted by their address, whatever they send.
TEST_P(GatewayPolicyE2E, AnonymousCallersAreLimitedByAddress) {
  Backend orders("orders");
  write_policy("rateLimits:\n  perClient: {rate: 0.5, burst: 1}\n");
  start_gateway(orders);
  EXPECT_EQ(get({{"Authorization", ""}, {"X-Client-Id", "x1"}}).status, 200);
  EXPECT_EQ(get({{"Authorization", ""}, {"X-Client-Id", "x2"}}).status, 429);
  EXPECT_EQ(get({{"Authorization", ""}, {"X-Forwarded-For", "10.9.9.9"}}).status, 429)
      << "X-Forwarded-For from a client names no one";
  EXPECT_EQ(orders.served(), 1);
}

// rateLimits.routes: one method and path limited on its own (login, registration, order placement in
// the shipped policy), per client; other routes are not counted against it.
TEST_P(GatewayPolicyE2E, ARouteLimitCountsOnlyItsRoute) {
  Backend orders("orders");
  write_policy(
      "rateLimits:\n"
      "  routes:\n"
      "    - {method: POST, path: /api/orders, perClient: {rate: 0.5, burst: 1}}\n");
  start_gateway(orders);
  auto ann = testing::TestTokens::instance().header(auth::Role::kCustomer, "ann");
  auto bob = testing::TestTokens::instance().header(auth::Role::kCustomer, "bob");
  auto post = [&](const std::map<std::string, std::string>& who) {
    return testing::http(port_, "POST", "/api/orders", "{}", who);
  };
  EXPECT_EQ(post(ann).status, 200);
  auto limited = post(ann);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("retry-after"), "2");
  EXPECT_EQ(get(ann).status, 200) << "a GET is not that route";
  EXPECT_EQ(get(ann).status, 200);
  EXPECT_EQ(post(bob).status, 200) << "another customer";
  EXPECT_EQ(orders.served(), 4);
}

// A bad token never reaches an upstream; a service's token is refused at the gateway.
TEST_P(GatewayPolicyE2E, TokensAreCheckedBeforeAnyUpstreamCall) {
  Backend orders("orders");
  write_policy("{}\n");
  start_gateway(orders);
  auto expired =
      testing::TestTokens::instance().token(auth::Role::kCustomer, "ann", std::chrono::seconds(-120));
  auto r = get({{"Authorization", "Bearer " + expired}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error_code(), "unauthenticated");
  EXPECT_NE(r.header("www-authenticate").find("invalid_token"), std::string::npos)
      << r.header("www-authenticate");
  EXPECT_EQ(get({{"Authorization", "Bearer not.a.token"}}).status, 401);
  EXPECT_EQ(get({{"Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}}).status, 401);
  auto service = get(testing::TestTokens::instance().header(auth::Role::kService, "order"));
  EXPECT_EQ(service.status, 403);
  EXPECT_EQ(service.error_code(), "permission_denied");
  EXPECT_EQ(orders.served(), 0);
  EXPECT_EQ(get().status, 200) << "a valid token passes";
}

// maxConnections 1, no pending requests: of several concurrent clients one is served, the others get
// a 503 at once, and the rejection counter says how many.
TEST_P(GatewayPolicyE2E, APoolOfOneRefusesTheOverflowFastAndCountsIt) {
  Backend orders("orders");
  orders.delay(400ms);
  write_policy(
      "destinationRules:\n"
      "  - host: orders\n"
      "    trafficPolicy:\n"
      "      connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 0}}\n");
  start_gateway(orders);
  constexpr int kClients = 6;
  std::vector<std::future<std::pair<int, std::chrono::steady_clock::duration>>> calls;
  std::promise<void> go;
  auto start = go.get_future().share();
  calls.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    calls.push_back(std::async(std::launch::async, [&, start] {
      start.wait();
      auto t0 = std::chrono::steady_clock::now();
      auto r = get();
      return std::pair{r.status, std::chrono::steady_clock::now() - t0};
    }));
  }
  go.set_value();
  int ok = 0, refused = 0;
  for (auto& c : calls) {
    auto [status, took] = c.get();
    if (status == 200) {
      ++ok;
    } else {
      EXPECT_EQ(status, 503);
      EXPECT_LT(took, 250ms) << "refused at once, not after the slow call";
      ++refused;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(refused, 1);
  EXPECT_EQ(ok + refused, kClients);
  EXPECT_EQ(orders.served(), ok);
  EXPECT_EQ(metric(R"(mercato_upstream_rejections_total{reason="pool_full",upstream="orders"})"), refused);
}

// An instance that keeps answering 5xx is ejected; the subset's other instance takes the traffic. GETs
// that met the bad instance before it was ejected were retried on the good one.
TEST_P(GatewayPolicyE2E, ABadInstanceIsEjectedAndIdempotentRequestsAreRetried) {
  Backend good("good"), bad("bad");
  bad.answer(503);
  write_policy(
      "destinationRules:\n"
      "  - host: orders\n"
      "    trafficPolicy:\n"
      "      outlierDetection: {consecutive5xxErrors: 2, interval: 100ms, baseEjectionTime: 30s, "
      "maxEjectionPercent: 50}\n"
      "      circuitBreaker: {failureThreshold: 100}\n"
      "    subsets:\n"
      "      - {name: pair, endpoints: [\"" +
      good.endpoint() + "\", \"" + bad.endpoint() +
      "\"]}\n"
      "virtualServices:\n"
      "  - host: orders\n"
      "    http:\n"
      "      - route: [{destination: {host: orders, subset: pair}}]\n"
      "        retries: {attempts: 2, baseDelay: 1ms, maxDelay: 5ms}\n");
  start_gateway(good);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(instance_of(get()), "good") << i;
  EXPECT_EQ(bad.served(), 2) << "two 5xx, then ejected";
  EXPECT_EQ(metric("mercato_upstream_ejections_total{instance=\"" + bad.endpoint() +
                   R"(",upstream="orders:pair"})"),
            1);
  EXPECT_EQ(metric(R"(mercato_upstream_ejected_instances{upstream="orders:pair"})"), 1);
  EXPECT_EQ(metric(R"(mercato_upstream_retries_total{upstream="orders:pair"})"), 2);
  // A POST without an Idempotency-Key is never retried: the ejected instance is out, so it goes to the
  // good one; the point is the retry counter does not move for it.
  auto post = testing::http(port_, "POST", "/api/orders", "{}");
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(metric(R"(mercato_upstream_retries_total{upstream="orders:pair"})"), 2);
}

// The policy follows its file: a change is applied, a bad file is refused and the old policy stays,
// and SIGHUP reloads when polling is off.
TEST_P(GatewayPolicyE2E, ThePolicyReloadsOnAFileChangeAndRefusesABadOne) {
  Backend stable("stable"), canary("canary");
  write_policy(canary_policy(stable, canary, 100));
  start_gateway(stable);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(instance_of(get()), "stable");
  write_policy(canary_policy(stable, canary, 0));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (instance_of(get()) != "canary" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);  // the watcher polls every 100ms; bounded
  for (int i = 0; i < 20; ++i) ASSERT_EQ(instance_of(get()), "canary");
  EXPECT_EQ(metric(R"(mercato_gateway_policy_reloads_total{result="applied"})"), 1);

  write_policy("virtualServices:\n  - host: nowhere\n");
  deadline = std::chrono::steady_clock::now() + 10s;
  while (metric(R"(mercato_gateway_policy_reloads_total{result="rejected"})") < 1 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);  // bounded
  EXPECT_EQ(metric(R"(mercato_gateway_policy_reloads_total{result="rejected"})"), 1);
  EXPECT_NE(gateway().log().find("virtualServices[0].host"), std::string::npos) << gateway().log();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(instance_of(get()), "canary") << "the old policy stays in force";
}

TEST_P(GatewayPolicyE2E, SighupReloadsThePolicy) {
  Backend stable("stable"), canary("canary");
  write_policy(canary_policy(stable, canary, 100));
  start_gateway(stable, "0");
  write_policy(canary_policy(stable, canary, 0));
  EXPECT_EQ(instance_of(get()), "stable") << "no polling: nothing changes by itself";
  gateway().signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (metric(R"(mercato_gateway_policy_reloads_total{result="applied"})") < 1 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);  // bounded
  for (int i = 0; i < 20; ++i) ASSERT_EQ(instance_of(get()), "canary");
  EXPECT_TRUE(gateway().running()) << "SIGHUP is not a stop";
}

// Both topologies refuse to start: the gateway's process, or the whole monolith.
TEST_P(GatewayPolicyE2E, ABadPolicyFileStopsTheStartWithAMessage) {
  Backend orders("orders");
  write_policy("destinationRules:\n  - host: orders\n    trafficPolicy: {loadBalancer: {simple: RANDOM}}\n");
  try {
    testing::System gateway(dir_,
                            {.topology = GetParam(),
                             .services = {"gateway"},
                             .per_service = {{"gateway",
                                              {{"APP_GATEWAY__SERVICES__ORDER__UPSTREAM", orders.endpoint()},
                                               {"APP_GATEWAY__POLICY_FILE", policy_file_.string()}}}}});
    ADD_FAILURE() << "started:\n" << gateway.logs();
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("exited with status 2"), std::string::npos) << "a configuration error: " << what;
    EXPECT_NE(what.find("destinationRules[0].trafficPolicy.loadBalancer.simple"), std::string::npos) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Topologies, GatewayPolicyE2E, testing::kTopologies, testing::topology_name);

}  // namespace
}  // namespace mercato
