#include "mercato/resilience/retry.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <set>
#include <string>

namespace mercato::resilience {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

template <typename Settings, typename Mutate>
std::string invalid_field(Mutate mutate) {
  Settings s;
  mutate(s);
  auto result = s.validate();
  EXPECT_FALSE(result);
  if (result) return {};
  EXPECT_EQ(result.error().code, ErrorCode::kValidationFailed);
  return result.error().field;
}

TEST(RetrySettings, Validates) {
  EXPECT_TRUE(RetrySettings{}.validate());
  RetrySettings most;
  most.attempts = 10;
  most.base_delay = milliseconds{1000};
  most.max_delay = milliseconds{1000};
  EXPECT_TRUE(most.validate());

  EXPECT_EQ(invalid_field<RetrySettings>([](RetrySettings& s) { s.attempts = 0; }), "attempts");
  EXPECT_EQ(invalid_field<RetrySettings>([](RetrySettings& s) { s.attempts = 11; }), "attempts");
  EXPECT_EQ(invalid_field<RetrySettings>([](RetrySettings& s) { s.base_delay = milliseconds{0}; }),
            "base_delay");
  EXPECT_EQ(
      invalid_field<RetrySettings>([](RetrySettings& s) { s.max_delay = s.base_delay - milliseconds{1}; }),
      "max_delay");
  EXPECT_EQ(invalid_field<RetrySettings>([](RetrySettings& s) { s.per_try_timeout = milliseconds{-1}; }),
            "per_try_timeout");
}

struct Observed {
  long long min = LLONG_MAX;
  long long max = LLONG_MIN;
  std::set<long long> distinct;
};

Observed sample(const RetrySettings& settings, int retry, int draws = 2000) {
  std::mt19937_64 rng(42);
  Observed o;
  for (int i = 0; i < draws; ++i) {
    const long long ms = retry_delay(settings, retry, rng).count();
    o.min = std::min(o.min, ms);
    o.max = std::max(o.max, ms);
    o.distinct.insert(ms);
  }
  return o;
}

TEST(RetryDelay, FullJitterOverTheDoublingCeiling) {
  RetrySettings settings;
  settings.base_delay = milliseconds{25};
  settings.max_delay = milliseconds{1000};
  // The ceiling doubles per retry: 25, 50, 100, 200; with 2000 draws the extremes are all but certain.
  long long ceiling = 25;
  for (int retry = 1; retry <= 4; ++retry, ceiling *= 2) {
    const Observed o = sample(settings, retry);
    EXPECT_EQ(o.min, 0) << "retry " << retry;
    EXPECT_EQ(o.max, ceiling) << "retry " << retry;
  }
}

TEST(RetryDelay, IsCappedByMaxDelay) {
  RetrySettings settings;
  settings.base_delay = milliseconds{25};
  settings.max_delay = milliseconds{150};
  const Observed o = sample(settings, 4);  // uncapped ceiling would be 200
  EXPECT_EQ(o.max, 150);
  EXPECT_GE(o.min, 0);
}

TEST(RetryDelay, DelaysAreSpreadNotEqual) {
  RetrySettings settings;
  const Observed o = sample(settings, 3, 200);
  EXPECT_GT(o.distinct.size(), 50U);
}

TEST(RetryDelay, HugeRetryNumbersDoNotOverflow) {
  RetrySettings settings;
  settings.base_delay = milliseconds{25};
  settings.max_delay = milliseconds{1000};
  for (int retry : {31, 63, 64, 1000, INT_MAX}) {
    const Observed o = sample(settings, retry, 500);
    EXPECT_GE(o.min, 0) << retry;
    EXPECT_LE(o.max, 1000) << retry;
    EXPECT_GT(o.max, 900) << retry;
  }
  settings.max_delay = milliseconds{LLONG_MAX};
  const Observed o = sample(settings, INT_MAX, 100);
  EXPECT_GE(o.min, 0);
  EXPECT_GT(o.max, LLONG_MAX / 4);
}

TEST(RetryDelay, SameSeedSameDelays) {
  RetrySettings settings;
  std::mt19937_64 a(7);
  std::mt19937_64 b(7);
  for (int retry = 1; retry <= 5; ++retry)
    EXPECT_EQ(retry_delay(settings, retry, a), retry_delay(settings, retry, b));
}

TEST(IsRetriable, IdempotentMethods) {
  for (const char* method : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}) {
    EXPECT_TRUE(is_retriable(method, false)) << method;
  }
  for (const char* method : {"POST", "PATCH", "CONNECT", "get", "Put", ""}) {
    EXPECT_FALSE(is_retriable(method, false)) << method;
  }
}

TEST(IsRetriable, AnyMethodWithAnIdempotencyKey) {
  EXPECT_TRUE(is_retriable("POST", true));
  EXPECT_TRUE(is_retriable("PATCH", true));
}

TEST(RetryBudgetSettings, Validates) {
  EXPECT_TRUE(RetryBudgetSettings{}.validate());
  EXPECT_EQ(invalid_field<RetryBudgetSettings>([](RetryBudgetSettings& s) { s.ratio = -0.1; }), "ratio");
  EXPECT_EQ(invalid_field<RetryBudgetSettings>([](RetryBudgetSettings& s) { s.ratio = 1.5; }), "ratio");
  EXPECT_EQ(invalid_field<RetryBudgetSettings>([](RetryBudgetSettings& s) { s.min_per_second = -1; }),
            "min_per_second");
  EXPECT_EQ(invalid_field<RetryBudgetSettings>([](RetryBudgetSettings& s) { s.window = milliseconds{0}; }),
            "window");
}

RetryBudgetSettings budget(double ratio, double min_per_second) {
  RetryBudgetSettings s;
  s.ratio = ratio;
  s.min_per_second = min_per_second;
  s.window = seconds{10};
  return s;
}

TEST(RetryBudget, CapsRetriesAtTheRatioOfRequests) {
  TimePoint now{seconds{1000}};
  RetryBudget b(budget(0.2, 0));
  EXPECT_EQ(b.available(now), 0);
  EXPECT_FALSE(b.try_retry(now));
  for (int i = 0; i < 100; ++i) b.on_request(now);
  EXPECT_EQ(b.available(now), 20);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(b.try_retry(now)) << i;
  EXPECT_FALSE(b.try_retry(now));
  EXPECT_EQ(b.available(now), 0);
  b.on_request(now);  // 0.2 of a retry is not one yet
  EXPECT_FALSE(b.try_retry(now));
  for (int i = 0; i < 4; ++i) b.on_request(now);
  EXPECT_TRUE(b.try_retry(now));
}

TEST(RetryBudget, MinPerSecondAllowsRetriesWithoutTraffic) {
  TimePoint now{seconds{1000}};
  RetryBudget b(budget(0.2, 3));
  EXPECT_EQ(b.available(now), 30);  // 3 per second over a 10 s window
  for (int i = 0; i < 10; ++i) b.on_request(now);
  EXPECT_EQ(b.available(now), 32);
}

TEST(RetryBudget, RequestsLeaveTheWindow) {
  TimePoint now{seconds{1000}};
  RetryBudget b(budget(0.2, 0));
  for (int i = 0; i < 100; ++i) b.on_request(now);
  EXPECT_EQ(b.available(now + seconds{10} - milliseconds{1}), 20);
  EXPECT_EQ(b.available(now + seconds{10}), 0);
  EXPECT_FALSE(b.try_retry(now + seconds{10}));
}

TEST(RetryBudget, RetriesLeaveTheWindowAndFreeTheBudget) {
  TimePoint now{seconds{1000}};
  RetryBudget b(budget(0, 1));  // one retry per second: 10 per window
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.try_retry(now)) << i;
  EXPECT_FALSE(b.try_retry(now));
  EXPECT_FALSE(b.try_retry(now + seconds{10} - milliseconds{1}));
  now += seconds{10};
  EXPECT_EQ(b.available(now), 10);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.try_retry(now)) << i;
  EXPECT_FALSE(b.try_retry(now));
}

TEST(RetryBudget, AvailableIsNeverNegative) {
  TimePoint now{seconds{1000}};
  RetryBudget b(budget(0.2, 0));
  for (int i = 0; i < 100; ++i) b.on_request(now);
  now += seconds{5};
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(b.try_retry(now));
  now += seconds{5};  // the requests left, the retries did not
  EXPECT_EQ(b.available(now), 0);
  for (int i = 0; i < 50; ++i) b.on_request(now);
  EXPECT_EQ(b.available(now), 0);  // 10 deposited, 20 still withdrawn
  for (int i = 0; i < 55; ++i) b.on_request(now);
  EXPECT_EQ(b.available(now), 1);
}

TEST(RetryBudget, FractionalRatiosDoNotLoseRetriesToRounding) {
  TimePoint now{seconds{1000}};
  RetryBudget b(budget(0.29, 0));
  for (int i = 0; i < 100; ++i) b.on_request(now);
  EXPECT_EQ(b.available(now), 29);
}

}  // namespace
}  // namespace mercato::resilience
