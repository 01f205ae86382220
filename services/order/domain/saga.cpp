#include "domain/saga.hpp"

#include <algorithm>
#include <array>

#include "mercato/core/enum_names.hpp"

namespace mercato::order {
namespace {

// The one place the stored and shown names of the saga's enums are written.
constexpr auto kModes = enum_names<Coordination>(
    {{Coordination::kOrchestration, "orchestration"}, {Coordination::kChoreography, "choreography"}});
constexpr auto kStates = enum_names<SagaState>({{SagaState::kRunning, "running"},
                                                {SagaState::kCompensating, "compensating"},
                                                {SagaState::kCompleted, "completed"},
                                                {SagaState::kCompensated, "compensated"}});
constexpr auto kSteps = enum_names<Step>({{Step::kReserve, "reserve"},
                                          {Step::kCharge, "charge"},
                                          {Step::kShip, "ship"},
                                          {Step::kCommit, "commit"},
                                          {Step::kRelease, "release"},
                                          {Step::kRefund, "refund"},
                                          {Step::kCancelShipment, "cancel_shipment"}});
constexpr auto kStepStatuses = enum_names<StepStatus>({{StepStatus::kStarted, "started"},
                                                       {StepStatus::kSucceeded, "succeeded"},
                                                       {StepStatus::kFailed, "failed"},
                                                       {StepStatus::kTimedOut, "timed_out"},
                                                       {StepStatus::kDeferred, "deferred"},
                                                       {StepStatus::kResent, "resent"},
                                                       {StepStatus::kCancelled, "cancelled"},
                                                       {StepStatus::kLate, "late"}});

// What undoes a forward step.
Step compensation_of(Step step) {
  switch (step) {
    case Step::kReserve:
      return Step::kRelease;
    case Step::kCharge:
      return Step::kRefund;
    case Step::kShip:
      return Step::kCancelShipment;
    default:
      return step;  // commit is the pivot: never compensated
  }
}

// The answer that completes `step`, and the one that says it failed (empty: it cannot fail).
struct Expected {
  std::string_view success;
  std::string_view failure;
};

Expected expected(Step step) {
  switch (step) {
    case Step::kReserve:
      return {"inventory.reserved", "inventory.rejected"};
    case Step::kCharge:
      return {"payment.processed", ""};  // declined is a payment.processed too
    case Step::kShip:
      return {"shipment.created", "shipment.failed"};
    case Step::kCommit:
      return {"inventory.committed", ""};
    case Step::kRelease:
      return {"inventory.released", ""};
    case Step::kRefund:
      return {"payment.refunded", ""};
    case Step::kCancelShipment:
      return {"shipment.cancelled", ""};
  }
  return {};
}

void record(Saga& saga, Step step, StepStatus status, SystemTime now, std::string detail = {}) {
  saga.timeline.push_back({step, status, now, std::move(detail)});
}

// Sends `step` now and waits for its answer.
void send(Saga& saga, Decision& d, Step step, SystemTime now, const SagaTimeouts& timeouts) {
  saga.current = step;
  saga.step_deadline = now + timeouts.step;
  record(saga, step, StepStatus::kStarted, now);
  d.commands.push_back(step);
}

// The charge has just started but the payment service's circuit is open: wait in pending_payment (the
// command or the event it acts on stays queued) until the order's deadline at the latest.
void defer_charge(Saga& saga, Decision& d, SystemTime now) {
  record(saga, Step::kCharge, StepStatus::kDeferred, now, "the payment service's circuit is open");
  saga.step_deadline = saga.order_deadline;
  d.order_status = Status::kPendingPayment;
}

// Runs the next compensation, or ends the saga compensated (order cancelled).
void next_compensation(Saga& saga, Decision& d, SystemTime now, const SagaTimeouts& timeouts) {
  if (saga.compensations.empty()) {
    saga.state = SagaState::kCompensated;
    d.order_status = Status::kCancelled;
    d.order_reason = saga.failure;
    return;
  }
  Step next = saga.compensations.front();
  saga.compensations.erase(saga.compensations.begin());
  send(saga, d, next, now, timeouts);
}

// Starts compensating: undo every done step (newest first), plus `also` (a step whose command went out
// and whose effect may still land), then cancel the order.
void compensate(Saga& saga, Decision& d, std::string failure, std::optional<Step> also, SystemTime now,
                const SagaTimeouts& timeouts) {
  saga.state = SagaState::kCompensating;
  saga.failure = std::move(failure);
  saga.compensations.clear();
  if (also) saga.compensations.push_back(compensation_of(*also));
  for (auto it = saga.done.rbegin(); it != saga.done.rend(); ++it)
    saga.compensations.push_back(compensation_of(*it));
  next_compensation(saga, d, now, timeouts);
}

// A forward step's success, whichever step the saga is at.
std::optional<Step> forward_success(const Answer& answer) {
  if (answer.type == "inventory.reserved") return Step::kReserve;
  if (answer.type == "payment.processed" && answer.status == "captured") return Step::kCharge;
  if (answer.type == "shipment.created") return Step::kShip;
  return std::nullopt;
}

std::optional<Step> next_forward(Step step) {
  switch (step) {
    case Step::kReserve:
      return Step::kCharge;
    case Step::kCharge:
      return Step::kShip;
    case Step::kShip:
      return Step::kCommit;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string_view to_string(Coordination mode) noexcept { return kModes.name(mode, "orchestration"); }
std::optional<Coordination> parse_coordination(std::string_view text) noexcept { return kModes.parse(text); }

std::string_view to_string(SagaState state) noexcept { return kStates.name(state, "running"); }
std::optional<SagaState> parse_saga_state(std::string_view text) noexcept { return kStates.parse(text); }

std::string_view to_string(Step step) noexcept { return kSteps.name(step, "reserve"); }
std::optional<Step> parse_step(std::string_view text) noexcept { return kSteps.parse(text); }

std::string_view to_string(StepStatus status) noexcept { return kStepStatuses.name(status, "started"); }
std::optional<StepStatus> parse_step_status(std::string_view text) noexcept {
  return kStepStatuses.parse(text);
}

bool is_compensation(Step step) noexcept {
  return step == Step::kRelease || step == Step::kRefund || step == Step::kCancelShipment;
}

std::optional<SystemTime> Saga::next_deadline() const {
  if (finished()) return std::nullopt;
  if (state == SagaState::kRunning && current != Step::kCommit)
    return std::min(step_deadline, order_deadline);
  return step_deadline;
}

namespace {

Decision orchestrated_answer(Saga& saga, const Answer& answer, SystemTime now, const SagaTimeouts& timeouts,
                             const Conditions& conditions) {
  Decision d;
  if (saga.state == SagaState::kCompleted) return d;
  if (saga.state != SagaState::kRunning) {
    // An effect that lands after the saga gave up on it (a redelivered command succeeding after a
    // restock, a charge the payment service made late) is undone at once; undoing twice is harmless.
    bool awaited = saga.state == SagaState::kCompensating && answer.type == expected(saga.current).success;
    if (auto late = forward_success(answer); late && !awaited) {
      d.changed = true;
      record(saga, *late, StepStatus::kLate, now,
             "undone by " + std::string(to_string(compensation_of(*late))));
      d.commands.push_back(compensation_of(*late));
      return d;
    }
    if (saga.state == SagaState::kCompensated) return d;
  }
  auto want = expected(saga.current);
  bool success = answer.type == want.success;
  bool failure = !want.failure.empty() && answer.type == want.failure;
  if (saga.current == Step::kCharge && answer.type == "payment.processed") {
    success = answer.status == "captured";
    failure = !success;
  }
  if (!success && !failure) return d;  // a duplicate, a late answer, or another step's
  d.changed = true;
  Step step = saga.current;
  if (is_compensation(step)) {
    record(saga, step, StepStatus::kSucceeded, now, answer.reason);
    next_compensation(saga, d, now, timeouts);
    return d;
  }
  if (failure) {
    std::string why = std::string(to_string(step)) + " failed";
    if (!answer.reason.empty()) why += ": " + answer.reason;
    record(saga, step, StepStatus::kFailed, now, answer.reason);
    compensate(saga, d, why, std::nullopt, now, timeouts);
    return d;
  }
  record(saga, step, StepStatus::kSucceeded, now);
  saga.done.push_back(step);
  if (auto next = next_forward(step)) {
    send(saga, d, *next, now, timeouts);
    if (*next == Step::kCharge && conditions.payment_circuit_open) defer_charge(saga, d, now);
    return d;
  }
  saga.state = SagaState::kCompleted;
  d.order_status = Status::kConfirmed;
  return d;
}

Result<Decision> orchestrated_cancel(Saga& saga, const std::string& reason, SystemTime now,
                                     const SagaTimeouts& timeouts) {
  Decision d;
  if (saga.state == SagaState::kCompleted ||
      (saga.state == SagaState::kRunning && saga.current == Step::kCommit)) {
    return Error::conflict("order " + saga.order_id + " is being confirmed and can no longer be cancelled");
  }
  if (saga.state != SagaState::kRunning) return d;  // already compensating or compensated
  d.changed = true;
  record(saga, saga.current, StepStatus::kCancelled, now, reason);
  compensate(saga, d, "cancelled: " + reason, saga.current, now, timeouts);
  // The customer sees the cancellation at once; the compensations finish in the background.
  d.order_status = Status::kCancelled;
  d.order_reason = reason;
  return d;
}

// --- Choreography ---------------------------------------------------------------------------------
//
// The participants act on each other's events; the saga here only watches them. Events from different
// participants travel on different topics, so they may arrive in any order: a forward step's success
// counts whenever it comes, and the step awaited is the first one not yet done. A failure cancels the
// order at once — order.cancelled is every participant's signal to undo its part — and the saga then
// awaits all three undo answers (each participant answers, whether or not it had done anything). An
// effect that lands after the cancellation announces order.cancelled again so its owner undoes it.

constexpr std::array kForwardSteps{Step::kReserve, Step::kCharge, Step::kShip};
constexpr std::array kAllCompensations{Step::kCancelShipment, Step::kRefund, Step::kRelease};

bool contains(const std::vector<Step>& steps, Step step) {
  return std::find(steps.begin(), steps.end(), step) != steps.end();
}

// Awaits the first forward step not yet done (a new step gets its own deadline); true when that step
// starts now.
bool await_next(Saga& saga, SystemTime now, const SagaTimeouts& timeouts) {
  for (auto step : kForwardSteps) {
    if (contains(saga.done, step)) continue;
    if (saga.current == step) return false;
    saga.current = step;
    saga.step_deadline = now + timeouts.step;
    record(saga, step, StepStatus::kStarted, now);
    return true;
  }
  return false;
}

// Cancels the order: every participant undoes its part on order.cancelled, all at once.
void choreographed_compensate(Saga& saga, Decision& d, std::string failure, SystemTime now,
                              const SagaTimeouts& timeouts) {
  saga.state = SagaState::kCompensating;
  saga.failure = std::move(failure);
  saga.compensations.assign(kAllCompensations.begin(), kAllCompensations.end());
  for (auto c : saga.compensations) record(saga, c, StepStatus::kStarted, now);
  saga.current = saga.compensations.front();
  saga.step_deadline = now + timeouts.step;
  d.order_status = Status::kCancelled;
  d.order_reason = saga.failure;
}

// The forward step a failure answer fails, when it is one.
std::optional<Step> forward_failure(const Answer& answer) {
  if (answer.type == "inventory.rejected") return Step::kReserve;
  if (answer.type == "payment.processed" && answer.status != "captured") return Step::kCharge;
  if (answer.type == "shipment.failed") return Step::kShip;
  return std::nullopt;
}

// The compensation an undo answer completes.
std::optional<Step> compensation_answered(const Answer& answer) {
  if (answer.type == "inventory.released") return Step::kRelease;
  if (answer.type == "payment.refunded") return Step::kRefund;
  if (answer.type == "shipment.cancelled") return Step::kCancelShipment;
  return std::nullopt;
}

Decision choreographed_answer(Saga& saga, const Answer& answer, SystemTime now, const SagaTimeouts& timeouts,
                              const Conditions& conditions) {
  Decision d;
  if (saga.state == SagaState::kCompleted) return d;
  auto success = forward_success(answer);
  if (saga.state == SagaState::kRunning) {
    if (success && !contains(saga.done, *success)) {
      d.changed = true;
      record(saga, *success, StepStatus::kSucceeded, now);
      saga.done.push_back(*success);
      if (saga.done.size() == kForwardSteps.size()) {
        // Reserved, charged and shipped: the order is confirmed, and inventory commits on order.confirmed.
        saga.current = Step::kCommit;
        saga.step_deadline = now + timeouts.step;
        record(saga, Step::kCommit, StepStatus::kStarted, now);
        d.order_status = Status::kConfirmed;
      } else if (await_next(saga, now, timeouts) && saga.current == Step::kCharge &&
                 conditions.payment_circuit_open) {
        defer_charge(saga, d, now);
      }
      return d;
    }
    if (saga.current == Step::kCommit) {
      if (answer.type != "inventory.committed") return d;
      d.changed = true;
      record(saga, Step::kCommit, StepStatus::kSucceeded, now);
      saga.state = SagaState::kCompleted;
      return d;
    }
    auto failed = forward_failure(answer);
    if (!failed || contains(saga.done, *failed)) return d;  // a duplicate, or about another step
    d.changed = true;
    std::string why = std::string(to_string(*failed)) + " failed";
    if (!answer.reason.empty()) why += ": " + answer.reason;
    record(saga, *failed, StepStatus::kFailed, now, answer.reason);
    choreographed_compensate(saga, d, why, now, timeouts);
    return d;
  }
  // Compensating or compensated.
  if (success) {
    auto undo = compensation_of(*success);
    d.changed = true;
    d.announce = true;
    record(saga, *success, StepStatus::kLate, now, "undone on order.cancelled, announced again");
    if (!contains(saga.compensations, undo)) {
      saga.compensations.push_back(undo);
      record(saga, undo, StepStatus::kStarted, now);
    }
    saga.state = SagaState::kCompensating;
    saga.current = saga.compensations.front();
    saga.step_deadline = now + timeouts.step;
    return d;
  }
  auto undone = compensation_answered(answer);
  if (!undone || !contains(saga.compensations, *undone)) return d;
  d.changed = true;
  record(saga, *undone, StepStatus::kSucceeded, now, answer.reason);
  std::erase(saga.compensations, *undone);
  if (saga.compensations.empty()) {
    saga.state = SagaState::kCompensated;
  } else {
    saga.current = saga.compensations.front();
  }
  return d;
}

Result<Decision> choreographed_cancel(Saga& saga, const std::string& reason, SystemTime now,
                                      const SagaTimeouts& timeouts) {
  Decision d;
  if (saga.state == SagaState::kCompleted ||
      (saga.state == SagaState::kRunning && saga.current == Step::kCommit)) {
    return Error::conflict("order " + saga.order_id + " is confirmed and can no longer be cancelled");
  }
  if (saga.state != SagaState::kRunning) return d;
  d.changed = true;
  record(saga, saga.current, StepStatus::kCancelled, now, reason);
  choreographed_compensate(saga, d, "cancelled: " + reason, now, timeouts);
  d.order_reason = reason;
  return d;
}

}  // namespace

Decision start(Saga& saga, const std::string& order_id, SystemTime now, const SagaTimeouts& timeouts,
               Coordination mode) {
  saga = Saga{};
  saga.order_id = order_id;
  saga.mode = mode;
  saga.order_deadline = now + timeouts.order;
  Decision d;
  d.changed = true;
  if (mode == Coordination::kOrchestration) {
    send(saga, d, Step::kReserve, now, timeouts);
  } else {
    // No command: inventory reserves on order.created, which goes out with the order.
    saga.current = Step::kReserve;
    saga.step_deadline = now + timeouts.step;
    record(saga, Step::kReserve, StepStatus::kStarted, now);
  }
  return d;
}

namespace {

std::string_view trim_spaces(std::string_view text) {
  auto first = text.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// The shipping service trims surrounding spaces from each line before it stores a shipment.
bool same_address(const Address& shipped, const Address& ordered) {
  auto same = [](std::string_view a, std::string_view b) { return trim_spaces(a) == trim_spaces(b); };
  return same(shipped.name, ordered.name) && same(shipped.line1, ordered.line1) &&
         same(shipped.line2, ordered.line2) && same(shipped.city, ordered.city) &&
         same(shipped.postal_code, ordered.postal_code) && shipped.country == ordered.country;
}

}  // namespace

Answer held_against(Answer answer, const Order& order) {
  bool other_customer = !answer.customer_id.empty() && answer.customer_id != order.customer_id;
  if (answer.type == "payment.processed" && answer.status == "captured") {
    bool other_amount = answer.amount_cents && *answer.amount_cents != order.total_cents;
    if (other_amount || other_customer) {
      answer.status = "declined";
      answer.reason = std::string(kPaymentMismatch);
    }
  } else if (answer.type == "shipment.created" &&
             (other_customer || (answer.address && !same_address(*answer.address, order.shipping_address)))) {
    answer.type = "shipment.failed";
    answer.reason = std::string(kShipmentMismatch);
  }
  return answer;
}

Decision on_answer(Saga& saga, const Answer& answer, SystemTime now, const SagaTimeouts& timeouts,
                   const Conditions& conditions) {
  return saga.mode == Coordination::kOrchestration
             ? orchestrated_answer(saga, answer, now, timeouts, conditions)
             : choreographed_answer(saga, answer, now, timeouts, conditions);
}

Decision on_timeout(Saga& saga, SystemTime now, const SagaTimeouts& timeouts) {
  Decision d;
  auto deadline = saga.next_deadline();
  if (!deadline || now < *deadline) return d;
  d.changed = true;
  Step step = saga.current;
  bool forward = saga.state == SagaState::kRunning && step != Step::kCommit;
  // Orchestration undoes the done steps one by one, the one in flight included (its command went out
  // and its effect may still land); choreography cancels the order and every participant undoes at once.
  auto give_up = [&](std::string failure) {
    if (saga.mode == Coordination::kOrchestration) {
      compensate(saga, d, std::move(failure), step, now, timeouts);
    } else {
      choreographed_compensate(saga, d, std::move(failure), now, timeouts);
    }
  };
  if (forward && now >= saga.order_deadline) {
    record(saga, step, StepStatus::kTimedOut, now, "the order's deadline passed");
    give_up("not completed before the order's deadline");
    return d;
  }
  if (forward && step == Step::kCharge) {
    // The payment service has not answered: what it acts on (the charge command, or inventory.reserved
    // in choreography) stays queued in the broker and the order waits in pending_payment, until the
    // order's deadline at the latest (the article's fallback).
    record(saga, step, StepStatus::kTimedOut, now, "waiting for the payment service");
    saga.step_deadline = saga.order_deadline;
    d.order_status = Status::kPendingPayment;
    return d;
  }
  if (forward) {
    record(saga, step, StepStatus::kTimedOut, now);
    give_up(std::string(to_string(step)) + " timed out");
    return d;
  }
  // The pivot and the compensations are sent (orchestration) or announced (choreography: order.confirmed
  // or order.cancelled) again until they are answered.
  saga.step_deadline = now + timeouts.step;
  if (saga.mode == Coordination::kOrchestration) {
    record(saga, step, StepStatus::kResent, now);
    d.commands.push_back(step);
  } else {
    if (saga.state == SagaState::kRunning) {
      record(saga, step, StepStatus::kResent, now);
    } else {
      for (auto c : saga.compensations) record(saga, c, StepStatus::kResent, now);
    }
    d.announce = true;
  }
  return d;
}

Result<Decision> on_cancel(Saga& saga, const std::string& reason, SystemTime now,
                           const SagaTimeouts& timeouts) {
  return saga.mode == Coordination::kOrchestration ? orchestrated_cancel(saga, reason, now, timeouts)
                                                   : choreographed_cancel(saga, reason, now, timeouts);
}

}  // namespace mercato::order
