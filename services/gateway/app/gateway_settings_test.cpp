#include "app/gateway_settings.hpp"

#include <gtest/gtest.h>

namespace mercato::gateway {
namespace {

using namespace std::chrono_literals;

TEST(GatewaySettings, EveryKeyIsReadWithItsDefault) {
  auto defaults = read_settings(config::Source::from_strings(""));
  EXPECT_TRUE(defaults.routes.all().empty());
  EXPECT_EQ(defaults.policy_file, "");
  EXPECT_EQ(defaults.policy_poll, 1s);
  EXPECT_EQ(defaults.docs_dir, "node_modules/swagger-ui-dist");
  auto source = config::Source::from_strings(
      "gateway:\n  policy_file: p.yaml\n  policy_poll: 0\n  docs_dir: /srv/docs\n"
      "  services:\n    user:\n      upstream: 127.0.0.1:8081\n");
  auto s = read_settings(source);
  EXPECT_EQ(s.policy_file, "p.yaml");
  EXPECT_EQ(s.policy_poll, 0ms);
  EXPECT_EQ(s.docs_dir, "/srv/docs");
  EXPECT_NE(s.routes.find_path("/.well-known/jwks.json"),
            nullptr);  // the user service's, from its description
  EXPECT_NO_THROW(source.check_all_used());
}

TEST(GatewaySettings, TheDashboardsKeysAreReadAndChecked) {
  auto defaults = read_settings(config::Source::from_strings("")).dashboard;
  EXPECT_TRUE(defaults.enabled);
  EXPECT_EQ(defaults.refresh, 1s);
  EXPECT_EQ(defaults.probe_timeout, 500ms);
  EXPECT_EQ(defaults.history, 120);
  EXPECT_EQ(defaults.trace_url, "");
  EXPECT_EQ(defaults.assets_dir, "node_modules/uplot/dist");
  auto source = config::Source::from_strings(
      "gateway:\n  dashboard:\n    enabled: false\n    refresh: 2s\n    probe_timeout: 1s\n    history: 30\n"
      "    trace_url: \"https://traces.example/t/{trace_id}\"\n    assets_dir: /srv/uplot\n");
  auto d = read_settings(source).dashboard;
  EXPECT_FALSE(d.enabled);
  EXPECT_EQ(d.refresh, 2s);
  EXPECT_EQ(d.probe_timeout, 1s);
  EXPECT_EQ(d.history, 30);
  EXPECT_EQ(d.trace_url, "https://traces.example/t/{trace_id}");
  EXPECT_EQ(d.assets_dir, "/srv/uplot");
  EXPECT_NO_THROW(source.check_all_used());
  for (const char* bad : {"refresh: 10ms", "probe_timeout: 0", "probe_timeout: 20s", "history: 1",
                          "trace_url: \"javascript:alert(1)\""}) {
    try {
      read_settings(config::Source::from_strings(std::string("gateway:\n  dashboard:\n    ") + bad + "\n"));
      ADD_FAILURE() << "accepted " << bad;
    } catch (const config::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("gateway.dashboard."), std::string::npos) << e.what();
    }
  }
}

TEST(GatewaySettings, ABadValueNamesItsKey) {
  try {
    read_settings(config::Source::from_strings("gateway:\n  policy_poll: often\n"));
    ADD_FAILURE() << "a bad duration was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("gateway.policy_poll"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mercato::gateway
