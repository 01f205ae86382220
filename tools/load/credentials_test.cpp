#include "credentials.hpp"

#include <gtest/gtest.h>

namespace mercato::load {
namespace {

using namespace std::chrono_literals;

TEST(Credentials, ALoginAnswerIsASessionRenewedAtThreeQuartersOfItsLife) {
  auto t0 = SteadyClock::now();
  auto s = parse_tokens(
      R"({"access_token":"aaa.bbb.ccc","token_type":"Bearer","expires_in":900,"refresh_token":"r1"})", t0);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->authorization, "Bearer aaa.bbb.ccc");
  EXPECT_EQ(s->refresh_token, "r1");
  EXPECT_EQ(s->expires_at, t0 + 900s);
  EXPECT_EQ(s->renew_at, t0 + 675s);  // a 15-minute token is renewed at 11:15
  EXPECT_FALSE(s->due(t0 + 674s));
  EXPECT_TRUE(s->due(t0 + 675s));
  // Not sent any more within kExpiryMargin of its end: renewed first.
  EXPECT_FALSE(s->expired(t0 + 889s));
  EXPECT_TRUE(s->expired(t0 + 890s));

  // The shortest life the user service allows (auth.access_token_ttl 1m) still leaves room.
  auto short_lived = parse_tokens(R"({"access_token":"a","expires_in":60,"refresh_token":"r"})", t0);
  ASSERT_TRUE(short_lived) << short_lived.error().message;
  EXPECT_LT(short_lived->renew_at + kExpiryMargin, short_lived->expires_at);
}

TEST(Credentials, TheRenewalPointIsTheGivenFractionOfTheLife) {
  auto t0 = SteadyClock::now();
  auto s = parse_tokens(R"({"access_token":"a","expires_in":60,"refresh_token":"r"})", t0, 0.25);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->renew_at, t0 + 15s);
  EXPECT_EQ(s->expires_at, t0 + 60s);
  EXPECT_FALSE(s->due(t0 + 14s));
  EXPECT_TRUE(s->due(t0 + 15s));
}

TEST(Credentials, AnAnswerWithoutWhatASessionNeedsIsRefusedNamingIt) {
  auto t0 = SteadyClock::now();
  for (const auto& [body, says] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "not a JSON object"},
           {R"({"expires_in":900,"refresh_token":"r"})", "no access_token"},
           {R"({"access_token":"","expires_in":900,"refresh_token":"r"})", "no access_token"},
           {R"({"access_token":"a","expires_in":900})", "no refresh_token"},
           {R"({"access_token":"a","token_type":"MAC","expires_in":900,"refresh_token":"r"})", "Bearer"},
           {R"({"access_token":"a","refresh_token":"r"})", "expires_in"},
           {R"({"access_token":"a","expires_in":"900","refresh_token":"r"})", "expires_in"},
           {R"({"access_token":"a","expires_in":0,"refresh_token":"r"})", "expires_in"}}) {
    auto s = parse_tokens(body, t0);
    ASSERT_FALSE(s) << body;
    EXPECT_NE(s.error().message.find(says), std::string::npos) << body << " → " << s.error().message;
  }
}

TEST(Credentials, BodiesAreEscapedJson) {
  EXPECT_EQ(login_body("a@b.c", "pa\"ss\\word"), R"({"email":"a@b.c","password":"pa\"ss\\word"})");
  EXPECT_EQ(refresh_body("tok-_1"), R"({"refresh_token":"tok-_1"})");
}

TEST(Credentials, RetryAfterInSecondsWithAFloorADefaultAndACap) {
  EXPECT_EQ(retry_after("3", 60s), 3s);
  EXPECT_EQ(retry_after(" 12 ", 60s), 12s);
  EXPECT_EQ(retry_after("0", 60s), 100ms);  // not a busy loop
  EXPECT_EQ(retry_after("600", 60s), 60s);  // capped
  EXPECT_EQ(retry_after("99999999999999999999", 60s), 60s);
  EXPECT_EQ(retry_after(std::nullopt, 60s), 1s);
  EXPECT_EQ(retry_after("Wed, 21 Oct 2026 07:28:00 GMT", 60s), 1s);  // an HTTP date: the default
  EXPECT_EQ(retry_after("-1", 60s), 1s);
  EXPECT_EQ(retry_after("2", 500ms), 500ms);
}

TEST(Credentials, TheAdminComesFromTheOptionsThenTheEnvironmentThenTheDefaultFile) {
  using Kind = AdminCredentials::Kind;
  Options none;
  auto from_env = choose_admin(none, "env-token", "/v/secrets/admin-password", true);
  EXPECT_EQ(from_env.kind, Kind::kToken);
  EXPECT_EQ(from_env.value, "env-token");
  EXPECT_EQ(from_env.source, "MERCATO_ADMIN_TOKEN");

  auto from_file = choose_admin(none, "", "/v/secrets/admin-password", true);
  EXPECT_EQ(from_file.kind, Kind::kPasswordFile);
  EXPECT_EQ(from_file.value, "/v/secrets/admin-password");

  EXPECT_EQ(choose_admin(none, "", "/v/secrets/admin-password", false).kind, Kind::kNone);

  Options token;
  token.admin_token = "flag-token";
  auto flag = choose_admin(token, "env-token", "/f", true);
  EXPECT_EQ(flag.kind, Kind::kToken);
  EXPECT_EQ(flag.value, "flag-token");
  EXPECT_EQ(flag.source, "--admin-token");

  Options file;
  file.admin_password_file = "/run/admin";
  auto explicit_file = choose_admin(file, "env-token", "/f", true);  // an explicit option beats the variable
  EXPECT_EQ(explicit_file.kind, Kind::kPasswordFile);
  EXPECT_EQ(explicit_file.value, "/run/admin");
  EXPECT_EQ(explicit_file.source, "--admin-password-file /run/admin");
}

TEST(Credentials, TheDefaultPasswordFileFollowsMercatoVarDir) {
  EXPECT_EQ(default_admin_password_file("", "/src"), "/src/var/secrets/admin-password");
  EXPECT_EQ(default_admin_password_file("/tmp/v", "/src"), "/tmp/v/secrets/admin-password");
  EXPECT_EQ(password_from_file_text("s3cret\n"), "s3cret");
  EXPECT_EQ(password_from_file_text("s3cret\r\n\n"), "s3cret");
  EXPECT_EQ(password_from_file_text("with space "), "with space ");
}

}  // namespace
}  // namespace mercato::load
