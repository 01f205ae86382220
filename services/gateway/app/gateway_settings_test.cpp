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
