// End to end: accounts and tokens through the real gateway and user service. A customer registers,
// logs in through the gateway, and the access token is verified with lib/auth against the JWKS the
// gateway serves; refresh tokens rotate, a reused one revokes its session, logout ends it; failed logins
// get one answer and are limited (429 with Retry-After).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "mercato/auth/jwt.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/testing/openapi.hpp"
#include "mercato/testing/system.hpp"
#include "mercato/testing/testing.hpp"
#include "mercato/testing/tokens.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using testing::HttpResult;

constexpr const char* kPassword = "correct horse battery";

// The user service and the gateway, in either topology (docs/topologies.md): as separate processes, or
// as modules of one mercato-monolith, each module on its own port as the processes are.
class AuthTest : public ::testing::TestWithParam<testing::Topology> {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("auth");
    system_ = std::make_unique<testing::System>(
        dir_, testing::SystemSettings{.topology = GetParam(),
                                      .services = {"user", "gateway"},
                                      .per_service = {{"user",
                                                       {{"APP_SERVER__THREADS", "2"},
                                                        {"APP_AUTH__LOGIN_LIMIT__PER_ACCOUNT_BURST", "3"},
                                                        {"APP_AUTH__LOGIN_LIMIT__PER_ADDRESS_BURST", "10"}}}},
                                      .monolith = {{"APP_MONOLITH__SERVER__THREADS", "2"}}});
    user_port_ = system_->port("user");
    gateway_port_ = system_->port("gateway");
  }
  void TearDown() override {
    system_.reset();
    fs::remove_all(dir_);
  }

  // Through the gateway; every answer is held to the user service's contract (api/user.yaml).
  static HttpResult api(const std::string& method, const std::string& target, const std::string& body = {},
                        const std::map<std::string, std::string>& headers = {}) {
    auto r = testing::http(gateway_port_, method, "/api" + target, body, headers);
    EXPECT_EQ(testing::check_contract(method, target, r), "") << method << " " << target << ": " << r.body;
    return r;
  }
  // Straight to the user service, as the client `address` (the service trusts the loopback peer's
  // X-Forwarded-For, as it trusts the gateway's).
  static HttpResult direct_login(const std::string& email, const std::string& password,
                                 const std::string& address) {
    auto r = testing::http(user_port_, "POST", "/auth/login", login_body(email, password),
                           {{"X-Forwarded-For", address}});
    EXPECT_EQ(testing::check_contract("POST", "/auth/login", r), "") << r.body;
    return r;
  }
  static std::string login_body(const std::string& email, const std::string& password) {
    return boost::json::serialize(boost::json::object{{"email", email}, {"password", password}});
  }
  static std::string unique_email() {
    static std::atomic<int> n{0};
    return "auth" + std::to_string(::getpid()) + "-" + std::to_string(n++) + "@example.com";
  }
  static std::string register_user(const std::string& email) {
    auto r = api("POST", "/users",
                 boost::json::serialize(
                     boost::json::object{{"email", email}, {"name", "Ann"}, {"password", kPassword}}));
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_FALSE(r.json().as_object().contains("password")) << r.body;
    return r.status == 201 ? std::string(r.json().at("id").as_string()) : "";
  }
  // The verifier a service would build: the key set from the JWKS the gateway serves.
  static auth::Verifier verifier() {
    auto jwks = testing::http(gateway_port_, "GET", "/.well-known/jwks.json");
    EXPECT_EQ(jwks.status, 200) << jwks.body;
    EXPECT_EQ(testing::check_contract("GET", "/.well-known/jwks.json", jwks), "") << jwks.body;
    auto keys = auth::KeySet::from_jwks(jwks.body);
    EXPECT_TRUE(keys) << jwks.body;
    return auth::Verifier({.issuer = "mercato", .audience = "mercato"}, keys ? *keys : auth::KeySet{});
  }
  static std::string refresh_body(const std::string& token) {
    return boost::json::serialize(boost::json::object{{"refresh_token", token}});
  }
  // The error body without its request id, which differs per request.
  static boost::json::value error_without_id(const HttpResult& r) {
    auto v = r.json();
    v.at("error").as_object().erase("request_id");
    return v;
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<testing::System> system_;
  // Set by SetUp for the static helpers above (one test at a time per process).
  static inline std::uint16_t user_port_ = 0, gateway_port_ = 0;
};

TEST_P(AuthTest, RegisterLoginVerifyRefreshReuseAndLogoutThroughTheGateway) {
  auto email = unique_email();
  auto id = register_user(email);
  ASSERT_FALSE(id.empty());

  auto login = api("POST", "/auth/login", login_body(email, kPassword));
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.header("cache-control"), "no-store");
  auto pair = login.json().as_object();
  EXPECT_EQ(pair.at("token_type").as_string(), "Bearer");
  EXPECT_EQ(pair.at("expires_in").as_int64(), 900);
  std::string access(pair.at("access_token").as_string());
  std::string first_refresh(pair.at("refresh_token").as_string());

  auto v = verifier();
  auto claims = v.verify(access);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->subject, id);
  EXPECT_EQ(claims->role, "customer");
  EXPECT_EQ(claims->expires_at - claims->issued_at, 15min);
  // A token signed by anyone else, under the same kid, fails against the same key set.
  auto header = access.substr(0, access.find('.'));
  auth::Signer forger(auth::PrivateKey::generate(), "ignored");
  auto forged = forger.sign(*claims);
  forged = header + forged.substr(forged.find('.'));
  EXPECT_FALSE(v.verify(forged));

  // Refresh: a new pair; the old refresh token is spent.
  auto refreshed = api("POST", "/auth/refresh", refresh_body(first_refresh));
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  std::string second_refresh(refreshed.json().at("refresh_token").as_string());
  EXPECT_NE(second_refresh, first_refresh);
  auto renewed = v.verify(std::string(refreshed.json().at("access_token").as_string()));
  ASSERT_TRUE(renewed) << renewed.error().message;
  EXPECT_EQ(renewed->subject, id);
  EXPECT_NE(renewed->token_id, claims->token_id);

  // Reuse of the spent token: 401, and the whole family is revoked — the current token too.
  auto reused = api("POST", "/auth/refresh", refresh_body(first_refresh));
  EXPECT_EQ(reused.status, 401) << reused.body;
  EXPECT_EQ(reused.error_code(), "unauthenticated");
  auto current = api("POST", "/auth/refresh", refresh_body(second_refresh));
  EXPECT_EQ(current.status, 401) << "the family was revoked: " << current.body;

  // A new login is a new session; logout revokes it.
  auto again = api("POST", "/auth/login", login_body(email, kPassword));
  ASSERT_EQ(again.status, 200) << again.body;
  std::string third_refresh(again.json().at("refresh_token").as_string());
  auto logout = api("POST", "/auth/logout", refresh_body(third_refresh));
  EXPECT_EQ(logout.status, 204) << logout.body;
  EXPECT_EQ(api("POST", "/auth/refresh", refresh_body(third_refresh)).status, 401);
  EXPECT_EQ(api("POST", "/auth/logout", refresh_body("not-a-token")).status, 401);
  EXPECT_EQ(api("POST", "/auth/refresh", "{}").status, 400);
}

TEST_P(AuthTest, UnknownEmailAndWrongPasswordGetOneAnswerInSimilarTime) {
  // Each attempt from its own address and on its own account, so that no limit interferes.
  std::vector<std::string> accounts;
  accounts.reserve(5);
  for (int i = 0; i < 5; ++i) accounts.push_back(unique_email());
  for (const auto& email : accounts) ASSERT_FALSE(register_user(email).empty());
  std::vector<double> wrong_ms, unknown_ms;
  HttpResult wrong, unknown;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    wrong = direct_login(accounts[i], "wrong horse battery", "192.0.2." + std::to_string(10 + i));
    auto t1 = std::chrono::steady_clock::now();
    unknown = direct_login(unique_email(), kPassword, "192.0.2." + std::to_string(20 + i));
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_EQ(wrong.status, 401) << wrong.body;
    ASSERT_EQ(unknown.status, 401) << unknown.body;
    EXPECT_EQ(error_without_id(wrong), error_without_id(unknown));
    EXPECT_EQ(wrong.header("content-type"), unknown.header("content-type"));
    wrong_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    unknown_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  EXPECT_EQ(unknown.error_code(), "unauthenticated");
  // Medians: an unknown email is checked against a dummy hash of the same cost, so it is not answered
  // markedly faster (which would tell an attacker which emails have accounts).
  std::sort(wrong_ms.begin(), wrong_ms.end());
  std::sort(unknown_ms.begin(), unknown_ms.end());
  double wrong_median = wrong_ms[2], unknown_median = unknown_ms[2];
  EXPECT_GT(wrong_median, 5.0) << "a password check costs an argon2id hash";
  EXPECT_GT(unknown_median, wrong_median * 0.5)
      << "unknown " << unknown_median << " ms, wrong " << wrong_median;
  EXPECT_LT(unknown_median, wrong_median * 2.0)
      << "unknown " << unknown_median << " ms, wrong " << wrong_median;
}

TEST_P(AuthTest, RepeatedFailuresOnAnAccountGet429WithRetryAfter) {
  auto email = unique_email();
  ASSERT_FALSE(register_user(email).empty());
  for (int i = 0; i < 3; ++i) {
    auto r = api("POST", "/auth/login", login_body(email, "wrong horse battery"));
    ASSERT_EQ(r.status, 401) << i << ": " << r.body;
  }
  // Now even the right password is refused until the account's bucket refills.
  auto limited = api("POST", "/auth/login", login_body(email, kPassword));
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.error_code(), "rate_limited");
  auto retry_after = std::stoi(limited.header("retry-after"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 60);
  // Another account logs in as usual.
  auto other = unique_email();
  ASSERT_FALSE(register_user(other).empty());
  EXPECT_EQ(api("POST", "/auth/login", login_body(other, kPassword)).status, 200);
}

TEST_P(AuthTest, RepeatedFailuresFromAnAddressGet429AcrossAccounts) {
  for (int i = 0; i < 10; ++i) {
    auto r = direct_login(unique_email(), kPassword, "203.0.113.7");
    ASSERT_EQ(r.status, 401) << i << ": " << r.body;
  }
  auto limited = direct_login(unique_email(), kPassword, "203.0.113.7");
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_GE(std::stoi(limited.header("retry-after")), 1);
  // The limit is the address's: another address is not affected.
  EXPECT_EQ(direct_login(unique_email(), kPassword, "203.0.113.8").status, 401);
}

TEST_P(AuthTest, TheSigningKeySurvivesARestartAndIsPrivate) {
  auto before = testing::http(user_port_, "GET", "/.well-known/jwks.json").json();
  ASSERT_EQ(before.at("keys").as_array().size(), 1U);
  auto keys = dir_ / "keys";  // beside the user service's database (auth.key_dir "")
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(keys)) {
    ++files;
    EXPECT_EQ(fs::status(entry).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << entry.path();
  }
  EXPECT_EQ(files, 1U);
  auto email = unique_email();
  ASSERT_FALSE(register_user(email).empty());
  auto login = api("POST", "/auth/login", login_body(email, kPassword));
  ASSERT_EQ(login.status, 200);

  // SIGTERM to the process that runs the user service (the whole monolith there): it stops, then starts
  // again with the same database and key directory.
  auto& running = system_->process_of("user");
  running.signal(SIGTERM);
  ASSERT_TRUE(running.wait(15s));
  system_->restart("user");
  auto after = testing::http(user_port_, "GET", "/.well-known/jwks.json").json();
  EXPECT_EQ(after, before);
  EXPECT_TRUE(verifier().verify(std::string(login.json().at("access_token").as_string())));
  // The refresh token issued before the restart still works.
  auto refreshed = testing::http(user_port_, "POST", "/auth/refresh",
                                 refresh_body(std::string(login.json().at("refresh_token").as_string())));
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
}

INSTANTIATE_TEST_SUITE_P(Topologies, AuthTest, testing::kTopologies, testing::topology_name);

// The operator's account: made at the user service's first start from the password file, kept across
// restarts (not made twice); an account that took the admin's email first stops the start instead of
// being promoted.
TEST(AdminBootstrap, TheAdminIsMadeOnceAtFirstStartAndItsEmailCannotBeTakenFirst) {
  auto dir = testing::temp_dir("bootstrap");
  auto password = dir / "admin-password";
  std::ofstream(password) << "the admin's own password\n";
  testing::ServiceProcess user("user", dir, {{"APP_AUTH__ADMIN__PASSWORD_FILE", password.string()}});
  ASSERT_TRUE(testing::wait_ready(user.port)) << user.process->log();
  auto login = [&] {
    return testing::http(user.port, "POST", "/auth/login",
                         R"({"email":"admin@mercato.local","password":"the admin's own password"})",
                         {{"Authorization", ""}});
  };
  auto first = login();
  ASSERT_EQ(first.status, 200) << first.body;
  auth::Verifier verifier({.issuer = "mercato", .audience = "mercato"},
                          testing::TestTokens::instance().keys());
  auto claims = verifier.verify(std::string(first.json().at("access_token").as_string()));
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->role, "admin");
  user.process->signal(SIGTERM);
  ASSERT_TRUE(user.process->wait(15s));
  user.start();
  ASSERT_TRUE(testing::wait_ready(user.port)) << user.process->log();
  auto again = login();
  ASSERT_EQ(again.status, 200) << again.body;
  auto same = verifier.verify(std::string(again.json().at("access_token").as_string()));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->subject, claims->subject) << "the same account, not a second one";
  // Registration cannot make another account with that email.
  auto taken = testing::http(user.port, "POST", "/users",
                             R"({"email":"admin@mercato.local","name":"Eve","password":"correct horse"})",
                             {{"Authorization", ""}});
  EXPECT_EQ(taken.status, 409) << taken.body;

  auto dir2 = testing::temp_dir("bootstrap-taken");
  testing::ServiceProcess early("user", dir2);
  ASSERT_TRUE(testing::wait_ready(early.port)) << early.process->log();
  auto eve = testing::http(early.port, "POST", "/users",
                           R"({"email":"admin@mercato.local","name":"Eve","password":"correct horse"})",
                           {{"Authorization", ""}});
  ASSERT_EQ(eve.status, 201) << eve.body;
  early.process->signal(SIGTERM);
  ASSERT_TRUE(early.process->wait(15s));
  early.env["APP_AUTH__ADMIN__PASSWORD_FILE"] = password.string();
  early.start();
  auto status = early.process->wait(15s);
  ASSERT_TRUE(status.has_value()) << "the start must stop";
  EXPECT_EQ(*status, 2) << early.process->log();
  EXPECT_NE(early.process->log().find("auth.admin.email"), std::string::npos) << early.process->log();
  fs::remove_all(dir);
  fs::remove_all(dir2);
}

}  // namespace
}  // namespace mercato
