#include "domain/saga.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <utility>

namespace mercato::order {
namespace {

using namespace std::chrono_literals;

const SagaTimeouts kTimeouts{.step = 10s, .order = 60s};
SystemTime at(int seconds) { return SystemTime{} + std::chrono::seconds(1'000'000 + seconds); }

std::vector<Step> steps(const Decision& d) { return d.commands; }

// A saga driven to just after `answers`, each answered one second apart.
Saga run(std::initializer_list<Answer> answers) {
  Saga s;
  start(s, "o-1", at(0), kTimeouts);
  int t = 1;
  for (const auto& a : answers) on_answer(s, a, at(t++), kTimeouts);
  return s;
}

const Answer kReserved{"inventory.reserved", "", ""};
const Answer kCaptured{"payment.processed", "captured", ""};
const Answer kShipped{"shipment.created", "", ""};

// The names are stored in every saga's JSON and shown by the API and the metrics: they must not drift.
TEST(StepStatus, EachHasItsWireNameAndReadsBack) {
  using Name = std::pair<StepStatus, std::string_view>;
  const auto names = std::to_array<Name>({
      {StepStatus::kStarted, "started"},
      {StepStatus::kSucceeded, "succeeded"},
      {StepStatus::kFailed, "failed"},
      {StepStatus::kTimedOut, "timed_out"},
      {StepStatus::kDeferred, "deferred"},
      {StepStatus::kResent, "resent"},
      {StepStatus::kCancelled, "cancelled"},
      {StepStatus::kLate, "late"},
  });
  for (auto [status, name] : names) {
    EXPECT_EQ(to_string(status), name);
    EXPECT_EQ(parse_step_status(name), status) << name;
  }
  EXPECT_EQ(parse_step_status("Started"), std::nullopt);
  EXPECT_EQ(parse_step_status(""), std::nullopt);
}

TEST(Saga, TheHappyPathReservesChargesShipsCommitsAndConfirms) {
  Saga s;
  auto d = start(s, "o-1", at(0), kTimeouts);
  EXPECT_EQ(steps(d), std::vector{Step::kReserve});
  EXPECT_EQ(s.step_deadline, at(10));
  EXPECT_EQ(steps(on_answer(s, kReserved, at(1), kTimeouts)), std::vector{Step::kCharge});
  EXPECT_EQ(steps(on_answer(s, kCaptured, at(2), kTimeouts)), std::vector{Step::kShip});
  EXPECT_EQ(steps(on_answer(s, kShipped, at(3), kTimeouts)), std::vector{Step::kCommit});
  d = on_answer(s, {"inventory.committed", "", ""}, at(4), kTimeouts);
  EXPECT_TRUE(d.commands.empty());
  EXPECT_EQ(d.order_status, Status::kConfirmed);
  EXPECT_EQ(s.state, SagaState::kCompleted);
  EXPECT_FALSE(s.next_deadline());
  ASSERT_EQ(s.timeline.size(), 8u);  // four steps, each started and succeeded
  EXPECT_EQ(s.timeline.back().step, Step::kCommit);
  EXPECT_EQ(s.timeline.back().status, StepStatus::kSucceeded);
  EXPECT_EQ(s.timeline.back().at, at(4));
}

TEST(Saga, OutOfStockCancelsWithNothingToUndo) {
  auto s = run({});
  auto d = on_answer(s, {"inventory.rejected", "", "out of stock: mug"}, at(1), kTimeouts);
  EXPECT_TRUE(d.commands.empty());
  EXPECT_EQ(d.order_status, Status::kCancelled);
  EXPECT_EQ(d.order_reason, "reserve failed: out of stock: mug");
  EXPECT_EQ(s.state, SagaState::kCompensated);
}

TEST(Saga, ADeclinedPaymentReleasesTheStockThenCancels) {
  auto s = run({kReserved});
  auto d = on_answer(s, {"payment.processed", "declined", "card_declined"}, at(5), kTimeouts);
  EXPECT_EQ(steps(d), std::vector{Step::kRelease});
  EXPECT_FALSE(d.order_status) << "the order is cancelled once the compensation is done";
  EXPECT_EQ(s.state, SagaState::kCompensating);
  d = on_answer(s, {"inventory.released", "", ""}, at(6), kTimeouts);
  EXPECT_EQ(d.order_status, Status::kCancelled);
  EXPECT_EQ(d.order_reason, "charge failed: card_declined");
  EXPECT_EQ(s.state, SagaState::kCompensated);
}

TEST(Saga, AFailedShipmentRefundsThenReleasesInReverseOrder) {
  auto s = run({kReserved, kCaptured});
  EXPECT_EQ(steps(on_answer(s, {"shipment.failed", "", "country not served"}, at(5), kTimeouts)),
            std::vector{Step::kRefund});
  EXPECT_EQ(steps(on_answer(s, {"payment.refunded", "", ""}, at(6), kTimeouts)), std::vector{Step::kRelease});
  auto d = on_answer(s, {"inventory.released", "", ""}, at(7), kTimeouts);
  EXPECT_EQ(d.order_status, Status::kCancelled);
  EXPECT_EQ(s.state, SagaState::kCompensated);
}

// Issue 15, item 1: a capture of another amount or customer than the order's is not the order's charge,
// and a shipment of another customer not its shipment: each reads as that step's refusal.
TEST(Saga, AnEffectOfAnotherAmountOrCustomerIsHeldAsARefusal) {
  Order order;
  order.customer_id = "cust-1";
  order.total_cents = 2500;
  auto captured = [](std::optional<std::int64_t> amount, std::string customer) {
    Answer a{"payment.processed", "captured", ""};
    a.amount_cents = amount;
    a.customer_id = std::move(customer);
    return a;
  };
  for (const auto& foreign : {captured(1, "cust-1"), captured(2500, "cust-2"), captured(1, "")}) {
    auto held = held_against(foreign, order);
    EXPECT_EQ(held.type, "payment.processed");
    EXPECT_EQ(held.status, "declined");
    EXPECT_EQ(held.reason, kPaymentMismatch);
  }
  for (const auto& own : {captured(2500, "cust-1"), captured(std::nullopt, "")}) {
    EXPECT_EQ(held_against(own, order).status, "captured");
  }
  Answer shipped{"shipment.created", "", ""};
  shipped.customer_id = "cust-2";
  auto held = held_against(shipped, order);
  EXPECT_EQ(held.type, "shipment.failed");
  EXPECT_EQ(held.reason, kShipmentMismatch);
  shipped.customer_id = "cust-1";
  EXPECT_EQ(held_against(shipped, order).type, "shipment.created");
  order.shipping_address = {"Ann Lee", "1 Main St", "", "Berlin", "10115", "DE"};
  shipped.address = Address{"Ann Lee", "1 Main St", "", "Berlin ", "10115", "DE"};  // stored trimmed
  EXPECT_EQ(held_against(shipped, order).type, "shipment.created");
  shipped.address = Address{"Mallory", "9 Side St", "", "Hamburg", "20095", "DE"};
  held = held_against(shipped, order);
  EXPECT_EQ(held.type, "shipment.failed");
  EXPECT_EQ(held.reason, kShipmentMismatch);

  // Driven through the saga, the mismatched capture cancels the order and refunds nothing.
  Saga s = run({kReserved});
  auto d = on_answer(s, held_against(captured(1, "cust-1"), order), at(5), kTimeouts);
  EXPECT_EQ(steps(d), std::vector{Step::kRelease});
  EXPECT_EQ(s.failure, "charge failed: payment_mismatch");
}

TEST(Saga, DuplicateLateAndForeignAnswersChangeNothing) {
  auto s = run({kReserved});
  auto before = s;
  EXPECT_FALSE(on_answer(s, kReserved, at(5), kTimeouts).changed) << "a duplicate";
  EXPECT_FALSE(on_answer(s, kShipped, at(5), kTimeouts).changed) << "another step's answer";
  EXPECT_FALSE(on_answer(s, {"inventory.released", "", ""}, at(5), kTimeouts).changed);
  EXPECT_EQ(s, before);
  auto done = run({kReserved, kCaptured, kShipped, {"inventory.committed", "", ""}});
  auto finished = done;
  EXPECT_FALSE(on_answer(done, {"payment.processed", "declined", ""}, at(9), kTimeouts).changed);
  EXPECT_FALSE(on_answer(done, kReserved, at(9), kTimeouts).changed);
  EXPECT_EQ(done, finished);
}

TEST(Saga, AReservationThatTimesOutIsReleasedInCaseItLandsLate) {
  auto s = run({});
  EXPECT_FALSE(on_timeout(s, at(9), kTimeouts).changed) << "before the deadline";
  auto d = on_timeout(s, at(10), kTimeouts);
  EXPECT_EQ(steps(d), std::vector{Step::kRelease});
  EXPECT_EQ(s.failure, "reserve timed out");
  d = on_answer(s, kReserved, at(11), kTimeouts);
  EXPECT_EQ(steps(d), std::vector{Step::kRelease}) << "a late reservation is released (again: harmless)";
  EXPECT_EQ(s.timeline.back().status, StepStatus::kLate);
}

TEST(Saga, AnEffectThatLandsAfterTheSagaGaveUpIsUndone) {
  auto s = run({});
  on_answer(s, {"inventory.rejected", "", "out of stock"}, at(1), kTimeouts);
  ASSERT_EQ(s.state, SagaState::kCompensated);
  // The rejected command redelivered after a restock reserved the stock after all.
  EXPECT_EQ(steps(on_answer(s, kReserved, at(5), kTimeouts)), std::vector{Step::kRelease});
  EXPECT_EQ(steps(on_answer(s, kCaptured, at(6), kTimeouts)), std::vector{Step::kRefund});
  EXPECT_FALSE(on_answer(s, {"payment.processed", "declined", ""}, at(7), kTimeouts).changed);
  auto done = run({kReserved, kCaptured, kShipped, {"inventory.committed", "", ""}});
  EXPECT_FALSE(on_answer(done, kCaptured, at(9), kTimeouts).changed) << "a confirmed order is never undone";
}

TEST(Saga, AnUnansweredChargeWaitsInPendingPaymentUntilTheOrderDeadline) {
  auto s = run({kReserved});  // charge sent at 1 s, step deadline 11 s
  auto d = on_timeout(s, at(11), kTimeouts);
  EXPECT_EQ(d.order_status, Status::kPendingPayment);
  EXPECT_TRUE(d.commands.empty()) << "the charge stays queued; nothing is resent";
  EXPECT_EQ(s.state, SagaState::kRunning);
  EXPECT_FALSE(on_timeout(s, at(30), kTimeouts).changed);
  // The payment service comes back: the saga goes on.
  EXPECT_EQ(steps(on_answer(s, kCaptured, at(31), kTimeouts)), std::vector{Step::kShip});

  auto late = run({kReserved});
  on_timeout(late, at(11), kTimeouts);
  d = on_timeout(late, at(60), kTimeouts);  // the order's deadline
  EXPECT_EQ(steps(d), std::vector{Step::kRefund}) << "a charge that lands late is refunded";
  EXPECT_EQ(late.compensations, std::vector{Step::kRelease});
  EXPECT_EQ(late.failure, "not completed before the order's deadline");
}

TEST(Saga, ThePivotAndCompensationsAreResentNeverDropped) {
  auto s = run({kReserved, kCaptured, kShipped});  // commit sent at 3 s
  auto d = on_timeout(s, at(13), kTimeouts);
  EXPECT_EQ(steps(d), std::vector{Step::kCommit});
  EXPECT_EQ(s.timeline.back().status, StepStatus::kResent);
  EXPECT_FALSE(on_timeout(s, at(70), kTimeouts).commands.empty())
      << "the order deadline does not undo a commit";

  auto c = run({kReserved});
  on_answer(c, {"payment.processed", "declined", ""}, at(2), kTimeouts);  // release sent at 2 s
  for (int i = 0; i < 3; ++i) {
    d = on_timeout(c, at(12 + 10 * i), kTimeouts);
    EXPECT_EQ(steps(d), std::vector{Step::kRelease});
  }
  EXPECT_EQ(on_answer(c, {"inventory.released", "", ""}, at(50), kTimeouts).order_status, Status::kCancelled);
}

TEST(Saga, ACustomerCancelUndoesWhatIsDoneAndTheStepInFlight) {
  auto s = run({kReserved});  // charging
  auto d = on_cancel(s, "changed my mind", at(5), kTimeouts);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order_status, Status::kCancelled);
  EXPECT_EQ(steps(*d), std::vector{Step::kRefund});
  EXPECT_EQ(s.compensations, std::vector{Step::kRelease});
  EXPECT_FALSE(on_cancel(s, "again", at(6), kTimeouts)->changed);

  auto committing = run({kReserved, kCaptured, kShipped});
  auto refused = on_cancel(committing, "too late", at(5), kTimeouts);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
}

TEST(Saga, NamesRoundTrip) {
  for (auto step : {Step::kReserve, Step::kCharge, Step::kShip, Step::kCommit, Step::kRelease, Step::kRefund,
                    Step::kCancelShipment})
    EXPECT_EQ(parse_step(to_string(step)), step);
  for (auto state :
       {SagaState::kRunning, SagaState::kCompensating, SagaState::kCompleted, SagaState::kCompensated})
    EXPECT_EQ(parse_saga_state(to_string(state)), state);
  EXPECT_FALSE(parse_step("fly"));
}

// --- Choreography: the participants act on each other's events; the saga watches, confirms, cancels.

const Answer kCommitted{"inventory.committed", "", ""};
const Answer kReleased{"inventory.released", "", ""};
const Answer kRefunded{"payment.refunded", "", ""};
const Answer kShipmentCancelled{"shipment.cancelled", "", ""};

Saga choreographed(std::initializer_list<Answer> answers) {
  Saga s;
  start(s, "o-1", at(0), kTimeouts, Coordination::kChoreography);
  int t = 1;
  for (const auto& a : answers) on_answer(s, a, at(t++), kTimeouts);
  return s;
}

std::vector<std::string> statuses_of(const Saga& s, Step step) {
  std::vector<std::string> out;
  for (const auto& r : s.timeline)
    if (r.step == step) out.emplace_back(to_string(r.status));
  return out;
}

TEST(Choreography, StartingSendsNothingAndAwaitsTheReservation) {
  Saga s;
  auto d = start(s, "o-1", at(0), kTimeouts, Coordination::kChoreography);
  EXPECT_TRUE(d.changed);
  EXPECT_TRUE(d.commands.empty()) << "inventory reserves on order.created by itself";
  EXPECT_EQ(s.mode, Coordination::kChoreography);
  EXPECT_EQ(s.current, Step::kReserve);
  EXPECT_EQ(s.step_deadline, at(10));
  EXPECT_EQ(statuses_of(s, Step::kReserve), std::vector<std::string>{"started"});
}

TEST(Choreography, TheHappyPathConfirmsOnTheShipmentAndCompletesOnTheCommit) {
  auto s = choreographed({kReserved, kCaptured});
  EXPECT_EQ(s.current, Step::kShip);
  auto d = on_answer(s, kShipped, at(3), kTimeouts);
  EXPECT_TRUE(d.commands.empty());
  EXPECT_EQ(d.order_status, Status::kConfirmed) << "confirmed at once; inventory commits on order.confirmed";
  EXPECT_EQ(s.current, Step::kCommit);
  EXPECT_EQ(s.state, SagaState::kRunning);
  d = on_answer(s, kCommitted, at(4), kTimeouts);
  EXPECT_TRUE(d.changed);
  EXPECT_FALSE(d.order_status);
  EXPECT_EQ(s.state, SagaState::kCompleted);
  EXPECT_FALSE(s.next_deadline());
  EXPECT_EQ(s.timeline.size(), 8u);
  EXPECT_FALSE(on_answer(s, kCaptured, at(5), kTimeouts).changed) << "a completed saga ignores everything";
}

// Participants publish on their own topics, so the order service may hear the charge before the
// reservation that caused it.
TEST(Choreography, SuccessesCountInWhateverOrderTheyArrive) {
  auto s = choreographed({kCaptured});
  EXPECT_EQ(s.current, Step::kReserve) << "still awaiting the reservation";
  EXPECT_EQ(statuses_of(s, Step::kCharge), std::vector<std::string>{"succeeded"});
  auto d = on_answer(s, kReserved, at(2), kTimeouts);
  EXPECT_EQ(s.current, Step::kShip) << "the charge is already done";
  EXPECT_FALSE(d.order_status);
  EXPECT_FALSE(on_answer(s, kCaptured, at(3), kTimeouts).changed) << "a repeat changes nothing";
  EXPECT_EQ(on_answer(s, kShipped, at(4), kTimeouts).order_status, Status::kConfirmed);
}

TEST(Choreography, AFailureCancelsTheOrderAtOnceAndAwaitsEveryParticipantsUndo) {
  auto s = choreographed({kReserved});
  auto d = on_answer(s, {"payment.processed", "declined", "card_declined"}, at(5), kTimeouts);
  EXPECT_TRUE(d.commands.empty());
  EXPECT_EQ(d.order_status, Status::kCancelled) << "order.cancelled is what the participants undo on";
  EXPECT_EQ(d.order_reason, "charge failed: card_declined");
  EXPECT_EQ(s.state, SagaState::kCompensating);
  EXPECT_EQ(s.compensations.size(), 3u);
  EXPECT_EQ(s.step_deadline, at(15));
  EXPECT_TRUE(on_answer(s, kRefunded, at(6), kTimeouts).changed);
  EXPECT_TRUE(on_answer(s, kShipmentCancelled, at(7), kTimeouts).changed);
  EXPECT_FALSE(on_answer(s, kRefunded, at(7), kTimeouts).changed) << "already answered";
  EXPECT_EQ(s.state, SagaState::kCompensating);
  d = on_answer(s, kReleased, at(8), kTimeouts);
  EXPECT_FALSE(d.order_status) << "the order was cancelled already";
  EXPECT_EQ(s.state, SagaState::kCompensated);
  EXPECT_FALSE(s.next_deadline());
  EXPECT_EQ(statuses_of(s, Step::kRelease), (std::vector<std::string>{"started", "succeeded"}));
}

TEST(Choreography, OutOfStockAndAnUnservableAddressCancelWithTheirReasons) {
  auto s = choreographed({});
  auto d = on_answer(s, {"inventory.rejected", "", "out of stock"}, at(1), kTimeouts);
  EXPECT_EQ(d.order_reason, "reserve failed: out of stock");
  s = choreographed({kReserved, kCaptured});
  d = on_answer(s, {"shipment.failed", "", "country not served"}, at(3), kTimeouts);
  EXPECT_EQ(d.order_status, Status::kCancelled);
  EXPECT_EQ(d.order_reason, "ship failed: country not served");
}

TEST(Choreography, AFailureOfAStepAlreadyDoneIsIgnored) {
  auto s = choreographed({kReserved});
  EXPECT_FALSE(on_answer(s, {"inventory.rejected", "", "no reservation"}, at(2), kTimeouts).changed);
  EXPECT_EQ(s.state, SagaState::kRunning);
}

// An effect that lands after the cancellation (a charge made while order.cancelled was on its way)
// announces order.cancelled again and awaits its undo, even after the saga was compensated.
TEST(Choreography, ALateEffectAnnouncesTheCancellationAgain) {
  auto s = choreographed(
      {kReserved, {"shipment.failed", "", "country not served"}, kReleased, kRefunded, kShipmentCancelled});
  ASSERT_EQ(s.state, SagaState::kCompensated);
  auto d = on_answer(s, kShipped, at(10), kTimeouts);
  EXPECT_TRUE(d.announce);
  EXPECT_FALSE(d.order_status);
  EXPECT_EQ(s.state, SagaState::kCompensating);
  EXPECT_EQ(s.compensations, std::vector{Step::kCancelShipment});
  EXPECT_EQ(statuses_of(s, Step::kShip), (std::vector<std::string>{"failed", "late"}));
  EXPECT_TRUE(on_answer(s, kShipmentCancelled, at(11), kTimeouts).changed);
  EXPECT_EQ(s.state, SagaState::kCompensated);
}

TEST(Choreography, AChargeThatTimesOutWaitsInPendingPaymentUntilTheOrderDeadline) {
  auto s = choreographed({kReserved});
  EXPECT_FALSE(on_timeout(s, at(10), kTimeouts).changed) << "the charge step started at 1s: due at 11s";
  auto d = on_timeout(s, at(11), kTimeouts);
  EXPECT_EQ(d.order_status, Status::kPendingPayment);
  EXPECT_EQ(s.step_deadline, s.order_deadline);
  d = on_timeout(s, at(60), kTimeouts);
  EXPECT_EQ(d.order_status, Status::kCancelled);
  EXPECT_EQ(d.order_reason, "not completed before the order's deadline");
  EXPECT_EQ(s.state, SagaState::kCompensating);
}

TEST(Choreography, AReservationOrShipmentThatTimesOutCancels) {
  auto s = choreographed({});
  auto d = on_timeout(s, at(10), kTimeouts);
  EXPECT_EQ(d.order_status, Status::kCancelled);
  EXPECT_EQ(d.order_reason, "reserve timed out");
  EXPECT_EQ(statuses_of(s, Step::kReserve), (std::vector<std::string>{"started", "timed_out"}));
}

// Neither the pivot nor the cancellation is ever given up: each is announced again on its timeout.
TEST(Choreography, AnUnansweredConfirmationOrCancellationIsAnnouncedAgain) {
  auto s = choreographed({kReserved, kCaptured, kShipped});
  auto d = on_timeout(s, at(13), kTimeouts);
  EXPECT_TRUE(d.announce);
  EXPECT_FALSE(d.order_status);
  EXPECT_EQ(statuses_of(s, Step::kCommit), (std::vector<std::string>{"started", "resent"}));
  EXPECT_EQ(s.step_deadline, at(23));

  s = choreographed({{"inventory.rejected", "", "out of stock"}, kReleased});
  d = on_timeout(s, at(11), kTimeouts);
  EXPECT_TRUE(d.announce);
  EXPECT_EQ(statuses_of(s, Step::kRefund), (std::vector<std::string>{"started", "resent"}));
  EXPECT_EQ(statuses_of(s, Step::kRelease), (std::vector<std::string>{"started", "succeeded"}));
}

TEST(Choreography, TheCustomerCancelsUntilTheOrderIsConfirmed) {
  auto s = choreographed({kReserved});
  auto d = on_cancel(s, "changed my mind", at(2), kTimeouts);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order_status, Status::kCancelled);
  EXPECT_EQ(d->order_reason, "changed my mind");
  EXPECT_EQ(s.failure, "cancelled: changed my mind");
  s = choreographed({kReserved, kCaptured, kShipped});
  auto refused = on_cancel(s, "too late", at(4), kTimeouts);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
}

TEST(Choreography, TheModeHasAWireName) {
  EXPECT_EQ(to_string(Coordination::kChoreography), "choreography");
  EXPECT_EQ(parse_coordination("orchestration"), Coordination::kOrchestration);
  EXPECT_FALSE(parse_coordination("chaos"));
}

// The payment circuit is open: the charge starts (its command goes out, queued) but the order goes to
// pending_payment at once instead of after a step timeout, in both styles.
TEST(PaymentCircuit, AnOpenCircuitDefersTheChargeAtOnce) {
  for (auto mode : {Coordination::kOrchestration, Coordination::kChoreography}) {
    Saga s;
    start(s, "o-1", at(0), kTimeouts, mode);
    auto d = on_answer(s, kReserved, at(1), kTimeouts, Conditions{.payment_circuit_open = true});
    EXPECT_EQ(d.order_status, Status::kPendingPayment) << to_string(mode);
    if (mode == Coordination::kOrchestration) {
      EXPECT_EQ(steps(d), std::vector{Step::kCharge});
    }
    EXPECT_EQ(s.current, Step::kCharge);
    EXPECT_EQ(s.step_deadline, s.order_deadline) << "waits until the order's deadline at most";
    EXPECT_EQ(s.timeline.back().status, StepStatus::kDeferred);
    // When the payment service is back and charges, the saga goes on.
    d = on_answer(s, kCaptured, at(5), kTimeouts);
    EXPECT_EQ(s.current, Step::kShip) << to_string(mode);
  }
}

TEST(PaymentCircuit, AClosedCircuitChangesNothing) {
  Saga s;
  start(s, "o-1", at(0), kTimeouts);
  auto d = on_answer(s, kReserved, at(1), kTimeouts, Conditions{.payment_circuit_open = false});
  EXPECT_FALSE(d.order_status);
  EXPECT_EQ(s.step_deadline, at(11));
}

}  // namespace
}  // namespace mercato::order
