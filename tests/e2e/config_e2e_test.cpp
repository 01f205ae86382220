// Every process starts with its shipped config/<name>.yaml in every mode that file offers: each
// service on its default engine, on each other engine it accepts, on each broker, and the order service
// in each saga mode. The binaries run with --check-config, which performs the whole start-up (settings
// read and validated, unknown keys refused, databases opened and migrated, the event bus started) and
// exits without serving, so a key that some mode leaves unread (and check_all_used then refuses) fails
// here rather than at a user's first `./mercato up`.
//
// Only what ./mercato up itself overrides is overridden (where files go, the engine and broker URLs).
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "mercato/catalog/catalog.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/events.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Mode {
  std::string service;
  std::string mode;  // "sqlite" (the shipped default), "postgres", "redis", "nats", "kafka", "saga-<mode>"
};

// How gtest prints a parameter (instead of its bytes).
void PrintTo(const Mode& m, std::ostream* os) { *os << m.service << " " << m.mode; }

std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  std::string name = info.param.service + "_" + info.param.mode;
  for (auto& c : name)
    if (c == '-') c = '_';
  return name;
}

// The gateway's upstreams as ./mercato up passes them (APP_GATEWAY__SERVICES__<NAME>__UPSTREAM), one per
// service of the descriptions (services/<name>/service.conf, compiled into the catalog).
std::map<std::string, std::string> gateway_upstreams() {
  std::map<std::string, std::string> env;
  for (const auto& service : catalog::all()) {
    if (service.kind != catalog::Kind::kService) continue;
    std::string key(service.name);
    for (auto& c : key) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env["APP_GATEWAY__SERVICES__" + key + "__UPSTREAM"] = "127.0.0.1:" + std::to_string(service.port);
  }
  return env;
}

std::vector<Mode> all_modes() {
  std::vector<Mode> modes;
  modes.push_back({"gateway", "sqlite"});  // the gateway stores nothing: its shipped file as it is
  modes.push_back({"gateway", "policy"});  // with the shipped traffic policy, as ./mercato up runs it
  // Every described service (a new one is checked without being named here), on each broker and on
  // PostgreSQL (every service's repository is written over lib/sql).
  for (const auto& service : catalog::all()) {
    if (service.kind != catalog::Kind::kService) continue;
    const std::string s(service.name);
    modes.push_back({s, "sqlite"});
    modes.push_back({s, "nats"});
    modes.push_back({s, "kafka"});
    modes.push_back({s, "postgres"});
  }
  modes.push_back({"inventory", "redis"});
  // The order service coordinates by saga.mode; the participants subscribe by the same key.
  for (const char* service : {"order", "inventory", "payment", "shipping"})
    for (const auto& m : {"orchestration", "choreography", "none"})
      modes.push_back({service, std::string("saga-") + m});
  return modes;
}

class ShippedConfig : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override { dir_ = testing::temp_dir("config-" + random_hex(4)); }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(ShippedConfig, StartsInEveryModeTheFileOffers) {
  const auto& [service, mode] = GetParam();
  const auto config = fs::path(testing::source_dir()) / "config" / (service + ".yaml");
  ASSERT_TRUE(fs::exists(config)) << config;
  std::map<std::string, std::string> env = {{"APP_DATABASE__PATH", (dir_ / (service + ".db")).string()},
                                            {"APP_LOG__LEVEL", "warn"}};
  if (service == "notification") env["APP_NOTIFICATION__OUTBOX_FILE"] = (dir_ / "outbox.log").string();
  if (service == "gateway") {
    env.erase("APP_DATABASE__PATH");
    env["APP_GATEWAY__DOCS_DIR"] = testing::source_dir() + "/node_modules/swagger-ui-dist";
  }
  std::unique_ptr<testing::PostgresSchema> schema;
  if (mode == "postgres") {
    MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
    schema = std::make_unique<testing::PostgresSchema>(base, "cfg");
    ASSERT_TRUE(schema->ok()) << schema->error();
    env["APP_DATABASE__URL"] = schema->url();
  } else if (mode == "redis") {
    MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_REDIS_URL");
    env["APP_DATABASE__URL"] = base;
    env["APP_DATABASE__KEY_PREFIX"] = "cfg" + random_hex(6) + ":";
  } else if (mode == "nats" || mode == "kafka") {
    MERCATO_BROKER_URL_OR_SKIP(url, mode);
    env["APP_EVENTS__URL"] = url;
    env["APP_EVENTS__PREFIX"] = "cfg" + random_hex(6);
  } else if (mode.starts_with("saga-")) {
    env["APP_SAGA__MODE"] = mode.substr(5);
  } else if (mode == "policy") {
    env["APP_GATEWAY__POLICY_FILE"] = testing::source_dir() + "/config/gateway-policy.yaml";
    auto upstreams = gateway_upstreams();
    ASSERT_GE(upstreams.size(), 6u)
        << "the catalog (services/*/service.conf) has fewer services than expected";
    env.insert(upstreams.begin(), upstreams.end());
  }
  testing::Process p(testing::binary(service), {"--config", config.string(), "--check-config"}, env);
  auto status = p.wait(45s);
  ASSERT_TRUE(status.has_value()) << "--check-config did not finish within 45 s:\n" << p.log();
  EXPECT_EQ(*status, 0) << p.log();
  EXPECT_NE(p.log().find("configuration is valid"), std::string::npos) << p.log();
}

INSTANTIATE_TEST_SUITE_P(Modes, ShippedConfig, ::testing::ValuesIn(all_modes()), mode_name);

}  // namespace
}  // namespace mercato
