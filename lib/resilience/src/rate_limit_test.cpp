#include "mercato/resilience/rate_limit.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mercato::resilience {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RateLimitSettings limits(double rate, double burst, std::size_t max_keys = 1000) {
  RateLimitSettings s;
  s.rate = rate;
  s.burst = burst;
  s.max_keys = max_keys;
  return s;
}

// How many takes in a row are allowed at `now`.
int drain(RateLimiter& limiter, std::string_view key, TimePoint now) {
  int allowed = 0;
  while (limiter.take(key, now).allowed) {
    if (++allowed > 1000000) break;
  }
  return allowed;
}

std::string invalid_field(void (*mutate)(RateLimitSettings&)) {
  RateLimitSettings s;
  mutate(s);
  auto result = s.validate();
  EXPECT_FALSE(result);
  if (result) return {};
  EXPECT_EQ(result.error().code, ErrorCode::kValidationFailed);
  return result.error().field;
}

TEST(RateLimitSettings, Validates) {
  EXPECT_TRUE(RateLimitSettings{}.validate());
  EXPECT_TRUE(limits(0.01, 1, 1).validate());
  EXPECT_EQ(invalid_field([](RateLimitSettings& s) { s.rate = 0; }), "rate");
  EXPECT_EQ(invalid_field([](RateLimitSettings& s) { s.rate = -5; }), "rate");
  EXPECT_EQ(invalid_field([](RateLimitSettings& s) { s.burst = 0.5; }), "burst");
  EXPECT_EQ(invalid_field([](RateLimitSettings& s) { s.max_keys = 0; }), "max_keys");
}

TEST(RateLimiter, AllowsTheBurstThenRefuses) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(10, 5));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.take("client", now).allowed) << i;
  const auto refused = limiter.take("client", now);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds{100});  // one token every 100 ms
}

TEST(RateLimiter, RetryAfterShrinksAsTheTokenRefills) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(10, 1));
  ASSERT_TRUE(limiter.take("k", now).allowed);
  const auto refused = limiter.take("k", now + milliseconds{60});
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds{40});
  EXPECT_FALSE(limiter.take("k", now + milliseconds{99}).allowed);
  EXPECT_TRUE(limiter.take("k", now + milliseconds{100}).allowed);
  EXPECT_FALSE(limiter.take("k", now + milliseconds{100}).allowed);
}

TEST(RateLimiter, RetryAfterRoundsUpToAtLeastOneMillisecond) {
  TimePoint now{seconds{1000}};
  RateLimiter thirds(limits(3, 1));
  ASSERT_TRUE(thirds.take("k", now).allowed);
  EXPECT_EQ(thirds.take("k", now).retry_after, milliseconds{334});  // 333.3 ms

  RateLimiter fast(limits(10000, 1));
  ASSERT_TRUE(fast.take("k", now).allowed);
  const auto refused = fast.take("k", now);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds{1});  // 0.1 ms

  // Short of the token by a sliver: the wait rounds to nothing, but a Retry-After of 0 invites a
  // busy loop.
  RateLimiter extreme(limits(999'990'000, 1));
  ASSERT_TRUE(extreme.take("k", now).allowed);
  const auto almost = extreme.take("k", now + std::chrono::nanoseconds{1});  // 0.99999 tokens
  EXPECT_FALSE(almost.allowed);
  EXPECT_EQ(almost.retry_after, milliseconds{1});
}

TEST(RateLimiter, RefillsAtTheRateUpToTheBurst) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(10, 5));
  ASSERT_EQ(drain(limiter, "k", now), 5);
  now += milliseconds{300};
  EXPECT_EQ(drain(limiter, "k", now), 3);
  now += seconds{60};  // long idle: refills to the burst, not beyond
  EXPECT_EQ(drain(limiter, "k", now), 5);
}

TEST(RateLimiter, FractionalTokensAccumulate) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(10, 1));
  ASSERT_TRUE(limiter.take("k", now).allowed);
  EXPECT_FALSE(limiter.take("k", now + milliseconds{50}).allowed);  // half a token, kept
  EXPECT_TRUE(limiter.take("k", now + milliseconds{100}).allowed);
}

TEST(RateLimiter, RefillsDoNotLoseATokenToRounding) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(10, 1));
  ASSERT_TRUE(limiter.take("k", now).allowed);
  // In doubles these refills add up to 0.9999999999999999 tokens at +100 ms.
  EXPECT_FALSE(limiter.take("k", now + milliseconds{1}).allowed);
  EXPECT_FALSE(limiter.take("k", now + milliseconds{7}).allowed);
  EXPECT_TRUE(limiter.take("k", now + milliseconds{100}).allowed);
}

TEST(RateLimiter, CheckTellsWhatTakeWouldDecideWithoutTakingAToken) {
  RateLimiter limiter(limits(2, 2));
  auto t0 = TimePoint{} + seconds(100);
  EXPECT_TRUE(limiter.check("a", t0).allowed);
  EXPECT_EQ(limiter.keys(), 0U) << "checking creates no bucket";
  ASSERT_TRUE(limiter.take("a", t0).allowed);
  EXPECT_TRUE(limiter.check("a", t0).allowed);
  EXPECT_TRUE(limiter.check("a", t0).allowed) << "a check takes nothing";
  ASSERT_TRUE(limiter.take("a", t0).allowed);
  auto refused = limiter.check("a", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, milliseconds(500));
  EXPECT_EQ(limiter.take("a", t0).retry_after, refused.retry_after);
  EXPECT_TRUE(limiter.check("a", t0 + milliseconds(500)).allowed);
}

TEST(RateLimiter, KeysAreIsolated) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(1, 2));
  ASSERT_EQ(drain(limiter, "alice", now), 2);
  EXPECT_EQ(drain(limiter, "bob", now), 2);
  EXPECT_EQ(limiter.keys(), 2U);
}

TEST(RateLimiter, EvictsTheLeastRecentlyUsedKey) {
  TimePoint now{seconds{1000}};
  // So slow that no bucket refills during the test: every bucket holds information.
  RateLimiter limiter(limits(0.001, 1, 2));
  ASSERT_TRUE(limiter.take("a", now).allowed);
  ASSERT_TRUE(limiter.take("b", now).allowed);
  EXPECT_FALSE(limiter.take("a", now).allowed);  // "a" is now the most recently used
  EXPECT_TRUE(limiter.take("c", now).allowed);   // evicts "b"
  EXPECT_EQ(limiter.keys(), 2U);

  EXPECT_FALSE(limiter.take("a", now).allowed);  // still tracked, still empty
  EXPECT_TRUE(limiter.take("b", now).allowed);   // forgotten, so a fresh bucket (evicting "c")
  EXPECT_EQ(limiter.keys(), 2U);
}

TEST(RateLimiter, NeverHoldsMoreThanMaxKeys) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(0.001, 1, 100));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limiter.take("client-" + std::to_string(i), now).allowed);
    ASSERT_LE(limiter.keys(), 100U);
  }
  EXPECT_EQ(limiter.keys(), 100U);
}

TEST(RateLimiter, DropsFullyRefilledBucketsFirst) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(1, 1, 3));
  ASSERT_TRUE(limiter.take("a", now).allowed);
  ASSERT_TRUE(limiter.take("b", now).allowed);
  ASSERT_TRUE(limiter.take("c", now + milliseconds{500}).allowed);
  // At +1 s "a" and "b" have refilled and carry no information; "c" is half full and does.
  now += seconds{1};
  ASSERT_TRUE(limiter.take("d", now).allowed);
  EXPECT_EQ(limiter.keys(), 2U);
  EXPECT_FALSE(limiter.take("c", now).allowed);  // kept
}

TEST(RateLimiter, TimeGoingBackwardsDoesNotRefill) {
  TimePoint now{seconds{1000}};
  RateLimiter limiter(limits(10, 1));
  ASSERT_TRUE(limiter.take("k", now).allowed);
  EXPECT_FALSE(limiter.take("k", now - seconds{5}).allowed);
  EXPECT_FALSE(limiter.take("k", now + milliseconds{50}).allowed);
  EXPECT_TRUE(limiter.take("k", now + milliseconds{100}).allowed);
}

}  // namespace
}  // namespace mercato::resilience
