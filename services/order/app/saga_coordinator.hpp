// The order service's side of the order saga: starts a saga with each placed order, turns participants'
// answers and deadlines into the state machine's decisions (domain/saga.hpp), and persists each
// decision with the order, its inbox record and its events in one transaction
// (OrderRepository::with_saga), so a killed order service resumes every saga where the database says it
// stopped. In orchestration it is the orchestrator (the decisions are commands); in choreography it
// only watches the participants, confirms the order, and cancels it on a failure or a deadline (the
// decisions are the order's own events). New sagas take the configured mode; each saga keeps its own.
//
// Answers arrive through the bus (on_event, on the transport's threads); deadlines through a ticker
// thread (SagaTicker) that asks the repository which sagas are due. Both may touch one saga at once:
// the repository's transaction serialises them.
//
// Thread-safety: thread-safe (state lives in the repository).
#pragma once

#include <atomic>
#include <functional>

#include "app/admission.hpp"
#include "app/ports.hpp"
#include "mercato/core/periodic.hpp"
#include "mercato/events/event.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/resilience/circuit_breaker.hpp"

namespace mercato::order {

class SagaCoordinator {
 public:
  // `metrics` (optional) gets, as each decision is committed:
  //   mercato_saga_steps_total{step,status}       every timeline entry — resent compensations and
  //                                               timeouts included, so a compensation that keeps failing
  //                                               shows
  //   mercato_saga_step_duration_seconds{step,status}  from a step's command (or its resend) to its answer
  //                                               or timeout (status succeeded, failed, timed_out)
  //   mercato_saga_outcomes_total{outcome}        sagas ended: confirmed (completed) or cancelled
  //   (compensated) mercato_order_confirmation_seconds          placed → confirmed, per confirmed order
  //
  // `payment_circuit` (optional): a circuit breaker in front of the payment step. A charge that times
  // out is a failure, any payment.processed a success; while it is open a charge about to start is
  // deferred at once (pending_payment, the charge queued) instead of after a step timeout. Its state
  // is mercato_saga_payment_circuit_state (0 closed, 1 open, 2 half-open). In memory: a restarted
  // order service starts with it closed. `circuit_clock` is the breaker's time (tests pass their own).
  //
  // `admission` (optional): told of every saga this coordinator finishes (Admission::finished), once,
  // after the decision is committed: its backlog and finish rate.
  SagaCoordinator(OrderRepository& repository, SagaTimeouts timeouts, obs::Registry* metrics = nullptr,
                  Coordination mode = Coordination::kOrchestration,
                  std::optional<resilience::BreakerSettings> payment_circuit = std::nullopt,
                  std::function<resilience::TimePoint()> circuit_clock = resilience::Clock::now,
                  Admission* admission = nullptr);

  // A new saga for `order` and the events to append with it (the first command).
  Saga begin(const Order& order, SystemTime now, const std::string& traceparent,
             std::vector<events::CloudEvent>& events) const;
  // An answer from a participant (any of answer_types()).
  Result<void> on_event(const events::CloudEvent& event);
  // Applies the timeouts of every saga due at `now`; returns how many it advanced.
  Result<std::size_t> tick(SystemTime now);
  // The customer cancels an order whose saga runs; nullopt when the order has no running saga. The
  // position is that of the order's newest event.
  Result<std::optional<Written>> cancel(std::string_view order_id, const std::string& reason,
                                        const std::string& traceparent = {});

  static const std::vector<std::string>& answer_types();
  // The timeouts in force; set_timeouts changes them for every decision from then on (live configuration:
  // saga.step_timeout, saga.order_deadline). Thread-safe.
  SagaTimeouts timeouts() const noexcept {
    return {std::chrono::milliseconds(step_ms_.load(std::memory_order_relaxed)),
            std::chrono::milliseconds(order_ms_.load(std::memory_order_relaxed))};
  }
  void set_timeouts(SagaTimeouts timeouts) noexcept {
    step_ms_.store(timeouts.step.count(), std::memory_order_relaxed);
    order_ms_.store(timeouts.order.count(), std::memory_order_relaxed);
  }
  // The mode new sagas start in.
  Coordination mode() const noexcept { return mode_; }

 public:
  // What one committed decision tells an operator: the timeline entries it added, how long each answered
  // step took since it was sent, and how the saga ended when it did.
  struct Observed {
    std::vector<StepRecord> added;
    std::vector<std::pair<StepRecord, double>> answered;  // an answer or a timeout, seconds since sent
    std::optional<SagaState> finished;                    // completed or compensated by this decision
    bool confirmed = false;                               // the decision confirms the order
    double since_placed = 0;                              // seconds from placement to the decision
  };
  static Observed observe(const Saga& saga, std::size_t before, bool was_finished, const Order& order,
                          SystemTime now);

 private:
  // Records an Observed in the metrics.
  void count(const Observed& observed);
  // Tells the payment circuit what the committed entries say about the payment service.
  void observe_payment(const std::vector<StepRecord>& added, bool trial_acquired);

  OrderRepository& repository_;
  std::atomic<std::int64_t> step_ms_;   // SagaTimeouts::step
  std::atomic<std::int64_t> order_ms_;  // SagaTimeouts::order
  obs::Registry* metrics_;
  Coordination mode_;
  std::unique_ptr<resilience::CircuitBreaker> payment_circuit_;
  std::function<resilience::TimePoint()> circuit_clock_;
  Admission* admission_;
};

// Calls coordinator.tick() every `interval` on a thread of its own until destroyed.
class SagaTicker {
 public:
  SagaTicker(SagaCoordinator& coordinator, std::chrono::milliseconds interval,
             std::function<void(const Error&)> on_error);
  SagaTicker(const SagaTicker&) = delete;
  SagaTicker& operator=(const SagaTicker&) = delete;

 private:
  core::Periodic periodic_;
};

}  // namespace mercato::order
