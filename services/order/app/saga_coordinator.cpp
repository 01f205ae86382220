#include "app/saga_coordinator.hpp"

#include <boost/json.hpp>

#include "app/order_events.hpp"

namespace mercato::order {
namespace {

constexpr std::string_view kConsumer = "order";

// Reads what the saga needs from an answer; unknown fields are ignored.
Answer answer_of(const events::CloudEvent& e) {
  Answer a;
  a.type = e.type;
  boost::system::error_code ec;
  auto data = boost::json::parse(e.data, ec);
  if (ec || !data.is_object()) return a;
  const auto& o = data.as_object();
  auto text = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  a.status = text("status");
  a.reason = text("reason");
  if (a.reason.empty()) a.reason = text("decline_reason");
  a.customer_id = text("customer_id");
  if (const auto* amount = o.if_contains("amount_cents"); amount != nullptr && amount->is_int64()) {
    a.amount_cents = amount->as_int64();
  }
  if (const auto* address = o.if_contains("address"); address != nullptr && address->is_object()) {
    const auto& at = address->as_object();
    auto line = [&](std::string_view key) -> std::string {
      const auto* v = at.if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    a.address = Address{line("name"), line("line1"),       line("line2"),
                        line("city"), line("postal_code"), line("country")};
  }
  return a;
}

// What a decision does to the order (the events it adds to the order's stream) and which commands and
// announcements it sends. `by`: who a cancellation it decides is on (the saga, unless the customer asked).
SagaChange apply(const Decision& d, const Order& order, SystemTime now, const std::string& traceparent,
                 CancelledBy by = CancelledBy::kSaga) {
  SagaChange change;
  change.saga_changed = d.changed;
  change.traceparent = traceparent;
  for (auto step : d.commands) change.events.push_back(saga_command(step, order, traceparent));
  // Choreography: the order's settled status again, for the participants still to act on it.
  if (d.announce && (order.status == Status::kCancelled || order.status == Status::kConfirmed)) {
    change.events.push_back(announcement(order));
  }
  if (!d.order_status) return change;
  change.history = settle(order, *d.order_status, d.order_reason, now);
  for (auto& e : change.history) {
    if (auto* cancelled = std::get_if<OrderCancelled>(&e)) cancelled->by = by;
  }
  return change;
}

// `change`, noting in `observed` whether it confirms the order (its history says so).
SagaChange confirming(SagaChange change, SagaCoordinator::Observed& observed) {
  for (const auto& e : change.history) {
    if (std::holds_alternative<OrderConfirmed>(e)) observed.confirmed = true;
  }
  return change;
}

}  // namespace

const std::vector<std::string>& SagaCoordinator::answer_types() {
  static const std::vector<std::string> kTypes = {
      "inventory.reserved", "inventory.rejected", "inventory.committed",
      "inventory.released", "payment.processed",  "payment.refunded",
      "shipment.created",   "shipment.failed",    "shipment.cancelled"};
  return kTypes;
}

SagaCoordinator::SagaCoordinator(OrderRepository& repository, SagaTimeouts timeouts, obs::Registry* metrics,
                                 Coordination mode,
                                 std::optional<resilience::BreakerSettings> payment_circuit,
                                 std::function<resilience::TimePoint()> circuit_clock, Admission* admission)
    : repository_(repository),
      step_ms_(timeouts.step.count()),
      order_ms_(timeouts.order.count()),
      metrics_(metrics),
      mode_(mode),
      circuit_clock_(std::move(circuit_clock)),
      admission_(admission) {
  if (!payment_circuit) return;
  obs::Gauge* state = nullptr;
  if (metrics_ != nullptr) {
    state = &metrics_->gauge("mercato_saga_payment_circuit_state",
                             "The payment step's circuit breaker: 0 closed, 1 open, 2 half-open");
    state->set(0);
  }
  auto* registry = metrics_;
  payment_circuit_ = std::make_unique<resilience::CircuitBreaker>(
      *payment_circuit, [state, registry](resilience::BreakerState, resilience::BreakerState to) {
        if (state == nullptr) return;
        state->set(to == resilience::BreakerState::kClosed ? 0
                   : to == resilience::BreakerState::kOpen ? 1
                                                           : 2);
        registry
            ->counter("mercato_saga_payment_circuit_transitions_total",
                      "The payment step's circuit breaker changes",
                      {{"to", std::string(resilience::to_string(to))}})
            .inc();
      });
}

Saga SagaCoordinator::begin(const Order& order, SystemTime now, const std::string& traceparent,
                            std::vector<events::CloudEvent>& events) const {
  Saga saga;
  auto d = start(saga, order.id, now, timeouts(), mode_);
  for (auto step : d.commands) events.push_back(saga_command(step, order, traceparent));
  return saga;
}

Result<void> SagaCoordinator::on_event(const events::CloudEvent& event) {
  auto answer = answer_of(event);
  // Only a reservation starts a charge (orchestrated: the next command; choreographed: the next step).
  Conditions conditions;
  bool trial = false;
  if (payment_circuit_ && answer.type == "inventory.reserved") {
    trial = payment_circuit_->try_acquire(circuit_clock_());
    conditions.payment_circuit_open = !trial;
  }
  Observed observed;
  auto r = repository_.with_saga(event.subject, Handled{std::string(kConsumer), event.id},
                                 [&](const Order& order, Saga& saga) -> Result<SagaChange> {
                                   auto now = now_utc();
                                   auto before = saga.timeline.size();
                                   auto was_finished = saga.finished();
                                   auto d = on_answer(saga, held_against(answer, order), now, timeouts(),
                                                      conditions);
                                   observed = observe(saga, before, was_finished, order, now);
                                   return confirming(apply(d, order, now, event.traceparent), observed);
                                 });
  const auto& added = observed.added;
  if (r && *r) count(observed);
  observe_payment(r && *r ? added : std::vector<StepRecord>{}, trial);
  if (payment_circuit_ && answer.type == "payment.processed") payment_circuit_->on_success(circuit_clock_());
  // An answer about an order without a saga (a reservation made through the REST API, say) is not ours.
  if (!r && r.error().code == ErrorCode::kNotFound) return {};
  if (!r) return std::move(r).error();
  return {};
}

Result<std::size_t> SagaCoordinator::tick(SystemTime now) {
  MERCATO_ASSIGN_OR_RETURN(auto due, repository_.sagas_due(now, 100));
  std::size_t advanced = 0;
  for (const auto& id : due) {
    Observed observed;
    auto r =
        repository_.with_saga(id, std::nullopt, [&](const Order& order, Saga& saga) -> Result<SagaChange> {
          auto before = saga.timeline.size();
          auto was_finished = saga.finished();
          auto d = on_timeout(saga, now, timeouts());
          observed = observe(saga, before, was_finished, order, now);
          return confirming(apply(d, order, now, {}), observed);
        });
    if (!r) return std::move(r).error();
    count(observed);
    observe_payment(observed.added, false);
    ++advanced;
  }
  return advanced;
}

void SagaCoordinator::observe_payment(const std::vector<StepRecord>& added, bool trial_acquired) {
  if (!payment_circuit_) return;
  bool started = false;
  for (const auto& r : added) {
    if (r.step != Step::kCharge) continue;
    if (r.status == StepStatus::kStarted) started = true;
    if (r.status == StepStatus::kTimedOut) payment_circuit_->on_failure(circuit_clock_());
  }
  // A trial let through for a reservation that did not start a charge (a duplicate, say) is given back.
  if (trial_acquired && !started) payment_circuit_->on_ignored();
}

SagaCoordinator::Observed SagaCoordinator::observe(const Saga& saga, std::size_t before, bool was_finished,
                                                   const Order& order, SystemTime now) {
  Observed o;
  o.added.assign(saga.timeline.begin() + static_cast<std::ptrdiff_t>(before), saga.timeline.end());
  for (std::size_t i = before; i < saga.timeline.size(); ++i) {
    const auto& r = saga.timeline[i];
    if (r.status != StepStatus::kSucceeded && r.status != StepStatus::kFailed &&
        r.status != StepStatus::kTimedOut)
      continue;
    // The command it answers: the newest start (or resend) of that step before it.
    for (std::size_t j = i; j-- > 0;) {
      const auto& sent = saga.timeline[j];
      if (sent.step != r.step) continue;
      if (sent.status == StepStatus::kStarted || sent.status == StepStatus::kResent) {
        o.answered.emplace_back(r, std::max(0.0, std::chrono::duration<double>(r.at - sent.at).count()));
        break;
      }
    }
  }
  if (!was_finished && saga.finished()) o.finished = saga.state;
  o.since_placed = std::max(0.0, std::chrono::duration<double>(now - order.created_at).count());
  return o;
}

void SagaCoordinator::count(const Observed& observed) {
  if (admission_ != nullptr && observed.finished) admission_->finished();
  if (metrics_ == nullptr) return;
  for (const auto& r : observed.added) {
    metrics_
        ->counter("mercato_saga_steps_total",
                  "Saga steps and compensations by outcome (started, succeeded, "
                  "failed, timed_out, resent, cancelled, late)",
                  {{"step", std::string(to_string(r.step))}, {"status", std::string(to_string(r.status))}})
        .inc();
  }
  for (const auto& [r, seconds] : observed.answered) {
    metrics_
        ->histogram("mercato_saga_step_duration_seconds",
                    "From a saga step's command to its answer or timeout",
                    {{"step", std::string(to_string(r.step))}, {"status", std::string(to_string(r.status))}})
        .observe(seconds);
  }
  if (observed.confirmed) {
    metrics_->histogram("mercato_order_confirmation_seconds", "From an order's placement to its confirmation")
        .observe(observed.since_placed);
  }
  if (!observed.finished) return;
  metrics_
      ->counter("mercato_saga_outcomes_total",
                "Sagas ended: confirmed (completed) or cancelled (compensated)",
                {{"outcome", *observed.finished == SagaState::kCompleted ? "confirmed" : "cancelled"}})
      .inc();
}

Result<std::optional<Written>> SagaCoordinator::cancel(std::string_view order_id, const std::string& reason,
                                                       const std::string& traceparent) {
  bool running = false;
  Observed observed;
  auto r = repository_.with_saga(order_id, std::nullopt,
                                 [&](const Order& order, Saga& saga) -> Result<SagaChange> {
                                   if (saga.finished()) return SagaChange{};
                                   running = true;
                                   auto now = now_utc();
                                   auto before = saga.timeline.size();
                                   MERCATO_ASSIGN_OR_RETURN(auto d, on_cancel(saga, reason, now, timeouts()));
                                   observed = observe(saga, before, false, order, now);
                                   return apply(d, order, now, traceparent, CancelledBy::kCustomer);
                                 });
  if (r && *r) count(observed);
  if (!r && r.error().code == ErrorCode::kNotFound) return std::optional<Written>();
  if (!r) return std::move(r).error();
  if (!running) return std::optional<Written>();
  Written w;
  MERCATO_ASSIGN_OR_RETURN(w.order, repository_.find(order_id));
  MERCATO_ASSIGN_OR_RETURN(auto history, repository_.history(order_id));
  w.position = history.back().position;
  return std::optional<Written>(std::move(w));
}

// A tick at once (deadlines that passed while the service was down apply at start), then every interval.
SagaTicker::SagaTicker(SagaCoordinator& coordinator, std::chrono::milliseconds interval,
                       std::function<void(const Error&)> on_error)
    : periodic_(
          interval,
          [&coordinator, on_error = std::move(on_error)] {
            auto r = coordinator.tick(now_utc());
            if (!r && on_error) on_error(r.error());
          },
          core::Periodic::kRunAtStart) {}

}  // namespace mercato::order
