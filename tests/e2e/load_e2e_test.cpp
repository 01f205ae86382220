// The load generator end to end: mercato-load against the real gateway and the six services over NATS
// JetStream (each on a free port with its own database), and (the counted run with the checker) against
// the same services as one monolith process. A short open-loop run's JSON adds up (every
// operation counted once, every placed order settled one way), orders get confirmed, and the saga
// checker, run by the tool against the same services, passes; a failing checker fails the run. Bad
// options exit 2 with a message. Nothing here is timed: the assertions are on counts and verdicts.
//
// Authorization: the services trust the test suite's token issuer (lib/testing tokens.hpp), whose key
// the user service also signs its logins with. The load tool stocks products with an admin token from
// that issuer (MERCATO_ADMIN_TOKEN, which ./mercato check, run by the tool, uses too), and its customers
// register and log in through the gateway like any customer. The gateway runs without a traffic policy
// (no per-client rate limits), except in LoadE2ERateLimited, whose policy limits registrations and
// logins per client address: the setup must pace itself by Retry-After and still succeed. LoadE2EShortTokens
// issues 1-minute tokens, so a run of 50 s must renew every customer's session on the way.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "mercato/core/ids.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

#ifndef MERCATO_LOAD_BINARY
#error "MERCATO_LOAD_BINARY must be defined by the build (tests/e2e/CMakeLists.txt)"
#endif

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class LoadE2E : public ::testing::Test {
 protected:
  // What a fixture adds to the gateway's and the user service's environment.
  virtual std::map<std::string, std::string> gateway_env() { return {}; }
  virtual std::map<std::string, std::string> user_env() { return {}; }
  // Separate processes over NATS, or the monolith (testing/system.hpp).
  virtual testing::Topology topology() const { return testing::Topology::kProcesses; }

  void SetUp() override {
    MERCATO_BROKER_URL_OR_SKIP(url, "nats");
    dir_ = testing::temp_dir("load-" + random_hex(4));
    testing::SystemSettings settings{.topology = topology(), .broker_url = url};
    settings.common["APP_EVENTS__PREFIX"] = "load" + random_hex(5);
    settings.per_service["user"] = user_env();
    settings.per_service["gateway"] = gateway_env();
    system_ = std::make_unique<testing::System>(dir_, std::move(settings));
  }

  void TearDown() override {
    system_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::uint16_t port(const std::string& service) const { return system_->port(service); }

  // Runs mercato-load against this system with `args` added, as the test issuer's admin
  // (MERCATO_ADMIN_TOKEN, unless `admin_token` says otherwise: "" for none); the checker it runs
  // (./mercato check) finds these services through MERCATO_<SVC>_PORT and uses the same token. Returns the
  // exit status (-1: still running after `within`, then killed) and fills `log`.
  int run_load(const std::vector<std::string>& args, std::string& log, std::chrono::seconds within = 90s,
               const std::optional<std::string>& admin_token = std::nullopt) {
    std::vector<std::string> all{"--gateway", "127.0.0.1:" + std::to_string(port("gateway")),
                                 "--no-progress"};
    all.insert(all.end(), args.begin(), args.end());
    std::map<std::string, std::string> env{
        {"MERCATO_ADMIN_TOKEN",
         admin_token.value_or(testing::TestTokens::instance().token(auth::Role::kAdmin, "load-admin"))},
        // No var/ of the checkout: its admin password file must not stand in for the token.
        {"MERCATO_VAR_DIR", (dir_ / "var").string()},
        {"MERCATO_USER_PORT", std::to_string(port("user"))},
        {"MERCATO_ORDER_PORT", std::to_string(port("order"))},
        {"MERCATO_INVENTORY_PORT", std::to_string(port("inventory"))},
        {"MERCATO_PAYMENT_PORT", std::to_string(port("payment"))},
        {"MERCATO_SHIPPING_PORT", std::to_string(port("shipping"))},
        {"MERCATO_NOTIFICATION_PORT", std::to_string(port("notification"))}};
    testing::Process load(MERCATO_LOAD_BINARY, all, env, (dir_ / "load.log").string());
    auto status = load.wait(within);
    log = load.log();
    return status.value_or(-1);
  }

  boost::json::object read_json(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    auto value = boost::json::parse(text.str(), ec);
    EXPECT_FALSE(ec) << path << ": " << text.str();
    return value.is_object() ? value.as_object() : boost::json::object{};
  }

  std::string checker() const { return "'" + testing::source_dir() + "/mercato' check"; }

  fs::path dir_;
  std::unique_ptr<testing::System> system_;
};

std::int64_t integer(const boost::json::value& v) { return v.as_int64(); }

// The counted run and the checker against both topologies: the monolith must pass what the separate
// processes pass.
class LoadBothTopologies : public LoadE2E, public ::testing::WithParamInterface<testing::Topology> {
 protected:
  testing::Topology topology() const override { return GetParam(); }
};

TEST_P(LoadBothTopologies, ACountedRunAddsUpConfirmsOrdersAndPassesTheChecker) {
  auto json_path = dir_ / "load.json";
  std::string log;
  int status = run_load(
      {"--count", "200", "--rate", "100", "--connections", "8", "--products", "5", "--customers", "5",
       "--settle", "30s", "--check-wait", "20s", "--check-command", checker(), "--json", json_path.string()},
      log);
  ASSERT_EQ(status, 0) << log;
  auto doc = read_json(json_path);
  ASSERT_FALSE(doc.empty()) << log;
  EXPECT_EQ(doc.at("mode"), "open");
  EXPECT_EQ(integer(doc.at("count")), 200);
  EXPECT_EQ(integer(doc.at("setup").at("products")), 5);
  EXPECT_EQ(integer(doc.at("setup").at("customers")), 5);
  EXPECT_EQ(doc.at("setup").at("admin"), "MERCATO_ADMIN_TOKEN");
  EXPECT_EQ(integer(doc.at("setup").at("rate_limited")), 0);  // no policy, no per-client limits

  // Every operation sent is counted once, in exactly one outcome.
  const auto& total = doc.at("total").as_object();
  EXPECT_EQ(integer(total.at("count")), 200);
  std::int64_t sum = 0;
  for (const auto& [name, value] : doc.at("operations").as_object()) {
    const auto& op = value.as_object();
    EXPECT_EQ(integer(op.at("count")),
              integer(op.at("ok")) + integer(op.at("conflicts")) + integer(op.at("errors").at("total")))
        << name;
    EXPECT_EQ(integer(op.at("latency_us").at("count")), integer(op.at("count"))) << name;
    sum += integer(op.at("count"));
  }
  EXPECT_EQ(sum, 200);
  EXPECT_EQ(integer(total.at("errors").at("total")), 0) << log;
  EXPECT_EQ(integer(total.at("errors").at("401")), 0) << log;  // every order operation had its owner's token
  EXPECT_GT(integer(doc.at("operations").at("place_order").at("ok")), 0);
  // Reads and cancels of the customers' own orders: a 404 (another customer's order) would be an error.
  EXPECT_GT(integer(doc.at("operations").at("read_order").at("ok")), 0) << log;

  // Every placed order was read back and settled one way or the other; most were confirmed.
  const auto& orders = doc.at("orders").as_object();
  EXPECT_EQ(integer(orders.at("placed")), integer(doc.at("operations").at("place_order").at("ok")));
  EXPECT_EQ(integer(orders.at("placed")), integer(orders.at("confirmed")) + integer(orders.at("cancelled")) +
                                              integer(orders.at("pending")) +
                                              integer(orders.at("unreadable")));
  EXPECT_GT(integer(orders.at("confirmed")), 0) << log;
  EXPECT_EQ(integer(orders.at("placed_to_confirmed_us").at("count")), integer(orders.at("confirmed")));
  EXPECT_GT(orders.at("confirmed_per_second").as_double(), 0);

  const auto& check = doc.at("check").as_object();
  EXPECT_EQ(check.at("ran"), true);
  EXPECT_EQ(check.at("passed"), true) << log;
  EXPECT_EQ(check.at("verdict"), "check: PASSED") << log;
  EXPECT_EQ(doc.at("passed"), true);
  EXPECT_NE(log.find("result: PASSED"), std::string::npos) << log;
}

INSTANTIATE_TEST_SUITE_P(Both, LoadBothTopologies, testing::kTopologies, testing::topology_name);

TEST_F(LoadE2E, AFailingCheckerFailsTheRun) {
  auto json_path = dir_ / "load.json";
  std::string log;
  int status =
      run_load({"--count", "20", "--rate", "100", "--settle", "0", "--check-wait", "0", "--check-command",
                "echo 'check: FAILED (1 problem(s))'; exit 1", "--json", json_path.string()},
               log);
  EXPECT_EQ(status, 1) << log;
  auto doc = read_json(json_path);
  ASSERT_FALSE(doc.empty()) << log;
  EXPECT_EQ(doc.at("check").at("passed"), false);
  EXPECT_EQ(doc.at("check").at("verdict"), "check: FAILED (1 problem(s))");
  EXPECT_EQ(doc.at("passed"), false);
  EXPECT_NE(log.find("result: FAILED"), std::string::npos) << log;
}

// The setup says which step failed and why, and stops (exit 1) before the run.
TEST_F(LoadE2E, WithoutAUsableAdminTheSetupStopsNamingTheStep) {
  std::string log;
  // No credentials at all (no token, no password file under MERCATO_VAR_DIR).
  EXPECT_EQ(run_load({"--count", "5", "--no-check"}, log, 30s, ""), 1) << log;
  EXPECT_NE(log.find("no admin credentials"), std::string::npos) << log;
  EXPECT_NE(log.find("--admin-password-file"), std::string::npos) << log;

  const auto& tokens = testing::TestTokens::instance();
  // An expired admin token: 401 from the gateway, on the first product.
  auto expired = tokens.token(auth::Role::kAdmin, "load-admin", -2min);
  EXPECT_EQ(run_load({"--count", "5", "--no-check"}, log, 30s, expired), 1) << log;
  EXPECT_NE(log.find("setup failed: stocking products as the admin (PUT /api/inventory/"), std::string::npos)
      << log;
  EXPECT_NE(log.find("credentials: MERCATO_ADMIN_TOKEN): status 401"), std::string::npos) << log;
  EXPECT_NE(log.find("expired?"), std::string::npos) << log;

  // A customer's token is not an admin's: 403.
  EXPECT_EQ(
      run_load({"--count", "5", "--no-check"}, log, 30s, tokens.token(auth::Role::kCustomer, "someone")), 1)
      << log;
  EXPECT_NE(log.find("status 403"), std::string::npos) << log;
  EXPECT_NE(log.find("not an admin's"), std::string::npos) << log;
  EXPECT_EQ(log.find("is the system up"), std::string::npos) << log;  // it answered
}

// The gateway limits registrations and logins per client address (rateLimits.routes): every setup request
// comes from one address, so the setup is refused with 429 — and waits as Retry-After says, and succeeds.
class LoadE2ERateLimited : public LoadE2E {
 protected:
  std::map<std::string, std::string> gateway_env() override {
    auto policy = dir_ / "gateway-policy.yaml";
    std::ofstream(policy) << "rateLimits:\n"
                             "  routes:\n"
                             "    - {method: POST, path: /api/users, perClient: {rate: 2, burst: 1}}\n"
                             "    - {method: POST, path: /api/auth/login, perClient: {rate: 2, burst: 1}}\n";
    return {{"APP_GATEWAY__POLICY_FILE", policy.string()}};
  }
};

TEST_F(LoadE2ERateLimited, TheSetupHonoursRetryAfterAndGoesOn) {
  auto json_path = dir_ / "load.json";
  std::string log;
  int status =
      run_load({"--count", "30", "--rate", "20", "--mix", "place_order=1,read_order=1", "--customers", "6",
                "--products", "2", "--settle", "30s", "--no-check", "--json", json_path.string()},
               log, 120s);
  ASSERT_EQ(status, 0) << log;
  auto doc = read_json(json_path);
  ASSERT_FALSE(doc.empty()) << log;
  EXPECT_EQ(integer(doc.at("setup").at("customers")), 6);
  EXPECT_GT(integer(doc.at("setup").at("rate_limited")), 0) << log;
  EXPECT_GT(doc.at("setup").at("rate_limited_s").to_number<double>(), 0) << log;
  EXPECT_NE(log.find("answered 429"), std::string::npos) << log;  // said on stderr while it waits
  EXPECT_EQ(integer(doc.at("total").at("errors").at("total")), 0) << log;
}

// Tokens of one minute (the shortest the user service issues), renewed a quarter into their life
// (--renew-at 0.25, 15 s): a 22-second run passes that point for every customer, so each session is
// renewed on the way, in the background, and nothing is refused. (At the default 3/4 the run would need
// 50 s, most of a test's time limit.)
class LoadE2EShortTokens : public LoadE2E {
 protected:
  std::map<std::string, std::string> user_env() override { return {{"APP_AUTH__ACCESS_TOKEN_TTL", "1m"}}; }
};

TEST_F(LoadE2EShortTokens, SessionsAreRenewedBeforeTheyExpire) {
  auto json_path = dir_ / "load.json";
  std::string log;
  int status = run_load({"--duration",      "22s",     "--renew-at",   "0.25",
                         "--rate",          "4",       "--mix",        "place_order=1,read_order=2",
                         "--customers",     "2",       "--products",   "2",
                         "--settle",        "30s",     "--check-wait", "20s",
                         "--check-command", checker(), "--json",       json_path.string()},
                        log, 150s);
  ASSERT_EQ(status, 0) << log;
  auto doc = read_json(json_path);
  ASSERT_FALSE(doc.empty()) << log;
  EXPECT_GE(integer(doc.at("tokens").at("refreshed")), 2) << log;  // both customers, at least once
  EXPECT_EQ(integer(doc.at("tokens").at("failures")), 0) << log;
  EXPECT_EQ(integer(doc.at("total").at("errors").at("total")), 0) << log;
  EXPECT_EQ(doc.at("check").at("passed"), true) << log;
}

// Bad options: a message naming the option and exit status 2, before anything is sent.
TEST(LoadOptions, BadOptionsExitTwoWithAMessage) {
  auto dir = testing::temp_dir("load-options");
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--rate", "0"}, "--rate"},
           {{"--duration", "forever"}, "--duration"},
           {{"--mix", "browse=1"}, "unknown operation 'browse'"},
           {{"--closed", "--rate", "5"}, "either --closed or --rate"},
           {{"--what"}, "unknown option '--what'"}}) {
    testing::Process p(MERCATO_LOAD_BINARY, args, {}, (dir / "options.log").string());
    EXPECT_EQ(p.wait(10s), 2) << args[0] << ": " << p.log();
    EXPECT_NE(p.log().find(says), std::string::npos) << p.log();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mercato
