#include "app/saga_settings.hpp"

#include <gtest/gtest.h>

namespace mercato::order {
namespace {

using namespace std::chrono_literals;

TEST(SagaSettings, DefaultsAreOrchestrationWithTheDocumentedTimes) {
  auto s = read_saga_settings(config::Source::from_strings("").section("saga"));
  EXPECT_EQ(s.coordination, Coordination::kOrchestration);
  EXPECT_EQ(s.timeouts.step, 30s);
  EXPECT_EQ(s.timeouts.order, 15min);
  EXPECT_EQ(s.tick, 250ms);
  EXPECT_EQ(s.payment_circuit.failure_threshold, 3);
  EXPECT_EQ(s.payment_circuit.recovery_timeout, 30s);
}

TEST(SagaSettings, EveryKeyIsReadAndNoneMeansNoCoordination) {
  auto source = config::Source::from_strings(
      "saga:\n  mode: none\n  step_timeout: 2s\n  order_deadline: 1m\n  tick: 50ms\n"
      "  payment_circuit_breaker:\n    failure_threshold: 7\n    recovery_timeout: 5s\n",
      {{"APP_SAGA__MODE", "choreography"}});
  auto s = read_saga_settings(source.section("saga"));
  EXPECT_EQ(s.coordination, Coordination::kChoreography);  // the environment wins over the file
  EXPECT_EQ(s.timeouts.step, 2s);
  EXPECT_EQ(s.timeouts.order, 1min);
  EXPECT_EQ(s.tick, 50ms);
  EXPECT_EQ(s.payment_circuit.failure_threshold, 7);
  EXPECT_EQ(s.payment_circuit.recovery_timeout, 5s);
  EXPECT_NO_THROW(source.check_all_used());
  auto none = read_saga_settings(config::Source::from_strings("saga:\n  mode: none\n").section("saga"));
  EXPECT_FALSE(none.coordination.has_value());
}

TEST(SagaSettings, BadValuesNameTheirKey) {
  auto bad = [](const std::string& yaml) {
    try {
      read_saga_settings(config::Source::from_strings(yaml).section("saga"));
    } catch (const config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(bad("saga:\n  mode: sometimes\n").find("saga.mode"), std::string::npos);
  EXPECT_NE(bad("saga:\n  step_timeout: soon\n").find("saga.step_timeout"), std::string::npos);
  EXPECT_NE(bad("saga:\n  payment_circuit_breaker:\n    failure_threshold: 0\n")
                .find("saga.payment_circuit_breaker.failure_threshold"),
            std::string::npos);
}

}  // namespace
}  // namespace mercato::order
