#include "mercato/resilience/bulkhead.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mercato::resilience {
namespace {

using Admission = Bulkhead::Admission;

Bulkhead make(int max_concurrent, int max_pending) {
  BulkheadSettings s;
  s.max_concurrent = max_concurrent;
  s.max_pending = max_pending;
  return Bulkhead(s);
}

TEST(BulkheadSettings, Validates) {
  EXPECT_TRUE(BulkheadSettings{}.validate());
  BulkheadSettings smallest;
  smallest.max_concurrent = 1;
  smallest.max_pending = 0;
  EXPECT_TRUE(smallest.validate());

  BulkheadSettings no_slots;
  no_slots.max_concurrent = 0;
  auto result = no_slots.validate();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(result.error().field, "max_concurrent");

  BulkheadSettings negative_queue;
  negative_queue.max_pending = -1;
  result = negative_queue.validate();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().field, "max_pending");
}

TEST(Bulkhead, RunsThenQueuesThenRefuses) {
  Bulkhead bulkhead = make(2, 1);
  EXPECT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  EXPECT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  const auto queued = bulkhead.enter([] {});
  EXPECT_EQ(queued.admission, Admission::kQueued);
  EXPECT_NE(queued.id, 0U);
  EXPECT_EQ(bulkhead.enter([] {}).admission, Admission::kRefused);
  EXPECT_EQ(bulkhead.running(), 2);
  EXPECT_EQ(bulkhead.pending(), 1);
}

TEST(Bulkhead, NoQueueRefusesAtOnce) {
  Bulkhead bulkhead = make(1, 0);
  EXPECT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  EXPECT_EQ(bulkhead.enter([] {}).admission, Admission::kRefused);
  EXPECT_EQ(bulkhead.pending(), 0);
}

TEST(Bulkhead, LeaveReturnsTheSlotWhenNobodyWaits) {
  Bulkhead bulkhead = make(1, 1);
  ASSERT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  bulkhead.leave();
  EXPECT_EQ(bulkhead.running(), 0);
  EXPECT_EQ(bulkhead.enter({}).admission, Admission::kRun);
}

TEST(Bulkhead, LeaveWakesTheOldestWaiter) {
  Bulkhead bulkhead = make(1, 3);
  std::vector<std::string> woken;
  ASSERT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  ASSERT_EQ(bulkhead.enter([&] { woken.emplace_back("first"); }).admission, Admission::kQueued);
  ASSERT_EQ(bulkhead.enter([&] { woken.emplace_back("second"); }).admission, Admission::kQueued);

  bulkhead.leave();
  EXPECT_EQ(woken, std::vector<std::string>{"first"});
  EXPECT_EQ(bulkhead.running(), 1);  // the slot went to "first"
  EXPECT_EQ(bulkhead.pending(), 1);
  EXPECT_EQ(bulkhead.enter([] {}).admission, Admission::kQueued);  // no slot for a newcomer

  bulkhead.leave();
  EXPECT_EQ(woken, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(bulkhead.running(), 1);
}

TEST(Bulkhead, WakeRunsWithoutTheLockHeld) {
  Bulkhead bulkhead = make(1, 1);
  int running_seen = -1;
  ASSERT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  // Calling back into the bulkhead from the wake-up would deadlock under the lock.
  ASSERT_EQ(bulkhead.enter([&] { running_seen = bulkhead.running(); }).admission, Admission::kQueued);
  bulkhead.leave();
  EXPECT_EQ(running_seen, 1);
}

TEST(Bulkhead, EachWaiterIsWokenOnce) {
  Bulkhead bulkhead = make(1, 2);
  int wakes = 0;
  ASSERT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  ASSERT_EQ(bulkhead.enter([&] { ++wakes; }).admission, Admission::kQueued);
  bulkhead.leave();
  bulkhead.leave();
  bulkhead.leave();
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(bulkhead.running(), 0);
}

TEST(Bulkhead, AbandonRemovesAQueuedWaiter) {
  Bulkhead bulkhead = make(1, 2);
  bool abandoned_woken = false;
  bool other_woken = false;
  ASSERT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  const auto gives_up = bulkhead.enter([&] { abandoned_woken = true; });
  const auto stays = bulkhead.enter([&] { other_woken = true; });
  ASSERT_EQ(gives_up.admission, Admission::kQueued);
  ASSERT_EQ(stays.admission, Admission::kQueued);
  EXPECT_NE(gives_up.id, stays.id);

  EXPECT_TRUE(bulkhead.abandon(gives_up.id));
  EXPECT_EQ(bulkhead.pending(), 1);
  EXPECT_FALSE(bulkhead.abandon(gives_up.id));  // already gone

  bulkhead.leave();
  EXPECT_FALSE(abandoned_woken);
  EXPECT_TRUE(other_woken);
}

TEST(Bulkhead, AbandonAfterWakeUpFails) {
  Bulkhead bulkhead = make(1, 1);
  ASSERT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  const auto ticket = bulkhead.enter([] {});
  ASSERT_EQ(ticket.admission, Admission::kQueued);
  bulkhead.leave();
  EXPECT_FALSE(bulkhead.abandon(ticket.id));  // it owns the slot now
  EXPECT_EQ(bulkhead.running(), 1);
  bulkhead.leave();
  EXPECT_EQ(bulkhead.running(), 0);
}

TEST(Bulkhead, AbandonOfAnUnknownIdFails) {
  Bulkhead bulkhead = make(1, 1);
  EXPECT_FALSE(bulkhead.abandon(12345));
}

TEST(Bulkhead, AbandonFreesRoomInTheQueue) {
  Bulkhead bulkhead = make(1, 1);
  ASSERT_EQ(bulkhead.enter({}).admission, Admission::kRun);
  const auto ticket = bulkhead.enter([] {});
  ASSERT_EQ(bulkhead.enter([] {}).admission, Admission::kRefused);
  ASSERT_TRUE(bulkhead.abandon(ticket.id));
  EXPECT_EQ(bulkhead.enter([] {}).admission, Admission::kQueued);
}

// The fast path takes a free slot and never queues; with waiters queued it leaves the slot to them.
TEST(Bulkhead, TryRunTakesAFreeSlotOnlyAndNeverJumpsTheQueue) {
  auto pool = make(1, 1);
  EXPECT_TRUE(pool.try_run());
  EXPECT_EQ(pool.running(), 1);
  EXPECT_FALSE(pool.try_run()) << "no free slot";
  int woken = 0;
  auto queued = pool.enter([&] { ++woken; });
  ASSERT_EQ(queued.admission, Bulkhead::Admission::kQueued);
  pool.leave();
  EXPECT_EQ(woken, 1) << "the slot went to the waiter";
  EXPECT_FALSE(pool.try_run()) << "still taken, by the woken waiter";
  pool.leave();
  EXPECT_EQ(pool.running(), 0);
  EXPECT_TRUE(pool.try_run());
}

}  // namespace
}  // namespace mercato::resilience
