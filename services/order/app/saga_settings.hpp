// The order saga's settings: the `saga` section of the order service's configuration (config/order.yaml),
// read and checked once at start-up and handed to the SagaCoordinator and its ticker.
//
//   auto saga = order::read_saga_settings(ctx.config().section("saga"));  // throws config::ConfigError
//   if (saga.coordination) { ... SagaCoordinator(repository, saga.timeouts, ..., *saga.coordination, ...) }
//
// Thread-safety: plain values; read_saga_settings runs at start-up.
#pragma once

#include <chrono>
#include <optional>

#include "domain/saga.hpp"
#include "mercato/config/config.hpp"
#include "mercato/resilience/circuit_breaker.hpp"

namespace mercato::order {

struct SagaSettings {
  // How placed orders are coordinated; nullopt for `mode: none` (orders stay pending: no saga runs).
  std::optional<Coordination> coordination = Coordination::kOrchestration;
  SagaTimeouts timeouts;
  std::chrono::milliseconds tick{250};  // how often deadlines are applied
  // The orchestrator's breaker on the payment step (docs/saga.md, "pending_payment").
  resilience::BreakerSettings payment_circuit{
      .failure_threshold = 3, .recovery_timeout = std::chrono::seconds(30), .success_threshold = 1};
};

// Reads mode (orchestration | choreography | none), step_timeout, order_deadline, tick and
// payment_circuit_breaker.{failure_threshold, recovery_timeout}. Every key is read whatever the mode, so
// a typo is refused the same way with `none`, and the shipped file, which sets them all, starts in every
// mode. A bad value throws config::ConfigError naming the key.
SagaSettings read_saga_settings(const config::Section& section);

}  // namespace mercato::order
