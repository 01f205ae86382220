// Service discovery end to end: the real gateway (discovery.mode etcd) in front of instances that come
// and go, a real service binary registering and leaving, and etcd itself going away and coming back.
// The instances behind the gateway are small servers of this test, registered with the same Agent a
// service uses, so that each answer says which instance served it.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "mercato/discovery/discovery.hpp"
#include "mercato/etcd/etcd.hpp"
#include "mercato/http/server.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/block_on.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
using testing::Process;

std::string random_prefix() { return "/mercato-e2e-" + std::to_string(std::random_device{}()); }

// One instance of the "echo" service: a server answering GET /echo/who with its name, registered in etcd
// under `prefix` with `version`, until leave() or crash().
class EchoInstance {
 public:
  EchoInstance(std::string name, const discovery::Settings& settings, std::string version = "v1")
      : name_(std::move(name)) {
    http::Router router;
    router.get("/echo/who", [n = name_](const http::Request&) { return http::Response::json_text(200, n); });
    server_ = std::make_unique<http::Server>(pool_, http::ServerSettings{.port = 0}, std::move(router),
                                             logger_, metrics_);
    server_->start();
    pool_.start();
    agent_ = std::make_unique<discovery::Agent>(settings, logger_, metrics_);
    agent_->register_instance({.service = "echo",
                               .id = "echo-" + name_,
                               .http = {"127.0.0.1", server_->port()},
                               .grpc = std::nullopt,
                               .version = std::move(version)});
  }
  ~EchoInstance() { crash(); }

  // Deregisters, then stops serving (as a service does on SIGTERM).
  void leave() {
    if (agent_) agent_->deregister(2s);
    // What a service's discovery.deregister_delay is for: callers see the key go within milliseconds,
    // and until they have, this instance still answers.
    std::this_thread::sleep_for(300ms);
    crash();
  }
  // Stops at once without deregistering (as kill -9 would): the key stays until its lease expires.
  void crash() {
    agent_.reset();
    if (server_) {
      std::promise<void> done;
      server_->shutdown([&] { done.set_value(); });
      done.get_future().wait();
      server_.reset();
      pool_.stop();
      pool_.join();
    }
  }
  bool registered() const { return agent_ && agent_->status().registered; }

 private:
  std::string name_;
  obs::Logger logger_{"echo", obs::LogLevel::kError};
  obs::Registry metrics_;
  http::IoPool pool_{1};
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<discovery::Agent> agent_;
};

struct Gateway {
  Gateway(const std::string& etcd, const std::string& prefix,
          const std::map<std::string, std::string>& extra = {})
      : port(testing::free_port()) {
    std::map<std::string, std::string> env{
        {"APP_SERVER__PORT", std::to_string(port)},
        {"APP_SERVER__THREADS", "2"},
        {"APP_LOG__LEVEL", "warn"},
        {"APP_DISCOVERY__MODE", "etcd"},
        {"APP_DISCOVERY__ETCD", etcd},
        {"APP_DISCOVERY__PREFIX", prefix},
        // The configured address is only the seed until etcd answers: nothing listens there.
        {"APP_GATEWAY__SERVICES__ECHO__UPSTREAM", "127.0.0.1:1"},
        {"APP_GATEWAY__SERVICES__ECHO__ROUTES", "echo"},
        {"APP_GATEWAY__SERVICES__USER__UPSTREAM", "127.0.0.1:1"}};
    for (const auto& [k, v] : extra) env[k] = v;
    process = std::make_unique<Process>(testing::binary("gateway"), std::vector<std::string>{}, env);
  }
  // Who served GET /api/echo/who ("" when nobody: the status then says why).
  std::string who(const std::map<std::string, std::string>& headers = {}) const {
    auto r = testing::http(port, "GET", "/api/echo/who", {}, headers, 2s);
    return r.status == 200 ? r.body : "status " + std::to_string(r.status);
  }
  // Asks until `name` answers, at most `timeout`; true if it did.
  bool served_by_within(const std::string& name, std::chrono::milliseconds timeout,
                        const std::map<std::string, std::string>& headers = {}) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      if (who(headers) == name) return true;
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }
  std::uint16_t port;
  std::unique_ptr<Process> process;
};

class DiscoveryE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = testing::backend_url("MERCATO_TEST_ETCD_URL");
    if (etcd_.empty()) {
      if (testing::backends_required()) FAIL() << "MERCATO_TEST_ETCD_URL is not set";
      GTEST_SKIP() << "no etcd server (run the tests through ./mercato test)";
    }
    settings_.etcd = *etcd::parse_endpoints(etcd_);
    settings_.prefix = random_prefix();
    settings_.ttl = 2s;
    settings_.retry_min = 50ms;
    settings_.retry_max = 300ms;
  }
  std::string etcd_;
  discovery::Settings settings_;
};

TEST_F(DiscoveryE2E, ANewInstanceGetsTrafficWithinASecondWithoutARestart) {
  EchoInstance a("a", settings_);
  Gateway gateway(etcd_, settings_.prefix, {{"APP_DISCOVERY__TTL", "2s"}});
  ASSERT_TRUE(testing::wait_ready(gateway.port)) << gateway.process->log();
  ASSERT_TRUE(gateway.served_by_within("a", 5s)) << gateway.who();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(gateway.who(), "a");

  EchoInstance b("b", settings_);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!b.registered() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(b.registered());
  // Registered now: within a second the gateway sends it requests, balanced with a.
  EXPECT_TRUE(gateway.served_by_within("b", 1s));
  std::set<std::string> seen;
  for (int i = 0; i < 10; ++i) seen.insert(gateway.who());
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b"}));
}

TEST_F(DiscoveryE2E, AnInstanceThatLeavesGetsNoMoreRequestsAndACrashedOneAfterItsLease) {
  EchoInstance a("a", settings_);
  EchoInstance b("b", settings_);
  EchoInstance c("c", settings_);
  Gateway gateway(etcd_, settings_.prefix);
  ASSERT_TRUE(testing::wait_ready(gateway.port)) << gateway.process->log();
  ASSERT_TRUE(gateway.served_by_within("c", 5s));

  // Graceful: deregistered before it stops serving, so not one request fails.
  b.leave();
  for (int i = 0; i < 30; ++i) {
    auto who = gateway.who();
    EXPECT_TRUE(who == "a" || who == "c") << who;
  }
  // A crash: its key outlives it by at most the lease (2 s); then every request is served by a.
  c.crash();
  auto deadline = std::chrono::steady_clock::now() + settings_.ttl + 3s;
  int in_a_row = 0;
  while (in_a_row < 20 && std::chrono::steady_clock::now() < deadline)
    in_a_row = gateway.who() == "a" ? in_a_row + 1 : 0;
  EXPECT_EQ(in_a_row, 20) << "the crashed instance was still in rotation after its lease";
}

TEST_F(DiscoveryE2E, CanaryRequestsGoToTheInstancesOfTheCanaryVersion) {
  auto dir = testing::temp_dir("discovery-canary");
  auto policy = dir / "policy.yaml";
  std::ofstream(policy) << R"(destinationRules:
  - host: echo
    subsets:
      - {name: stable, labels: {version: v1}}
      - {name: canary, labels: {version: v2}}
virtualServices:
  - host: echo
    http:
      - match: [{headers: {x-canary: {exact: "true"}}}]
        route: [{destination: {host: echo, subset: canary}}]
      - route: [{destination: {host: echo, subset: stable}}]
)";
  EchoInstance stable("stable", settings_, "v1");
  EchoInstance canary("canary", settings_, "v2");
  Gateway gateway(etcd_, settings_.prefix, {{"APP_GATEWAY__POLICY_FILE", policy.string()}});
  ASSERT_TRUE(testing::wait_ready(gateway.port)) << gateway.process->log();
  ASSERT_TRUE(gateway.served_by_within("stable", 5s)) << gateway.who();
  // Each instance registers on its own: the gateway may know the stable one before the canary.
  ASSERT_TRUE(gateway.served_by_within("canary", 5s, {{"x-canary", "true"}}))
      << gateway.who({{"x-canary", "true"}});
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(gateway.who(), "stable");
    EXPECT_EQ(gateway.who({{"x-canary", "true"}}), "canary");
  }
  // The canary gone: its subset has no instance, and canary requests are refused, not misrouted.
  canary.leave();
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (gateway.who({{"x-canary", "true"}}) == "canary" && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_EQ(gateway.who({{"x-canary", "true"}}), "status 503");
  EXPECT_EQ(gateway.who(), "stable");
}

TEST_F(DiscoveryE2E, AServiceRegistersOnceReadyAndLeavesBeforeItStops) {
  auto dir = testing::temp_dir("discovery-user");
  http::IoPool pool(1);
  obs::Logger logger{"watcher", obs::LogLevel::kError};
  obs::Registry metrics;
  discovery::Agent watcher(settings_, logger, metrics);
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<discovery::Instance> seen;
  watcher.watch("user", [&](const std::vector<discovery::Instance>& all) {
    std::lock_guard lock(mutex);
    seen = all;
    changed.notify_all();
  });
  testing::ServiceProcess user("user", dir,
                               {{"APP_DISCOVERY__MODE", "etcd"},
                                {"APP_DISCOVERY__ETCD", etcd_},
                                {"APP_DISCOVERY__PREFIX", settings_.prefix},
                                {"APP_DISCOVERY__VERSION", "v7"},
                                {"APP_DISCOVERY__DEREGISTER_DELAY", "1s"}});
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return seen.size() == 1; })) << user.process->log();
    EXPECT_EQ(seen[0].http.port, user.port);
    // The user service serves gRPC on its one port: registered as its gRPC address too.
    ASSERT_TRUE(seen[0].grpc.has_value());
    EXPECT_EQ(seen[0].grpc->port, user.port);
    EXPECT_EQ(seen[0].version, "v7");
    EXPECT_EQ(seen[0].id.rfind("user-" + std::to_string(user.port) + "-", 0), 0u) << seen[0].id;
  }
  // Others see the key a moment before the instance has its own answer from etcd: "registering" until then.
  auto ready = testing::http(user.port, "GET", "/health/ready");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (ready.body.find(R"("discovery":"ok")") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    ready = testing::http(user.port, "GET", "/health/ready");
  }
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find(R"("discovery":"ok")"), std::string::npos) << ready.body;

  user.process->signal(SIGTERM);
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 5s, [&] { return seen.empty(); }));
  }
  // Gone from etcd while still answering: callers that have not seen it leave are still served.
  EXPECT_TRUE(user.process->running());
  EXPECT_EQ(testing::http(user.port, "GET", "/health/live").status, 200);
  EXPECT_EQ(user.process->wait(10s), 0);
}

// Live configuration: a value put in etcd is applied by the running gateway within a second, a bad one is
// refused (and said so on /config/live) while the last good one stays, and removing it restores the file's.
TEST_F(DiscoveryE2E, LiveConfigurationAppliesWithinASecondAndRefusesWhatIsInvalid) {
  EchoInstance a("a", settings_);
  Gateway gateway(etcd_, settings_.prefix);
  ASSERT_TRUE(testing::wait_ready(gateway.port)) << gateway.process->log();
  ASSERT_TRUE(gateway.served_by_within("a", 5s));
  http::IoPool pool(1);
  http::Client client(pool, {});
  etcd::Client etcd(client, {.endpoints = settings_.etcd});
  pool.start();
  auto key = settings_.prefix + "/config/gateway/policy";
  auto put = [&](std::string value) { return testing::block_on(pool, etcd.put(key, std::move(value))); };
  auto live = [&] { return testing::http(gateway.port, "GET", "/config/live").body; };
  // Refused until it is within a second: the rate limit of one request per second, burst 2.
  auto limited_within = [&](std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      if (gateway.who() == "status 429") return true;
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  };
  EXPECT_EQ(gateway.who(), "a");
  ASSERT_TRUE(put("rateLimits:\n  perClient: {rate: 1, burst: 2}\n"));
  EXPECT_TRUE(limited_within(1s)) << live();
  EXPECT_NE(live().find(R"("policy":{"value":)"), std::string::npos) << live();
  EXPECT_NE(live().find(R"("status":"applied")"), std::string::npos) << live();

  ASSERT_TRUE(put("rateLimits:\n  perClient: {rate: -1}\n"));
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (live().find("refused") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_NE(live().find(R"("status":"refused")"), std::string::npos) << live();
  EXPECT_NE(live().find("rateLimits.perClient.rate"), std::string::npos) << live();
  EXPECT_EQ(gateway.who(), "status 429");  // the last good policy stays in force

  ASSERT_TRUE(testing::block_on(pool, etcd.erase(key)));
  EXPECT_TRUE(gateway.served_by_within("a", 2s));  // the file's policy: no limit
  for (int i = 0; i < 5; ++i) EXPECT_EQ(gateway.who(), "a");
  // A key that names no live setting is refused too.
  ASSERT_TRUE(testing::block_on(pool, etcd.put(settings_.prefix + "/config/gateway/server.port", "1")));
  deadline = std::chrono::steady_clock::now() + 2s;
  while (live().find("server.port") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_NE(live().find("is not a live setting"), std::string::npos) << live();
  ASSERT_TRUE(testing::block_on(pool, etcd.erase_prefix(settings_.prefix + "/config/")));
  pool.stop();
  pool.join();
}

// etcd itself stopped and started again: a gateway keeps serving with what it knew, says so in its
// readiness details, and picks up what changed once etcd is back. This test runs an etcd of its own.
TEST(DiscoveryEtcdDown, EverythingKeepsServingAndChangesArriveOnceEtcdIsBack) {
  auto dir = testing::temp_dir("discovery-etcd-down");
  auto client_port = testing::free_port();
  auto peer_port = testing::free_port();
  auto start_etcd = [&] {
    auto data = (dir / "etcd").string();
    auto client_url = "http://127.0.0.1:" + std::to_string(client_port);
    auto peer_url = "http://127.0.0.1:" + std::to_string(peer_port);
    return std::make_unique<Process>(
        "/usr/bin/etcd",
        std::vector<std::string>{"--name", "e2e", "--data-dir", data, "--listen-client-urls", client_url,
                                 "--advertise-client-urls", client_url, "--listen-peer-urls", peer_url,
                                 "--initial-advertise-peer-urls", peer_url, "--initial-cluster",
                                 "e2e=" + peer_url, "--logger", "zap", "--log-level", "warn"},
        std::map<std::string, std::string>{}, (dir / "etcd.log").string());
  };
  auto etcd = start_etcd();
  ASSERT_TRUE(testing::wait_ready(client_port, 20s, "/health")) << etcd->log();
  auto endpoint = "127.0.0.1:" + std::to_string(client_port);
  discovery::Settings settings{.etcd = *etcd::parse_endpoints(endpoint), .prefix = random_prefix()};
  settings.ttl = 10s;  // longer than etcd is away below: the registrations outlive the outage
  settings.retry_min = 50ms;
  settings.retry_max = 300ms;

  EchoInstance a("a", settings);
  Gateway gateway(endpoint, settings.prefix);
  ASSERT_TRUE(testing::wait_ready(gateway.port)) << gateway.process->log();
  ASSERT_TRUE(gateway.served_by_within("a", 5s)) << gateway.who();

  etcd->signal(SIGTERM);
  ASSERT_TRUE(etcd->wait(10s));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(gateway.who(), "a");
  // Still ready; degraded, and saying so.
  bool degraded = false;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!degraded && std::chrono::steady_clock::now() < deadline) {
    auto ready = testing::http(gateway.port, "GET", "/health/ready");
    ASSERT_EQ(ready.status, 200) << ready.body;
    degraded = ready.body.find("degraded: etcd unreachable") != std::string::npos;
  }
  EXPECT_TRUE(degraded);

  etcd = start_etcd();
  ASSERT_TRUE(testing::wait_ready(client_port, 20s, "/health")) << etcd->log();
  EchoInstance b("b", settings);  // registered after the restart: the gateway's watch must resume
  EXPECT_TRUE(gateway.served_by_within("b", 5s)) << gateway.process->log();
  std::set<std::string> seen;
  for (int i = 0; i < 10; ++i) seen.insert(gateway.who());
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b"}));
  // And the live configuration watch is back too: a change made now applies.
  http::IoPool pool(1);
  http::Client client(pool, {});
  etcd::Client etcd_client(client, {.endpoints = settings.etcd});
  pool.start();
  ASSERT_TRUE(
      testing::block_on(pool, etcd_client.put(settings.prefix + "/config/gateway/log.level", "debug")));
  const std::string applied = R"("log.level":{"value":"debug","status":"applied"})";
  std::string live;
  deadline = std::chrono::steady_clock::now() + 5s;
  do {
    live = testing::http(gateway.port, "GET", "/config/live").body;
  } while (live.find(applied) == std::string::npos && std::chrono::steady_clock::now() < deadline);
  EXPECT_NE(live.find(applied), std::string::npos) << live;
  pool.stop();
  pool.join();
}

}  // namespace
}  // namespace mercato
