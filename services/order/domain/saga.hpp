// The order saga as a pure state machine (orchestration): which command to send next, what an answer or
// a timeout means, which compensations remain, and what it does to the order. No I/O: the app layer
// persists a Saga with its order (one transaction, with the commands in the outbox) and turns the
// Decision's commands into events (docs/saga.md).
//
//   forward:  reserve → charge → ship → commit → completed (order confirmed)
//   a failed or timed-out step compensates what is done, newest first:
//             cancel_shipment → refund → release → compensated (order cancelled with the reason)
//
// A step that timed out is compensated too (its effect may still land late; every compensation is
// idempotent and succeeds when there is nothing to undo). A charge that times out is not a failure:
// the payment service may be down, so the order waits in pending_payment with the charge queued in the
// broker until the order's deadline. Committing the stock is the pivot: after it the saga only moves
// forward, and a timed-out commit is sent again. Compensations are sent again on their timeout, never
// dropped. Answers the saga does not expect (duplicates, answers to another step) change nothing —
// except an effect that lands after the saga gave up on it (a charge made late, a reservation made by
// a redelivered command after a restock): that is undone at once with its compensation.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/order.hpp"
#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::order {

// Who drives the saga. Orchestration: the order service sends each command and awaits its answer.
// Choreography: each participant reacts to the event before it (order.created → inventory reserves →
// inventory.reserved → payment charges → payment.processed → shipping creates → shipment.created →
// the order is confirmed → inventory commits); the order service only watches, confirms, and cancels
// on a failure or a deadline — order.cancelled is what every participant undoes its part on. A saga
// keeps the mode it started with, so switching saga.mode never strands the sagas in flight.
enum class Coordination { kOrchestration, kChoreography };
std::string_view to_string(Coordination mode) noexcept;
std::optional<Coordination> parse_coordination(std::string_view text) noexcept;

enum class SagaState { kRunning, kCompensating, kCompleted, kCompensated };
std::string_view to_string(SagaState state) noexcept;
std::optional<SagaState> parse_saga_state(std::string_view text) noexcept;

// Steps and compensations by their wire names.
enum class Step { kReserve, kCharge, kShip, kCommit, kRelease, kRefund, kCancelShipment };
std::string_view to_string(Step step) noexcept;
std::optional<Step> parse_step(std::string_view text) noexcept;
bool is_compensation(Step step) noexcept;

// What happened to a step, as its timeline entry says. Stored (in the saga's JSON) and shown (GET
// /orders/{id}/saga, the mercato_saga_steps_total label) by its wire name: "started", "succeeded",
// "failed", "timed_out", "deferred", "resent", "cancelled", "late".
enum class StepStatus { kStarted, kSucceeded, kFailed, kTimedOut, kDeferred, kResent, kCancelled, kLate };
std::string_view to_string(StepStatus status) noexcept;
std::optional<StepStatus> parse_step_status(std::string_view text) noexcept;

struct StepRecord {
  Step step = Step::kReserve;
  StepStatus status = StepStatus::kStarted;
  SystemTime at{};
  std::string detail;

  friend bool operator==(const StepRecord&, const StepRecord&) = default;
};

struct SagaTimeouts {
  std::chrono::milliseconds step{30000};        // an answer must come within this
  std::chrono::milliseconds order{15 * 60000};  // no order stays pending/pending_payment longer
};

struct Saga {
  std::string order_id;
  Coordination mode = Coordination::kOrchestration;
  SagaState state = SagaState::kRunning;
  Step current = Step::kReserve;    // the step or compensation awaiting its answer
  std::vector<Step> done;           // forward steps that succeeded, in order
  std::vector<Step> compensations;  // orchestration: still to run after `current`, in order;
                                    // choreography: still unanswered (they run at once)
  std::string failure;              // why it compensates
  SystemTime step_deadline{};
  SystemTime order_deadline{};
  std::vector<StepRecord> timeline;

  bool finished() const noexcept {
    return state == SagaState::kCompleted || state == SagaState::kCompensated;
  }
  // When the saga next needs attention without an answer (nullopt when finished).
  std::optional<SystemTime> next_deadline() const;

  friend bool operator==(const Saga&, const Saga&) = default;
};

// An answer from a participant, reduced to what the saga needs.
struct Answer {
  std::string type;    // e.g. "payment.processed"
  std::string status;  // payment.processed: "captured" | "declined"; otherwise empty
  std::string reason;  // a refusal's reason, when given
  // What the effect is, when the answer says: payment.processed's amount and customer, shipment.created's
  // customer. Checked against the order by held_against().
  std::optional<std::int64_t> amount_cents;
  std::string customer_id;
  std::optional<Address> address;  // shipment.created's
};

// The refusal reasons held_against() gives an effect that is not the order's.
inline constexpr std::string_view kPaymentMismatch = "payment_mismatch";
inline constexpr std::string_view kShipmentMismatch = "shipment_mismatch";

// An answer held against the order it is about: a capture stands for the order's charge only when it is
// of the order's total and customer, and a shipment only when it is to the order's customer and address
// (compared as shipping stores it: surrounding spaces aside). Anything else
// — a participant taking someone else's object of the order for the saga's (a capture of 1 cent made
// through the REST API, whose own payment.processed or shipment.created reaches the saga too) — is read
// as that step's refusal (declined, or shipment.failed) with the reason
// kPaymentMismatch / kShipmentMismatch, so the order is never confirmed on it and the saga never undoes
// it as its own. Participants answer with these fields; an answer without them is taken as it is.
Answer held_against(Answer answer, const Order& order);

struct Decision {
  bool changed = false;                // false: nothing to persist
  std::vector<Step> commands;          // commands to send now (at most one today)
  std::optional<Status> order_status;  // what the order becomes
  std::string order_reason;
  // Choreography: publish the order's order.cancelled or order.confirmed again (with a new id), so a
  // participant that has not acted on it, or whose effect landed after it had, acts now.
  bool announce = false;
};

// What the coordinator knows beyond the saga itself when it applies an answer.
struct Conditions {
  // The payment service's circuit is open (it has let charges time out): a charge about to start is
  // deferred at once — the order goes to pending_payment with the charge queued in the broker — instead
  // of after a step timeout (the article's breaker in front of the payment call).
  bool payment_circuit_open = false;
};

// A new saga for a placed order: sends the reservation (orchestration), or awaits it (choreography:
// inventory reserves on order.created). Every other function follows the saga's own mode.
Decision start(Saga& saga, const std::string& order_id, SystemTime now, const SagaTimeouts& timeouts,
               Coordination mode = Coordination::kOrchestration);
Decision on_answer(Saga& saga, const Answer& answer, SystemTime now, const SagaTimeouts& timeouts,
                   const Conditions& conditions = {});
// The step deadline or the order deadline passed.
Decision on_timeout(Saga& saga, SystemTime now, const SagaTimeouts& timeouts);
// The customer cancels a running saga: compensate what is done (kConflict once the stock is committed).
Result<Decision> on_cancel(Saga& saga, const std::string& reason, SystemTime now,
                           const SagaTimeouts& timeouts);

}  // namespace mercato::order
