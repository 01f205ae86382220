#include "mercato/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <string>

namespace mercato::config {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// Runs `fn`, expects a ConfigError and returns its message, so tests can check what the operator sees.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConfigError";
  return {};
}

// --- sources and precedence ------------------------------------------------------------------------

// Found by fuzz/config_fuzz.cpp: an alias inside the map its anchor names makes a node that contains
// itself, and reading it overflowed the stack. It is a ConfigError now, as is nesting past the bound.
TEST(Source, AliasThatContainsItselfIsAnErrorNotAStackOverflow) {
  EXPECT_THAT(error_of([] { (void)Source::from_strings("base: &b\n  timeout:\n  <<: *b\n"); }),
              HasSubstr("nested more than"));
  EXPECT_THAT(error_of([] { (void)Source::from_strings("a: &x\n  b: *x\n"); }),
              HasSubstr("nested more than"));
  std::string deep;
  for (int i = 0; i < 40; ++i)
    deep += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k" + std::to_string(i) + ":\n";
  EXPECT_THAT(error_of([&] { (void)Source::from_strings(deep); }), HasSubstr("nested more than"));
  std::string fine;
  for (int i = 0; i < 20; ++i)
    fine += std::string(static_cast<std::size_t>(i) * 2, ' ') + "k" + std::to_string(i) + ":\n";
  EXPECT_NO_THROW((void)Source::from_strings(fine));
}

TEST(Source, ReadsValuesFromYaml) {
  auto src = Source::from_strings("server:\n  host: 0.0.0.0\n  port: 8080\n");
  auto server = src.section("server");
  EXPECT_EQ(server.string("host", "localhost"), "0.0.0.0");
  EXPECT_EQ(server.port("port", 1), 8080);
  EXPECT_EQ(server.path(), "server");
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Source, EnvironmentOverridesFile) {
  auto src = Source::from_strings("server:\n  port: 8080\n", {{"APP_SERVER__PORT", "8081"}});
  EXPECT_EQ(src.section("server").port("port", 1), 8081);
  // The file value was overridden, not forgotten: it must not be reported as unknown.
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Source, EnvironmentSingleUnderscoreStaysInKey) {
  auto src = Source::from_strings("", {{"APP_SERVER__MAX_BODY_BYTES", "2MiB"}});
  EXPECT_EQ(src.section("server").bytes("max_body_bytes", 0), 2U * 1024 * 1024);
}

TEST(Source, EnvironmentNestsThreeLevels) {
  auto src = Source::from_strings("", {{"APP_GATEWAY__SERVICES__USER", "http://user:8080"}});
  EXPECT_EQ(src.section("gateway.services").string("user", ""), "http://user:8080");
}

TEST(Source, IgnoresVariablesWithoutPrefix) {
  auto src = Source::from_strings("", {{"HOME", "/root"}, {"APPX_SERVER__PORT", "1"}, {"SERVER__PORT", "2"}});
  EXPECT_EQ(src.section("server").port("port", 7), 7);
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Source, HonoursCustomPrefix) {
  auto src = Source::from_strings("", {{"SHOP_SERVER__PORT", "9001"}, {"APP_SERVER__PORT", "9002"}}, "SHOP_");
  EXPECT_EQ(src.section("server").port("port", 1), 9001);
}

TEST(Source, RejectsMalformedEnvironmentName) {
  auto msg = error_of([] { Source::from_strings("", {{"APP_SERVER____PORT", "1"}}); });
  EXPECT_THAT(msg, HasSubstr("APP_SERVER____PORT"));
  msg = error_of([] { Source::from_strings("", {{"APP_", "1"}}); });
  EXPECT_THAT(msg, HasSubstr("'APP_'"));
}

TEST(Source, LoadsFileAndEnvironmentArray) {
  std::string path = ::testing::TempDir() + "config_test_" + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream out(path);
    out << "server:\n  port: 8080\n  host: example\n";
  }
  std::string var1 = "APP_SERVER__PORT=9000";
  std::string var2 = "PATH=/usr/bin";
  std::string var3 = "APP_SERVER__HOST=a=b";  // only the first '=' separates name and value
  std::array<char*, 4> envp{var1.data(), var2.data(), var3.data(), nullptr};
  auto src = Source::load(path, envp.data());
  EXPECT_EQ(src.section("server").port("port", 1), 9000);
  EXPECT_EQ(src.section("server").string("host", ""), "a=b");
  EXPECT_NO_THROW(src.check_all_used());
  std::remove(path.c_str());
}

TEST(Source, LoadsWithoutFileAndWithNullEnvironment) {
  auto src = Source::load("", nullptr);
  EXPECT_EQ(src.section("server").port("port", 8080), 8080);
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Source, MissingFileNamesPath) {
  auto msg = error_of([] { Source::load("/nonexistent/mercato/user.yaml", nullptr); });
  EXPECT_THAT(msg, HasSubstr("/nonexistent/mercato/user.yaml"));
  EXPECT_THAT(msg, HasSubstr("No such file"));
}

TEST(Source, BadYamlReportsLineAndColumn) {
  auto msg = error_of([] { Source::from_strings("a: 1\nb: 2\n  c: 3\n"); });
  EXPECT_THAT(msg, HasSubstr("<yaml>"));
  EXPECT_THAT(msg, HasSubstr("line 3, column 4"));
}

TEST(Source, BadYamlFileNamesPathAndLine) {
  std::string path = ::testing::TempDir() + "config_test_bad_" + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream out(path);
    out << "server:\n  port: 1\n  hosts: [a, b\n";
  }
  auto msg = error_of([&] { Source::load(path, nullptr); });
  EXPECT_THAT(msg, HasSubstr(path));
  EXPECT_THAT(msg, HasSubstr("line 4"));
  std::remove(path.c_str());
}

TEST(Source, RejectsNonMapTopLevel) {
  auto msg = error_of([] { Source::from_strings("- a\n- b\n"); });
  EXPECT_THAT(msg, HasSubstr("top level"));
}

TEST(Source, RejectsDuplicateKey) {
  auto msg = error_of([] { Source::from_strings("server:\n  port: 1\n  port: 2\n"); });
  EXPECT_THAT(msg, HasSubstr("duplicate configuration key 'server.port'"));
  EXPECT_THAT(msg, HasSubstr("line 3"));
}

TEST(Source, RejectsDottedKeyInFile) {
  auto msg = error_of([] { Source::from_strings("server.port: 1\n"); });
  EXPECT_THAT(msg, HasSubstr("'server.port'"));
}

// --- unknown keys ----------------------------------------------------------------------------------

TEST(Source, ReportsUnknownKeysFromFileAndEnvironment) {
  std::string path = ::testing::TempDir() + "config_test_unknown_" + std::to_string(::getpid()) + ".yaml";
  {
    std::ofstream out(path);
    out << "server:\n  port: 8080\n  prot: 8081\n";
  }
  std::string var = "APP_SERVER__HOTS=example";
  std::array<char*, 2> envp{var.data(), nullptr};
  auto src = Source::load(path, envp.data());
  (void)src.section("server").port("port", 1);
  auto msg = error_of([&] { src.check_all_used(); });
  EXPECT_THAT(msg, HasSubstr("unknown configuration key 'server.prot' (in " + path + ")"));
  EXPECT_THAT(msg, HasSubstr("unknown configuration key 'server.hots' (from APP_SERVER__HOTS)"));
  EXPECT_THAT(msg, ::testing::Not(HasSubstr("'server.port'")));
  std::remove(path.c_str());
}

TEST(Source, ReportsUnknownKeyWithEmptyValue) {
  auto src = Source::from_strings("server:\n  prot:\n");
  auto msg = error_of([&] { src.check_all_used(); });
  EXPECT_THAT(msg, HasSubstr("'server.prot'"));
}

TEST(Source, ReportsUnknownListKey) {
  auto src = Source::from_strings("server:\n  hosts: [a, b]\n");
  auto msg = error_of([&] { src.check_all_used(); });
  EXPECT_THAT(msg, HasSubstr("'server.hosts'"));
}

TEST(Source, EmptySectionIsNotUnknownOnceOpened) {
  auto src = Source::from_strings("gateway:\n  services:\n");
  auto services = src.section("gateway").section("services");
  EXPECT_TRUE(services.child_keys().empty());
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Source, FallbackReadOfAbsentKeyDoesNotHideOthers) {
  auto src = Source::from_strings("log:\n  levle: debug\n");
  EXPECT_EQ(src.section("log").choice("level", "info", {"debug", "info"}), "info");
  EXPECT_THROW(src.check_all_used(), ConfigError);
}

// --- getters: values and fallbacks -----------------------------------------------------------------

TEST(Section, ReturnsFallbacksWhenAbsent) {
  auto s = Source::from_strings("").section("server");
  EXPECT_EQ(s.string("host", "localhost"), "localhost");
  EXPECT_EQ(s.optional_string("host"), std::nullopt);
  EXPECT_EQ(s.integer("workers", 4, 1, 64), 4);
  EXPECT_EQ(s.port("port", 8080), 8080);
  EXPECT_TRUE(s.boolean("tls", true));
  EXPECT_DOUBLE_EQ(s.number("ratio", 0.5, 0, 1), 0.5);
  EXPECT_EQ(s.duration("timeout", milliseconds(250)), milliseconds(250));
  EXPECT_EQ(s.bytes("max_body", 1024), 1024U);
  EXPECT_EQ(s.choice("level", "info", {"debug", "info"}), "info");
  EXPECT_TRUE(s.string_list("hosts").empty());
}

TEST(Section, EmptyYamlValueCountsAsAbsent) {
  auto src = Source::from_strings("server:\n  port:\n  host: ~\n");
  auto s = src.section("server");
  EXPECT_EQ(s.port("port", 8080), 8080);
  EXPECT_EQ(s.optional_string("host"), std::nullopt);
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Section, ReadsOptionalAndEmptyStrings) {
  auto s = Source::from_strings("db:\n  path: /var/db\n  password: ''\n").section("db");
  EXPECT_EQ(s.optional_string("path"), "/var/db");
  EXPECT_EQ(s.string("password", "x"), "");
}

TEST(Section, RequiredStringNamesKeyAndVariableWhenAbsent) {
  auto s = Source::from_strings("").section("db");
  auto msg = error_of([&] { (void)s.required_string("path"); });
  EXPECT_THAT(msg, HasSubstr("'db.path'"));
  EXPECT_THAT(msg, HasSubstr("APP_DB__PATH"));
}

TEST(Section, RequiredStringRejectsEmpty) {
  auto s = Source::from_strings("db:\n  path: ''\n").section("db");
  auto msg = error_of([&] { (void)s.required_string("path"); });
  EXPECT_THAT(msg, HasSubstr("'db.path'"));
  EXPECT_EQ(Source::from_strings("db:\n  path: x\n").section("db").required_string("path"), "x");
}

TEST(Section, ReadsIntWithinRange) {
  auto s = Source::from_strings("a:\n  lo: -5\n  hi: 10\n  plus: '+3'\n").section("a");
  EXPECT_EQ(s.integer("lo", 0, -5, 10), -5);
  EXPECT_EQ(s.integer("hi", 0, -5, 10), 10);
  EXPECT_EQ(s.integer("plus", 0, 0, 10), 3);
}

TEST(Section, RejectsNonIntegerWithFullMessage) {
  auto s = Source::from_strings("", {{"APP_SERVER__PORT", "abc"}}).section("server");
  auto msg = error_of([&] { (void)s.integer("port", 80, 1, 65535); });
  EXPECT_EQ(msg,
            "config key 'server.port' = 'abc' (from APP_SERVER__PORT): expected an integer in [1, 65535]");
}

TEST(Section, RejectsIntegerOutOfRangeFromFile) {
  auto s = Source::from_strings("server:\n  workers: 65\n").section("server");
  auto msg = error_of([&] { (void)s.integer("workers", 4, 1, 64); });
  EXPECT_EQ(msg, "config key 'server.workers' = '65' (in <yaml>): expected an integer in [1, 64]");
}

TEST(Section, RejectsIntegerWithTrailingGarbageOrOverflow) {
  auto s = Source::from_strings("a:\n  x: 12abc\n  y: 1.5\n  z: 99999999999999999999\n").section("a");
  EXPECT_THROW((void)s.integer("x", 0, 0, 100), ConfigError);
  EXPECT_THROW((void)s.integer("y", 0, 0, 100), ConfigError);
  EXPECT_THROW((void)s.integer("z", 0, INT64_MIN, INT64_MAX), ConfigError);
}

TEST(Section, ReadsPortIncludingEphemeralZero) {
  auto s = Source::from_strings("a:\n  zero: 0\n  max: 65535\n  big: 65536\n  neg: -1\n").section("a");
  EXPECT_EQ(s.port("zero", 80), 0);
  EXPECT_EQ(s.port("max", 80), 65535);
  EXPECT_THAT(error_of([&] { (void)s.port("big", 80); }), HasSubstr("[0, 65535]"));
  EXPECT_THROW((void)s.port("neg", 80), ConfigError);
}

TEST(Section, ReadsBooleanSpellings) {
  std::map<std::string, std::string> env = {
      {"APP_B__T1", "true"},  {"APP_B__T2", "YES"}, {"APP_B__T3", "1"}, {"APP_B__T4", "On"},
      {"APP_B__F1", "false"}, {"APP_B__F2", "no"},  {"APP_B__F3", "0"}, {"APP_B__F4", "OFF"},
  };
  auto s = Source::from_strings("", env).section("b");
  for (const char* k : {"t1", "t2", "t3", "t4"}) EXPECT_TRUE(s.boolean(k, false)) << k;
  for (const char* k : {"f1", "f2", "f3", "f4"}) EXPECT_FALSE(s.boolean(k, true)) << k;
}

TEST(Section, RejectsBadBoolean) {
  auto s = Source::from_strings("", {{"APP_B__X", "maybe"}}).section("b");
  auto msg = error_of([&] { (void)s.boolean("x", false); });
  EXPECT_THAT(msg, HasSubstr("config key 'b.x' = 'maybe' (from APP_B__X): expected a boolean"));
}

TEST(Section, ReadsNumberWithinRange) {
  auto s = Source::from_strings("a:\n  r: 0.25\n  e: 1e-3\n  n: -2\n").section("a");
  EXPECT_DOUBLE_EQ(s.number("r", 0, 0, 1), 0.25);
  EXPECT_DOUBLE_EQ(s.number("e", 0, 0, 1), 0.001);
  EXPECT_DOUBLE_EQ(s.number("n", 0, -10, 10), -2);
}

TEST(Section, RejectsBadNumber) {
  auto s = Source::from_strings("a:\n  big: 1.5\n  txt: half\n  nan: nan\n  inf: inf\n").section("a");
  EXPECT_THAT(error_of([&] { (void)s.number("big", 0, 0, 1); }),
              HasSubstr("config key 'a.big' = '1.5' (in <yaml>): expected a number in [0, 1]"));
  EXPECT_THROW((void)s.number("txt", 0, 0, 1), ConfigError);
  EXPECT_THROW((void)s.number("nan", 0, -1e300, 1e300), ConfigError);
  EXPECT_THROW((void)s.number("inf", 0, -1e300, 1e300), ConfigError);
}

TEST(Section, ParsesDurations) {
  std::map<std::string, std::string> env = {
      {"APP_D__A", "250ms"}, {"APP_D__B", "5s"}, {"APP_D__C", "2m"},   {"APP_D__D", "1h"},
      {"APP_D__E", "750"},   {"APP_D__F", "0"},  {"APP_D__G", "10 s"},
  };
  auto s = Source::from_strings("", env).section("d");
  EXPECT_EQ(s.duration("a", {}), milliseconds(250));
  EXPECT_EQ(s.duration("b", {}), milliseconds(5000));
  EXPECT_EQ(s.duration("c", {}), milliseconds(120'000));
  EXPECT_EQ(s.duration("d", {}), milliseconds(3'600'000));
  EXPECT_EQ(s.duration("e", {}), milliseconds(750));
  EXPECT_EQ(s.duration("f", milliseconds(9)), milliseconds(0));
  EXPECT_EQ(s.duration("g", {}), milliseconds(10'000));
  auto year = Source::from_strings("", {{"APP_D__Y", "8760h"}}).section("d");
  EXPECT_EQ(year.duration("y", {}), std::chrono::hours(8760)) << "a year is the most";
}

TEST(Section, RejectsBadDurations) {
  for (const char* bad : {"-5s", "abc", "1.5s", "5sec", "s", "", "5 s s", "99999999999999999999h", "8761h",
                          "9223372036854775807", "31536000001"}) {
    auto s = Source::from_strings("", {{"APP_D__X", bad}}).section("d");
    auto msg = error_of([&] { (void)s.duration("x", milliseconds(1)); });
    EXPECT_THAT(msg, HasSubstr("config key 'd.x'")) << bad;
    EXPECT_THAT(msg, HasSubstr("expected a duration")) << bad;
  }
}

TEST(Section, ParsesByteSizes) {
  std::map<std::string, std::string> env = {
      {"APP_B__A", "1048576"}, {"APP_B__B", "64KiB"}, {"APP_B__C", "1MiB"},
      {"APP_B__D", "2GiB"},    {"APP_B__E", "10KB"},  {"APP_B__F", "5MB"},
      {"APP_B__G", "512B"},    {"APP_B__H", "1 TiB"}, {"APP_B__I", "3GB"},
  };
  auto s = Source::from_strings("", env).section("b");
  EXPECT_EQ(s.bytes("a", 0), 1048576U);
  EXPECT_EQ(s.bytes("b", 0), 64U * 1024);
  EXPECT_EQ(s.bytes("c", 0), 1024U * 1024);
  EXPECT_EQ(s.bytes("d", 0), 2ULL * 1024 * 1024 * 1024);
  EXPECT_EQ(s.bytes("e", 0), 10'000U);
  EXPECT_EQ(s.bytes("f", 0), 5'000'000U);
  EXPECT_EQ(s.bytes("g", 0), 512U);
  EXPECT_EQ(s.bytes("h", 0), 1ULL << 40);
  EXPECT_EQ(s.bytes("i", 0), 3'000'000'000ULL);
}

TEST(Section, RejectsBadByteSizes) {
  for (const char* bad : {"-1", "1.5MiB", "10kb", "MiB", "12XB", "", "99999999999TiB"}) {
    auto s = Source::from_strings("", {{"APP_B__X", bad}}).section("b");
    auto msg = error_of([&] { (void)s.bytes("x", 1); });
    EXPECT_THAT(msg, HasSubstr("config key 'b.x'")) << bad;
    EXPECT_THAT(msg, HasSubstr("expected a byte size")) << bad;
  }
}

TEST(Section, ReadsChoice) {
  auto s = Source::from_strings("log:\n  level: warn\n").section("log");
  EXPECT_EQ(s.choice("level", "info", {"debug", "info", "warn", "error"}), "warn");
}

TEST(Section, RejectsChoiceOutsideAllowed) {
  auto s = Source::from_strings("", {{"APP_LOG__LEVEL", "verbose"}}).section("log");
  auto msg = error_of([&] { (void)s.choice("level", "info", {"debug", "info", "warn", "error"}); });
  EXPECT_EQ(
      msg,
      "config key 'log.level' = 'verbose' (from APP_LOG__LEVEL): expected one of debug, info, warn, error");
}

TEST(Section, ReadsListFromYamlAndEnvironment) {
  auto src = Source::from_strings("kafka:\n  brokers:\n    - a:9092\n    - b:9092\n  topics: [x, y]\n",
                                  {{"APP_KAFKA__TOPICS", " orders , users ,payments"}});
  auto s = src.section("kafka");
  EXPECT_EQ(s.string_list("brokers"), (std::vector<std::string>{"a:9092", "b:9092"}));
  EXPECT_EQ(s.string_list("topics"), (std::vector<std::string>{"orders", "users", "payments"}));
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Section, ReadsEmptyListFromYamlAndEnvironment) {
  auto s = Source::from_strings("a:\n  x: []\n", {{"APP_A__Y", ""}}).section("a");
  EXPECT_TRUE(s.string_list("x").empty());
  EXPECT_TRUE(s.string_list("y").empty());
}

TEST(Section, RejectsEmptyItemInEnvironmentList) {
  auto s = Source::from_strings("", {{"APP_A__X", "a,,b"}}).section("a");
  EXPECT_THAT(error_of([&] { (void)s.string_list("x"); }), HasSubstr("(from APP_A__X)"));
}

TEST(Section, RejectsScalarWhereListExpected) {
  auto s = Source::from_strings("a:\n  x: one\n").section("a");
  EXPECT_THAT(error_of([&] { (void)s.string_list("x"); }), HasSubstr("expected a list"));
}

TEST(Section, RejectsListWhereValueExpected) {
  auto s = Source::from_strings("a:\n  x: [1, 2]\n").section("a");
  EXPECT_THAT(error_of([&] { (void)s.integer("x", 0, 0, 9); }), HasSubstr("found a list"));
}

TEST(Section, RejectsNestedStructureInList) {
  EXPECT_THROW(Source::from_strings("a:\n  x:\n    - {b: 1}\n"), ConfigError);
}

TEST(Section, RejectsSectionReadAsValue) {
  auto s = Source::from_strings("server:\n  port: 1\n").root();
  EXPECT_THAT(error_of([&] { (void)s.string("server", ""); }), HasSubstr("'server' is a section"));
}

// --- nesting ---------------------------------------------------------------------------------------

TEST(Section, NestsSectionsAndDottedKeys) {
  auto src =
      Source::from_strings("gateway:\n  services:\n    user:\n      url: http://user\n      timeout: 2s\n");
  auto gateway = src.section("gateway");
  auto user = gateway.section("services").section("user");
  EXPECT_EQ(user.path(), "gateway.services.user");
  EXPECT_EQ(user.string("url", ""), "http://user");
  EXPECT_EQ(src.root().duration("gateway.services.user.timeout", {}), milliseconds(2000));
  EXPECT_EQ(src.root().path(), "");
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Section, ListsChildKeysFromFileAndEnvironmentSorted) {
  auto src = Source::from_strings(
      "gateway:\n  services:\n    user:\n      url: u\n    order:\n      url: o\n      retries: 2\n",
      {{"APP_GATEWAY__SERVICES__CATALOG__URL", "c"}, {"APP_GATEWAY__SERVICES__USER__URL", "u2"}});
  auto services = src.section("gateway.services");
  EXPECT_EQ(services.child_keys(), (std::vector<std::string>{"catalog", "order", "user"}));
  EXPECT_EQ(src.section("gateway.services.order").child_keys(), (std::vector<std::string>{"retries", "url"}));
  EXPECT_EQ(src.root().child_keys(), (std::vector<std::string>{"gateway"}));
  EXPECT_TRUE(src.section("nothing").child_keys().empty());
}

TEST(Section, ChildKeysDoesNotMarkKeysUsed) {
  auto src = Source::from_strings("gateway:\n  services:\n    user:\n      url: u\n");
  auto services = src.section("gateway.services");
  ASSERT_EQ(services.child_keys(), (std::vector<std::string>{"user"}));
  EXPECT_THAT(error_of([&] { src.check_all_used(); }), HasSubstr("'gateway.services.user.url'"));
  for (const auto& name : services.child_keys()) (void)services.section(name).string("url", "");
  EXPECT_NO_THROW(src.check_all_used());
}

TEST(Section, ChildKeysDoesNotMatchPrefixOfSiblingName) {
  auto src = Source::from_strings("server:\n  port: 1\nserver_extra:\n  x: 2\n");
  EXPECT_EQ(src.section("server").child_keys(), (std::vector<std::string>{"port"}));
}

}  // namespace
}  // namespace mercato::config
