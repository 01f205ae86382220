// Retries that cannot amplify an outage: exponential backoff with full jitter (a random delay in
// [0, min(max_delay, base_delay * 2^(attempt-1))], so retrying clients spread out instead of
// synchronising), only for requests that are safe to repeat, and limited by a retry budget.
//
// Time is passed in; randomness comes from the caller's generator (tests seed it).
//
// Thread-safety: retry_delay and is_retriable are pure; RetryBudget is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/resilience/circuit_breaker.hpp"  // Clock, TimePoint

namespace mercato::resilience {

struct RetrySettings {
  int attempts = 1;  // total tries, the first included (1: never retry)
  std::chrono::milliseconds base_delay{25};
  std::chrono::milliseconds max_delay{1000};
  std::chrono::milliseconds per_try_timeout{0};  // 0: the call's own timeout

  Result<void> validate() const;  // attempts 1..10, 0 < base_delay <= max_delay
};

// The delay before retry number `retry` (1 for the first retry): full jitter over the capped
// exponential. Always within [0, max_delay].
std::chrono::milliseconds retry_delay(const RetrySettings& settings, int retry, std::mt19937_64& rng);

// Whether repeating the request cannot do harm: idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE),
// or any method carrying an idempotency key (the server deduplicates it).
bool is_retriable(std::string_view method, bool has_idempotency_key) noexcept;

// Retries may add at most `ratio` of the requests seen over the last `window`, plus a floor of
// `min_per_second` retries per second so a quiet upstream can still be retried. Like Finagle's budget:
// every request deposits `ratio` of a retry, every retry withdraws one.
struct RetryBudgetSettings {
  double ratio = 0.2;  // 0 <= ratio <= 1
  double min_per_second = 3;
  std::chrono::milliseconds window{10000};

  Result<void> validate() const;
};

class RetryBudget {
 public:
  explicit RetryBudget(RetryBudgetSettings settings);

  // Every request (first tries only) is counted.
  void on_request(TimePoint now);
  // Whether a retry may go now; if so it is counted against the budget.
  bool try_retry(TimePoint now);
  // How many more retries the budget allows at `now` (for tests and metrics).
  std::int64_t available(TimePoint now) const;

 private:
  void expire(TimePoint now) const;  // mutex held: drops entries older than the window

  RetryBudgetSettings settings_;
  mutable std::mutex mutex_;
  mutable std::deque<TimePoint> requests_;
  mutable std::deque<TimePoint> retries_;
};

}  // namespace mercato::resilience
