#include "app/saga_settings.hpp"

#include "mercato/service/saga.hpp"

namespace mercato::order {

SagaSettings read_saga_settings(const config::Section& section) {
  SagaSettings s;
  switch (service::read_saga_mode(section)) {
    case service::SagaMode::kOrchestration:
      s.coordination = Coordination::kOrchestration;
      break;
    case service::SagaMode::kChoreography:
      s.coordination = Coordination::kChoreography;
      break;
    case service::SagaMode::kNone:
      s.coordination = std::nullopt;
      break;
  }
  s.timeouts.step = section.duration("step_timeout", s.timeouts.step);
  s.timeouts.order = section.duration("order_deadline", s.timeouts.order);
  s.tick = section.duration("tick", s.tick);
  auto breaker = section.section("payment_circuit_breaker");
  s.payment_circuit.failure_threshold = static_cast<int>(
      breaker.integer("failure_threshold", s.payment_circuit.failure_threshold, 1, 1'000'000));
  s.payment_circuit.recovery_timeout =
      breaker.duration("recovery_timeout", s.payment_circuit.recovery_timeout);
  return s;
}

}  // namespace mercato::order
