#include "options.hpp"

#include <gtest/gtest.h>

namespace mercato::load {
namespace {

using namespace std::chrono_literals;

Result<Options> parse(const std::vector<std::string>& args) { return parse_options(args); }

TEST(Options, DefaultsAreAnOpenLoopForTenSeconds) {
  auto o = parse({});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_FALSE(o->closed);
  EXPECT_EQ(o->rate, 100);
  EXPECT_EQ(o->connections, 32);
  EXPECT_EQ(o->gateway, "127.0.0.1:8080");
  EXPECT_EQ(o->effective_duration(), 10s);
  EXPECT_FALSE(o->count);
  EXPECT_TRUE(o->check);
  EXPECT_EQ(o->settle, 30s);
  EXPECT_DOUBLE_EQ(o->max_error_rate, 0.01);
  EXPECT_EQ(o->admin_token, "");  // main() falls back to MERCATO_ADMIN_TOKEN, then the password file
  EXPECT_EQ(o->admin_password_file, "");
}

TEST(Options, AdminCredentialsTakeOneKind) {
  auto token = parse({"--admin-token", "eyJ.x.y"});
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(token->admin_token, "eyJ.x.y");
  auto file = parse({"--admin-password-file=/run/secrets/admin"});
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->admin_password_file, "/run/secrets/admin");
  auto both = parse({"--admin-token", "t", "--admin-password-file", "f"});
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("either --admin-token or --admin-password-file"), std::string::npos);
}

TEST(Options, ParsesEveryOptionInBothSpellings) {
  auto o = parse({"--rate=250.5",
                  "--connections",
                  "8",
                  "--threads=2",
                  "--duration",
                  "1500ms",
                  "--count=300",
                  "--mix",
                  "place_order=1",
                  "--products=3",
                  "--stock",
                  "0",
                  "--customers=4",
                  "--prefix",
                  "run-1",
                  "--settle=0",
                  "--timeout",
                  "2s",
                  "--json",
                  "/tmp/x.json",
                  "--check-command",
                  "true",
                  "--check-wait=1m",
                  "--max-error-rate",
                  "0",
                  "--seed",
                  "9",
                  "--renew-at=0.5",
                  "--no-check",
                  "--no-progress",
                  "--gateway",
                  "127.0.0.1:9080"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_DOUBLE_EQ(o->rate, 250.5);
  EXPECT_EQ(o->connections, 8);
  EXPECT_EQ(o->threads, 2);
  EXPECT_EQ(o->duration, 1500ms);
  EXPECT_EQ(o->count, 300u);
  EXPECT_EQ(o->effective_duration(), 1500ms);
  EXPECT_EQ(o->mix.total(), 1u);
  EXPECT_EQ(o->products, 3);
  EXPECT_EQ(o->stock, 0);
  EXPECT_EQ(o->customers, 4);
  EXPECT_EQ(o->prefix, "run-1");
  EXPECT_EQ(o->settle, 0ms);
  EXPECT_EQ(o->timeout, 2s);
  EXPECT_EQ(o->json_path, "/tmp/x.json");
  EXPECT_EQ(o->check_command, "true");
  EXPECT_EQ(o->check_wait, 60s);
  EXPECT_EQ(o->max_error_rate, 0);
  EXPECT_EQ(o->seed, 9u);
  EXPECT_DOUBLE_EQ(o->renew_at, 0.5);
  EXPECT_FALSE(o->check);
  EXPECT_FALSE(o->progress);
  EXPECT_EQ(o->gateway, "127.0.0.1:9080");
}

TEST(Options, CountAloneHasNoDurationBound) {
  auto o = parse({"--count", "200"});
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->effective_duration());
  auto closed = parse({"--closed", "--connections", "4", "--duration", "2m"});
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->effective_duration(), 120s);
}

TEST(Options, HelpIsNotAnError) {
  auto o = parse({"--help"});
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->help);
  EXPECT_NE(usage().find("--max-error-rate"), std::string::npos);
}

// Every bad option is an error naming it — never an exception, never a silent default.
TEST(Options, RefusesBadValuesNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"--rate", "0"}, "--rate"},
      {{"--rate", "-5"}, "--rate"},
      {{"--rate", "fast"}, "--rate"},
      {{"--rate", "nan"}, "--rate"},
      {{"--rate", "inf"}, "--rate"},
      {{"--rate"}, "--rate: needs a value"},
      {{"--connections", "0"}, "--connections"},
      {{"--connections", "10001"}, "--connections"},
      {{"--connections", "3x"}, "--connections"},
      {{"--threads", "4", "--connections", "2"}, "--threads"},
      {{"--threads", "4", "--customers", "3"}, "than customers"},
      {{"--admin-token", ""}, "--admin-token"},
      {{"--admin-password-file="}, "--admin-password-file"},
      {{"--duration", "0s"}, "--duration"},
      {{"--duration", "-1s"}, "--duration"},
      {{"--duration", "10 years"}, "--duration"},
      {{"--duration", "25h"}, "--duration"},
      {{"--duration", "s"}, "--duration"},
      {{"--count", "0"}, "--count"},
      {{"--count", "1e3"}, "--count"},
      {{"--mix", "browse=1"}, "--mix: unknown operation"},
      {{"--products", "0"}, "--products"},
      {{"--stock", "-1"}, "--stock"},
      {{"--customers", "0"}, "--customers"},
      {{"--prefix", "has space"}, "--prefix"},
      {{"--prefix", "a/b"}, "--prefix"},
      {{"--settle", "-1s"}, "--settle"},
      {{"--timeout", "0"}, "--timeout"},
      {{"--max-error-rate", "1.5"}, "--max-error-rate"},
      {{"--max-error-rate", "-0.1"}, "--max-error-rate"},
      {{"--renew-at", "0"}, "--renew-at"},
      {{"--renew-at", "0.95"}, "--renew-at"},
      {{"--gateway", "localhost"}, "--gateway"},
      {{"--gateway", "127.0.0.1:99999"}, "--gateway"},
      {{"--json", ""}, "--json"},
      {{"--closed", "--rate", "10"}, "either --closed or --rate"},
      {{"--closed=yes"}, "--closed: takes no value"},
      {{"--frobnicate"}, "unknown option '--frobnicate'"},
      {{"extra"}, "unexpected argument 'extra'"},
      {{"-x"}, "unexpected argument '-x'"},
      {{"--"}, "unexpected argument '--'"},
  };
  for (const auto& c : cases) {
    auto o = parse(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    ASSERT_FALSE(o) << joined;
    EXPECT_EQ(o.error().code, ErrorCode::kValidationFailed);
    EXPECT_NE(o.error().message.find(c.says), std::string::npos) << joined << "→ " << o.error().message;
  }
}

TEST(Options, DurationsInEveryUnit) {
  EXPECT_EQ(*parse_duration("250ms", "d"), 250ms);
  EXPECT_EQ(*parse_duration("30s", "d"), 30s);
  EXPECT_EQ(*parse_duration("2m", "d"), 120s);
  EXPECT_EQ(*parse_duration("1h", "d"), 3600s);
  EXPECT_EQ(*parse_duration("2.5", "d"), 2500ms);
  EXPECT_EQ(*parse_duration("0", "d", true), 0ms);
  EXPECT_FALSE(parse_duration("0", "d"));
  EXPECT_FALSE(parse_duration("", "d"));
  EXPECT_FALSE(parse_duration("ms", "d"));
}

}  // namespace
}  // namespace mercato::load
