#include "domain/saga.hpp"

#include <gtest/gtest.h>

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
  EXPECT_EQ(s.timeline.back().status, "succeeded");
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
  EXPECT_EQ(s.timeline.back().status, "late");
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
  EXPECT_EQ(s.timeline.back().status, "resent");
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

}  // namespace
}  // namespace mercato::order
