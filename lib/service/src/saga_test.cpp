#include "mercato/service/saga.hpp"

#include <gtest/gtest.h>

namespace mercato::service {
namespace {

SagaMode mode_of(std::string_view yaml, const std::map<std::string, std::string>& env = {}) {
  auto source = config::Source::from_strings(yaml, env);
  return read_saga_mode(source.section("saga"));
}

TEST(SagaMode, IsOrchestrationUnlessTheConfigurationSaysOtherwise) {
  EXPECT_EQ(mode_of(""), SagaMode::kOrchestration);
  EXPECT_EQ(mode_of("saga:\n  mode: choreography\n"), SagaMode::kChoreography);
  EXPECT_EQ(mode_of("saga:\n  mode: none\n"), SagaMode::kNone);
  EXPECT_EQ(mode_of("saga:\n  mode: choreography\n", {{"APP_SAGA__MODE", "orchestration"}}),
            SagaMode::kOrchestration);
}

TEST(SagaMode, AnUnknownModeIsAConfigErrorNamingTheKey) {
  try {
    (void)mode_of("saga:\n  mode: chaos\n");
    FAIL() << "an unknown mode was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("saga.mode"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mercato::service
