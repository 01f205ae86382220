#include "domain/admission.hpp"

#include <gtest/gtest.h>

namespace mercato::order {
namespace {

using namespace std::chrono_literals;

const AdmissionLimits kLimits{.max_backlog_time = 5s, .min_backlog = 100, .max_backlog = 10'000};

TEST(BacklogLimit, IsTheConfiguredSecondsOfWorkAtTheFinishRate) {
  EXPECT_EQ(backlog_limit(kLimits, 226.0), 1130);  // 5 s at 226 sagas/s
  EXPECT_EQ(backlog_limit(kLimits, 1000.0), 5000);
}

TEST(BacklogLimit, TheFloorHoldsWithoutARateAndTheCeilingAgainstAnyRate) {
  EXPECT_EQ(backlog_limit(kLimits, 0.0), 100);
  EXPECT_EQ(backlog_limit(kLimits, -1.0), 100);
  EXPECT_EQ(backlog_limit(kLimits, 3.0), 100);  // 15 sagas of work: the floor
  EXPECT_EQ(backlog_limit(kLimits, 1e6), 10'000);
  EXPECT_EQ(backlog_limit(kLimits, 1e300), 10'000);  // no overflow on the way
}

TEST(RetryAfter, IsTheTimeForOnePlaceToFreeAtTheFinishRate) {
  EXPECT_EQ(retry_after(kLimits, 1000, 1000, 200.0), 1s);  // 1/200 s, rounded up to a whole second
  EXPECT_EQ(retry_after(kLimits, 1600, 1000, 200.0), 4s);  // 601 sagas at 200/s: 3.005 s → 4 s
  EXPECT_EQ(retry_after(kLimits, 9000, 1000, 200.0), 5s);  // capped at max_backlog_time
}

TEST(RetryAfter, WithoutARateIsTheLongestWait) {
  EXPECT_EQ(retry_after(kLimits, 150, 100, 0.0), 5s);
  AdmissionLimits short_time = kLimits;
  short_time.max_backlog_time = 300ms;
  EXPECT_EQ(retry_after(short_time, 150, 100, 0.0), 1s);  // never 0: that invites a retry at once
}

TEST(FinishRate, CountsOverTheWindowAndForgetsWhatFellOutOfIt) {
  auto t0 = FinishRate::TimePoint{} + 1h;
  FinishRate rate(10s, t0);
  for (int s = 0; s < 20; ++s) rate.add(t0 + std::chrono::seconds(s), 100);  // 100/s for 20 s
  EXPECT_NEAR(rate.per_second(t0 + 20s), 100.0, 10.0);
  // Then nothing for 10 s: the window empties.
  EXPECT_EQ(rate.per_second(t0 + 31s), 0.0);
  // A long silence followed by one event: the skipped slices are not counted twice (nor read stale).
  rate.add(t0 + 1000s, 10);
  EXPECT_NEAR(rate.per_second(t0 + 1000s + 500ms), 10.0 / 9.5, 0.2);
}

TEST(FinishRate, AFreshWindowIsReadOverTheTimeSinceStart) {
  auto t0 = FinishRate::TimePoint{} + 1h;
  FinishRate rate(10s, t0);
  rate.add(t0 + 1500ms, 300);
  // 300 in the first 2 s is 150/s, not 30/s (over a window that has not passed yet).
  EXPECT_NEAR(rate.per_second(t0 + 2s), 150.0, 1.0);
  // One event right at start does not read as a rate beyond one slice (1 s of a 10 s window).
  FinishRate fresh(10s, t0);
  fresh.add(t0 + 1ms);
  EXPECT_NEAR(fresh.per_second(t0 + 2ms), 1.0, 0.01);
}

}  // namespace
}  // namespace mercato::order
