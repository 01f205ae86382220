#include "mercato/resilience/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace mercato::resilience {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Transition = std::pair<BreakerState, BreakerState>;

BreakerSettings consecutive(int failure_threshold) {
  BreakerSettings s;
  s.mode = BreakerSettings::Mode::kConsecutive;
  s.failure_threshold = failure_threshold;
  s.recovery_timeout = seconds{30};
  s.success_threshold = 2;
  s.half_open_max_calls = 1;
  return s;
}

BreakerSettings failure_rate(int window_size, int minimum_calls, double threshold) {
  BreakerSettings s;
  s.mode = BreakerSettings::Mode::kFailureRate;
  s.window_size = window_size;
  s.minimum_calls = minimum_calls;
  s.failure_rate_threshold = threshold;
  s.recovery_timeout = seconds{30};
  return s;
}

void fail(CircuitBreaker& breaker, TimePoint now, int times = 1) {
  for (int i = 0; i < times; ++i) {
    ASSERT_TRUE(breaker.try_acquire(now));
    breaker.on_failure(now);
  }
}

void succeed(CircuitBreaker& breaker, TimePoint now, int times = 1) {
  for (int i = 0; i < times; ++i) {
    ASSERT_TRUE(breaker.try_acquire(now));
    breaker.on_success(now);
  }
}

TEST(BreakerSettings, DefaultsAreValid) { EXPECT_TRUE(BreakerSettings{}.validate()); }

TEST(BreakerSettings, NamesTheFieldOutOfRange) {
  const auto field_of = [](auto mutate) {
    BreakerSettings s;
    mutate(s);
    auto result = s.validate();
    EXPECT_FALSE(result);
    if (result) return std::string{};
    EXPECT_EQ(result.error().code, ErrorCode::kValidationFailed);
    return result.error().field;
  };
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.failure_threshold = 0; }), "failure_threshold");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.failure_rate_threshold = 0; }), "failure_rate_threshold");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.failure_rate_threshold = 1.01; }), "failure_rate_threshold");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.window_size = 0; }), "window_size");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.minimum_calls = 0; }), "minimum_calls");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.minimum_calls = s.window_size + 1; }), "minimum_calls");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.recovery_timeout = milliseconds{0}; }), "recovery_timeout");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.success_threshold = 0; }), "success_threshold");
  EXPECT_EQ(field_of([](BreakerSettings& s) { s.half_open_max_calls = 0; }), "half_open_max_calls");
}

TEST(BreakerSettings, AcceptsTheEdgesOfEachRange) {
  BreakerSettings s;
  s.failure_threshold = 1;
  s.failure_rate_threshold = 1;
  s.window_size = 1;
  s.minimum_calls = 1;
  s.recovery_timeout = milliseconds{1};
  s.success_threshold = 1;
  s.half_open_max_calls = 1;
  EXPECT_TRUE(s.validate());
}

TEST(BreakerState, HasWireNames) {
  EXPECT_EQ(to_string(BreakerState::kClosed), "closed");
  EXPECT_EQ(to_string(BreakerState::kOpen), "open");
  EXPECT_EQ(to_string(BreakerState::kHalfOpen), "half_open");
}

TEST(CircuitBreaker, OpensOnExactlyTheThreshold) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(3));
  fail(breaker, now, 2);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
  EXPECT_TRUE(breaker.try_acquire(now));
  breaker.on_failure(now);
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
  EXPECT_FALSE(breaker.try_acquire(now));
}

TEST(CircuitBreaker, NewThresholdsJudgeTheNextCallsAndKeepTheCounts) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(5));
  fail(breaker, now, 2);
  breaker.set_settings(consecutive(3));
  EXPECT_EQ(breaker.settings().failure_threshold, 3);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
  ASSERT_TRUE(breaker.try_acquire(now));
  breaker.on_failure(now);  // the third in a row: the new threshold
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
}

TEST(CircuitBreaker, SuccessResetsTheConsecutiveCount) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(3));
  fail(breaker, now, 2);
  succeed(breaker, now);
  fail(breaker, now, 2);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
  fail(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
}

TEST(CircuitBreaker, StaysOpenUntilTheRecoveryTimeout) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(1));
  fail(breaker, now);
  const TimePoint opened = now;

  now = opened + seconds{30} - milliseconds{1};
  EXPECT_FALSE(breaker.try_acquire(now));
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);

  now = opened + seconds{30};
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
  EXPECT_TRUE(breaker.try_acquire(now));
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
}

TEST(CircuitBreaker, RetryAfterCountsDownWhileOpen) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(1));
  EXPECT_EQ(breaker.retry_after(now), milliseconds{0});
  fail(breaker, now);
  EXPECT_EQ(breaker.retry_after(now), seconds{30});
  EXPECT_EQ(breaker.retry_after(now + seconds{10}), seconds{20});
  EXPECT_EQ(breaker.retry_after(now + seconds{30} - milliseconds{1}), milliseconds{1});
  EXPECT_EQ(breaker.retry_after(now + seconds{30}), milliseconds{0});
  EXPECT_EQ(breaker.retry_after(now + seconds{90}), milliseconds{0});
}

TEST(CircuitBreaker, RetryAfterRoundsUpToWholeMilliseconds) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(1));
  fail(breaker, now);
  EXPECT_EQ(breaker.retry_after(now + seconds{30} - std::chrono::microseconds{1}), milliseconds{1});
}

TEST(CircuitBreaker, HalfOpenLimitsTrialCallsInFlight) {
  TimePoint now{seconds{1000}};
  auto settings = consecutive(1);
  settings.half_open_max_calls = 2;
  settings.success_threshold = 3;
  CircuitBreaker breaker(settings);
  fail(breaker, now);
  now += seconds{30};

  EXPECT_TRUE(breaker.try_acquire(now));
  EXPECT_TRUE(breaker.try_acquire(now));
  EXPECT_FALSE(breaker.try_acquire(now));
  EXPECT_EQ(breaker.retry_after(now), milliseconds{0});

  breaker.on_success(now);  // frees one slot, circuit not yet closed
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
  EXPECT_TRUE(breaker.try_acquire(now));
  EXPECT_FALSE(breaker.try_acquire(now));
}

TEST(CircuitBreaker, ClosesAfterSuccessThresholdTrials) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(2));
  fail(breaker, now, 2);
  now += seconds{30};

  succeed(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
  succeed(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);

  // The failures from before the outage are forgotten: it takes the full threshold to open again.
  fail(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
  fail(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
}

TEST(CircuitBreaker, FailedTrialReopensForAFullTimeout) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(1));
  fail(breaker, now);
  now += seconds{45};

  succeed(breaker, now);  // one of the two successes needed
  ASSERT_TRUE(breaker.try_acquire(now));
  breaker.on_failure(now);
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
  EXPECT_EQ(breaker.retry_after(now), seconds{30});
  EXPECT_FALSE(breaker.try_acquire(now + seconds{30} - milliseconds{1}));

  // The earlier trial success does not carry over into the next half-open period.
  now += seconds{30};
  succeed(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
  succeed(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
}

TEST(CircuitBreaker, IgnoredTrialFreesItsSlotAndCountsNothing) {
  TimePoint now{seconds{1000}};
  auto settings = consecutive(1);
  settings.success_threshold = 1;
  CircuitBreaker breaker(settings);
  fail(breaker, now);
  now += seconds{30};

  ASSERT_TRUE(breaker.try_acquire(now));
  EXPECT_FALSE(breaker.try_acquire(now));
  breaker.on_ignored();
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
  EXPECT_TRUE(breaker.try_acquire(now));
}

TEST(CircuitBreaker, IgnoredCallWhileClosedCountsNothing) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(2));
  fail(breaker, now);
  ASSERT_TRUE(breaker.try_acquire(now));
  breaker.on_ignored();
  fail(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);  // the ignored call did not reset the count
}

TEST(CircuitBreaker, IgnoresOutcomesArrivingWhileOpen) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(2));
  // Four calls start while closed; the first two fail and open the breaker.
  ASSERT_TRUE(breaker.try_acquire(now));
  ASSERT_TRUE(breaker.try_acquire(now));
  ASSERT_TRUE(breaker.try_acquire(now));
  ASSERT_TRUE(breaker.try_acquire(now));
  breaker.on_failure(now);
  breaker.on_failure(now);
  const TimePoint opened = now;

  // The stragglers end later: they neither restart the timeout nor count as trials.
  breaker.on_failure(opened + seconds{10});
  breaker.on_success(opened + seconds{10});
  EXPECT_EQ(breaker.retry_after(opened + seconds{10}), seconds{20});

  now = opened + seconds{30};
  succeed(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
  succeed(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
}

TEST(CircuitBreaker, IgnoresAStragglerWhenNoTrialIsInFlight) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(consecutive(1));
  ASSERT_TRUE(breaker.try_acquire(now));  // a slow call, started while closed
  fail(breaker, now);
  now += seconds{30};
  succeed(breaker, now);  // one trial done, none in flight

  breaker.on_failure(now);  // the slow call finally fails
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);
  succeed(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
}

TEST(CircuitBreaker, FailureRateWaitsForMinimumCalls) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(failure_rate(10, 5, 0.5));
  fail(breaker, now, 4);  // 100% failures, but only 4 calls
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
  fail(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
}

TEST(CircuitBreaker, FailureRateOpensAtTheRate) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(failure_rate(10, 4, 0.5));
  succeed(breaker, now, 3);
  fail(breaker, now, 2);  // 2 of 5: 40%
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
  fail(breaker, now);  // 3 of 6: exactly 50%
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
}

TEST(CircuitBreaker, FailureRateDoesNotNeedConsecutiveFailures) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(failure_rate(4, 4, 0.5));
  fail(breaker, now);
  succeed(breaker, now);
  fail(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);  // 3 calls, below minimum_calls
  succeed(breaker, now);                                 // F S F S: 50%
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
}

TEST(CircuitBreaker, FailureRateWindowSlides) {
  TimePoint now{seconds{1000}};
  CircuitBreaker breaker(failure_rate(4, 4, 0.5));
  fail(breaker, now);
  succeed(breaker, now, 4);  // the failure has left the window: S S S S
  fail(breaker, now);        // S S S F: 25%
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
  // S S F F: 50% of the window, though only 3 of all 7 calls (43%) failed.
  fail(breaker, now);
  EXPECT_EQ(breaker.state(now), BreakerState::kOpen);
}

TEST(CircuitBreaker, FailureRateWindowStartsEmptyAfterClosing) {
  TimePoint now{seconds{1000}};
  auto settings = failure_rate(4, 2, 0.5);
  settings.success_threshold = 1;
  CircuitBreaker breaker(settings);
  fail(breaker, now, 2);
  ASSERT_EQ(breaker.state(now), BreakerState::kOpen);
  now += seconds{30};
  succeed(breaker, now);
  ASSERT_EQ(breaker.state(now), BreakerState::kClosed);

  fail(breaker, now);  // alone in the window: below minimum_calls
  EXPECT_EQ(breaker.state(now), BreakerState::kClosed);
}

TEST(CircuitBreaker, ListenerSeesEveryTransitionInOrder) {
  TimePoint now{seconds{1000}};
  std::vector<Transition> seen;
  CircuitBreaker* self = nullptr;
  CircuitBreaker breaker(consecutive(1), [&](BreakerState from, BreakerState to) {
    seen.emplace_back(from, to);
    // Calling back into the breaker would deadlock if the listener ran under its mutex.
    (void)self->retry_after(now);
  });
  self = &breaker;

  fail(breaker, now);
  now += seconds{30};
  fail(breaker, now);  // the trial fails
  now += seconds{30};
  succeed(breaker, now, 2);

  const std::vector<Transition> expected = {
      {BreakerState::kClosed, BreakerState::kOpen},     {BreakerState::kOpen, BreakerState::kHalfOpen},
      {BreakerState::kHalfOpen, BreakerState::kOpen},   {BreakerState::kOpen, BreakerState::kHalfOpen},
      {BreakerState::kHalfOpen, BreakerState::kClosed},
  };
  EXPECT_EQ(seen, expected);
}

TEST(CircuitBreaker, ListenerFiresOnceForTheLazyHalfOpen) {
  TimePoint now{seconds{1000}};
  std::vector<Transition> seen;
  CircuitBreaker breaker(consecutive(1),
                         [&](BreakerState from, BreakerState to) { seen.emplace_back(from, to); });
  fail(breaker, now);
  now += seconds{30};
  EXPECT_EQ(breaker.state(now), BreakerState::kHalfOpen);  // reading does not transition
  EXPECT_EQ(seen.size(), 1U);
  ASSERT_TRUE(breaker.try_acquire(now));
  EXPECT_FALSE(breaker.try_acquire(now));
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen.back(), Transition(BreakerState::kOpen, BreakerState::kHalfOpen));
}

}  // namespace
}  // namespace mercato::resilience
