#include "domain/saga.hpp"

#include <algorithm>
#include <array>

namespace mercato::order {
namespace {

constexpr std::array kStates{
    std::pair{SagaState::kRunning, "running"}, std::pair{SagaState::kCompensating, "compensating"},
    std::pair{SagaState::kCompleted, "completed"}, std::pair{SagaState::kCompensated, "compensated"}};
constexpr std::array kSteps{std::pair{Step::kReserve, "reserve"},
                            std::pair{Step::kCharge, "charge"},
                            std::pair{Step::kShip, "ship"},
                            std::pair{Step::kCommit, "commit"},
                            std::pair{Step::kRelease, "release"},
                            std::pair{Step::kRefund, "refund"},
                            std::pair{Step::kCancelShipment, "cancel_shipment"}};

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

void record(Saga& saga, Step step, std::string status, SystemTime now, std::string detail = {}) {
  saga.timeline.push_back({step, std::move(status), now, std::move(detail)});
}

// Sends `step` now and waits for its answer.
void send(Saga& saga, Decision& d, Step step, SystemTime now, const SagaTimeouts& timeouts) {
  saga.current = step;
  saga.step_deadline = now + timeouts.step;
  record(saga, step, "started", now);
  d.commands.push_back(step);
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

std::string_view to_string(SagaState state) noexcept {
  for (auto [s, name] : kStates)
    if (s == state) return name;
  return "running";
}

std::optional<SagaState> parse_saga_state(std::string_view text) noexcept {
  for (auto [s, name] : kStates)
    if (text == name) return s;
  return std::nullopt;
}

std::string_view to_string(Step step) noexcept {
  for (auto [s, name] : kSteps)
    if (s == step) return name;
  return "reserve";
}

std::optional<Step> parse_step(std::string_view text) noexcept {
  for (auto [s, name] : kSteps)
    if (text == name) return s;
  return std::nullopt;
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

Decision start(Saga& saga, const std::string& order_id, SystemTime now, const SagaTimeouts& timeouts) {
  saga = Saga{};
  saga.order_id = order_id;
  saga.order_deadline = now + timeouts.order;
  Decision d;
  d.changed = true;
  send(saga, d, Step::kReserve, now, timeouts);
  return d;
}

// A forward step's success, whichever step the saga is at.
std::optional<Step> forward_success(const Answer& answer) {
  if (answer.type == "inventory.reserved") return Step::kReserve;
  if (answer.type == "payment.processed" && answer.status == "captured") return Step::kCharge;
  if (answer.type == "shipment.created") return Step::kShip;
  return std::nullopt;
}

Decision on_answer(Saga& saga, const Answer& answer, SystemTime now, const SagaTimeouts& timeouts) {
  Decision d;
  if (saga.state == SagaState::kCompleted) return d;
  if (saga.state != SagaState::kRunning) {
    // An effect that lands after the saga gave up on it (a redelivered command succeeding after a
    // restock, a charge the payment service made late) is undone at once; undoing twice is harmless.
    bool awaited = saga.state == SagaState::kCompensating && answer.type == expected(saga.current).success;
    if (auto late = forward_success(answer); late && !awaited) {
      d.changed = true;
      record(saga, *late, "late", now, "undone by " + std::string(to_string(compensation_of(*late))));
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
    record(saga, step, "succeeded", now, answer.reason);
    next_compensation(saga, d, now, timeouts);
    return d;
  }
  if (failure) {
    std::string why = std::string(to_string(step)) + " failed";
    if (!answer.reason.empty()) why += ": " + answer.reason;
    record(saga, step, "failed", now, answer.reason);
    compensate(saga, d, why, std::nullopt, now, timeouts);
    return d;
  }
  record(saga, step, "succeeded", now);
  saga.done.push_back(step);
  if (auto next = next_forward(step)) {
    send(saga, d, *next, now, timeouts);
    return d;
  }
  saga.state = SagaState::kCompleted;
  d.order_status = Status::kConfirmed;
  return d;
}

Decision on_timeout(Saga& saga, SystemTime now, const SagaTimeouts& timeouts) {
  Decision d;
  auto deadline = saga.next_deadline();
  if (!deadline || now < *deadline) return d;
  d.changed = true;
  Step step = saga.current;
  if (saga.state == SagaState::kRunning && step != Step::kCommit && now >= saga.order_deadline) {
    record(saga, step, "timed_out", now, "the order's deadline passed");
    compensate(saga, d, "not completed before the order's deadline", step, now, timeouts);
    return d;
  }
  if (saga.state == SagaState::kRunning && step == Step::kCharge) {
    // The payment service did not answer: the charge stays queued in the broker and the order waits,
    // until the order's deadline at the latest (the article's fallback).
    record(saga, step, "timed_out", now, "waiting for the payment service");
    saga.step_deadline = saga.order_deadline;
    d.order_status = Status::kPendingPayment;
    return d;
  }
  if (saga.state == SagaState::kRunning && step != Step::kCommit) {
    record(saga, step, "timed_out", now);
    compensate(saga, d, std::string(to_string(step)) + " timed out", step, now, timeouts);
    return d;
  }
  // The pivot and the compensations are sent again until they are answered.
  record(saga, step, "resent", now);
  saga.step_deadline = now + timeouts.step;
  d.commands.push_back(step);
  return d;
}

Result<Decision> on_cancel(Saga& saga, const std::string& reason, SystemTime now,
                           const SagaTimeouts& timeouts) {
  Decision d;
  if (saga.state == SagaState::kCompleted ||
      (saga.state == SagaState::kRunning && saga.current == Step::kCommit)) {
    return Error::conflict("order " + saga.order_id + " is being confirmed and can no longer be cancelled");
  }
  if (saga.state != SagaState::kRunning) return d;  // already compensating or compensated
  d.changed = true;
  record(saga, saga.current, "cancelled", now, reason);
  compensate(saga, d, "cancelled: " + reason, saga.current, now, timeouts);
  // The customer sees the cancellation at once; the compensations finish in the background.
  d.order_status = Status::kCancelled;
  d.order_reason = reason;
  return d;
}

}  // namespace mercato::order
