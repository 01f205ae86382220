// Login, refresh and logout over the SQL repository on a SQLite file and the fake hasher: what a token says,
// the one answer to every failed login, the failure limits, rotation and reuse detection.
#include "app/auth_service.hpp"

#include <gtest/gtest.h>

#include "adapters/fake_password_hasher.hpp"
#include "adapters/sql_user_repository.hpp"
#include "app/user_service.hpp"
#include "mercato/auth/crypto.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::user {
namespace {

constexpr const char* kPassword = "correct horse";

class AuthServiceTest : public ::testing::Test {
 protected:
  AuthServiceTest() {
    settings_.issuer = "mercato-test";
    settings_.audience = "mercato-test-api";
    settings_.per_account = {.rate = 1.0 / 60, .burst = 3};
    settings_.per_address = {.rate = 1.0 / 60, .burst = 5};
  }
  AuthService& auth() {
    if (!auth_) {
      auth::KeySet published;
      published.add("k1", key_.public_key());
      auth_ = std::make_unique<AuthService>(repo_, hasher_, SigningKeys{auth::Signer(key_, "k1"), published},
                                            settings_);
    }
    return *auth_;
  }
  std::string register_user(const std::string& email) {
    auto u = users_.create({.email = email, .name = "N", .password = kPassword});
    EXPECT_TRUE(u) << u.error().message;
    return u ? u->id : "";
  }
  auth::Verifier verifier() {
    return auth::Verifier({.issuer = "mercato-test", .audience = "mercato-test-api"},
                          auth().published_keys());
  }

  mercato::testing::SqliteDatabase db_{"user"};
  SqlUserRepository repo_{db_.get()};
  FakePasswordHasher hasher_;
  UserService users_{repo_, hasher_};
  auth::PrivateKey key_ = auth::PrivateKey::generate();
  AuthSettings settings_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, LoginGivesAnAccessTokenForTheAccountAndAnOpaqueRefreshToken) {
  auto id = register_user("ann@x.io");
  auto out = auth().login("Ann@X.io", kPassword, "192.0.2.1");
  ASSERT_TRUE(out.result) << out.result.error().message;
  EXPECT_EQ(out.result->expires_in, std::chrono::minutes(15));
  auto claims = verifier().verify(out.result->access_token);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->subject, id);
  EXPECT_EQ(claims->role, "customer");
  EXPECT_EQ(claims->expires_at - claims->issued_at, std::chrono::minutes(15));
  EXPECT_FALSE(claims->token_id.empty());
  EXPECT_EQ(out.result->refresh_token.size(), 43U) << "32 random bytes, base64url";
  EXPECT_EQ(out.result->refresh_token.find('.'), std::string::npos) << "opaque, not a JWT";
  auto other = auth().login("ann@x.io", kPassword, "192.0.2.1");
  ASSERT_TRUE(other.result);
  EXPECT_NE(other.result->refresh_token, out.result->refresh_token);
  EXPECT_NE(verifier().verify(other.result->access_token)->token_id, claims->token_id);
}

TEST_F(AuthServiceTest, UnknownEmailAndWrongPasswordGetTheSameAnswer) {
  register_user("ann@x.io");
  auto wrong = auth().login("ann@x.io", "wrong horse", "192.0.2.1");
  auto unknown = auth().login("nobody@x.io", kPassword, "192.0.2.2");
  auto malformed = auth().login("not an email", kPassword, "192.0.2.3");
  ASSERT_FALSE(wrong.result);
  ASSERT_FALSE(unknown.result);
  ASSERT_FALSE(malformed.result);
  EXPECT_EQ(wrong.result.error(), AuthService::login_failed());
  EXPECT_EQ(unknown.result.error(), wrong.result.error());
  EXPECT_EQ(malformed.result.error(), wrong.result.error());
  EXPECT_EQ(wrong.result.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, FailuresAreLimitedPerAccountWithRetryAfterAndSuccessesAreNotCounted) {
  register_user("ann@x.io");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(auth().login("ann@x.io", kPassword, "192.0.2.1").result);
  for (int i = 0; i < 3; ++i) {
    auto r = auth().login("ann@x.io", "wrong horse", "192.0.2." + std::to_string(10 + i));
    ASSERT_EQ(r.result.error().code, ErrorCode::kUnauthenticated) << i;
  }
  // From yet another address, and even with the right password: the account's bucket is empty.
  auto limited = auth().login("ANN@x.io", kPassword, "192.0.2.99");
  ASSERT_FALSE(limited.result);
  EXPECT_EQ(limited.result.error().code, ErrorCode::kRateLimited);
  EXPECT_GT(limited.retry_after, std::chrono::seconds(50));
  EXPECT_LE(limited.retry_after, std::chrono::seconds(60));
  // Another account is not affected.
  register_user("bob@x.io");
  EXPECT_TRUE(auth().login("bob@x.io", kPassword, "192.0.2.99").result);
}

TEST_F(AuthServiceTest, FailuresAreLimitedPerAddressAcrossAccounts) {
  for (int i = 0; i < 5; ++i) {
    auto r = auth().login("user" + std::to_string(i) + "@x.io", "whatever1", "198.51.100.7");
    ASSERT_EQ(r.result.error().code, ErrorCode::kUnauthenticated) << i;
  }
  register_user("ann@x.io");
  auto limited = auth().login("ann@x.io", kPassword, "198.51.100.7");
  ASSERT_FALSE(limited.result);
  EXPECT_EQ(limited.result.error().code, ErrorCode::kRateLimited);
  EXPECT_GT(limited.retry_after.count(), 0);
  EXPECT_TRUE(auth().login("ann@x.io", kPassword, "198.51.100.8").result);
}

TEST_F(AuthServiceTest, RefreshRotatesAndAReusedTokenRevokesTheFamily) {
  auto id = register_user("ann@x.io");
  auto login = auth().login("ann@x.io", kPassword, "192.0.2.1");
  ASSERT_TRUE(login.result);
  auto first = login.result->refresh_token;
  auto second = auth().refresh(first);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_NE(second->refresh_token, first);
  EXPECT_EQ(verifier().verify(second->access_token)->subject, id);
  auto third = auth().refresh(second->refresh_token);
  ASSERT_TRUE(third);

  auto reused = auth().refresh(first);  // a stolen copy of the first token
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, ErrorCode::kUnauthenticated);
  auto current = auth().refresh(third->refresh_token);
  ASSERT_FALSE(current) << "the legitimate holder is logged out too";
  EXPECT_EQ(current.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, LogoutRevokesTheSessionOnly) {
  register_user("ann@x.io");
  auto a = auth().login("ann@x.io", kPassword, "192.0.2.1");
  auto b = auth().login("ann@x.io", kPassword, "192.0.2.1");
  ASSERT_TRUE(a.result);
  ASSERT_TRUE(b.result);
  ASSERT_TRUE(auth().logout(a.result->refresh_token));
  EXPECT_FALSE(auth().refresh(a.result->refresh_token));
  EXPECT_TRUE(auth().refresh(b.result->refresh_token));
  auto unknown = auth().logout("no-such-token");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnauthenticated);
}

// The client-credentials grant: a service's token says role service and subject service:<name>; an
// unknown client and a wrong secret get one answer; no refresh token.
TEST_F(AuthServiceTest, AServiceGetsItsOwnTokenWithItsSecretOnly) {
  settings_.service_clients["order"] = auth::sha256_hex("order's secret, long enough to be one");
  auto granted = auth().service_token("order", "order's secret, long enough to be one");
  ASSERT_TRUE(granted) << granted.error().message;
  EXPECT_TRUE(granted->refresh_token.empty());
  auto claims = verifier().verify(granted->access_token);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->role, "service");
  EXPECT_EQ(claims->subject, "service:order");
  auto wrong = auth().service_token("order", "a guess");
  auto unknown = auth().service_token("payment", "order's secret, long enough to be one");
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error(), unknown.error());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
  EXPECT_FALSE(auth().service_token("", ""));
}

TEST(AuthSettings, AreValidated) {
  EXPECT_TRUE(AuthSettings{}.validate());
  AuthSettings s;
  s.access_token_ttl = std::chrono::hours(2);
  EXPECT_EQ(s.validate().error().field, "access_token_ttl");
  s = {};
  s.refresh_token_ttl = std::chrono::minutes(5);
  EXPECT_EQ(s.validate().error().field, "refresh_token_ttl");
  s = {};
  s.issuer = "";
  EXPECT_EQ(s.validate().error().field, "issuer");
  s = {};
  s.per_account.burst = 0;
  EXPECT_EQ(s.validate().error().field, "per_account.burst");
  s = {};
  s.service_clients["order"] = "not-a-hash";
  EXPECT_EQ(s.validate().error().field, "service_clients.order");
  s.service_clients["order"] = std::string(64, 'A');
  EXPECT_EQ(s.validate().error().field, "service_clients.order") << "lower-case hex only";
  s.service_clients["order"] = std::string(64, 'a');
  EXPECT_TRUE(s.validate());
}

}  // namespace
}  // namespace mercato::user
