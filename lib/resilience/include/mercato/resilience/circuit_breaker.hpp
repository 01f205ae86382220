// A circuit breaker (the article's, plus a failure-rate mode as Resilience4j offers): closed → open
// after too many failures → half-open after `recovery_timeout` → closed after `success_threshold`
// successful trial calls (a failed trial opens it again). While open, calls fail fast: the caller asks
// try_acquire() before each call and reports the call's outcome once.
//
//   if (!breaker.try_acquire(now)) return Error::unavailable("circuit open");   // fast, no call made
//   auto r = co_await call();
//   r ok ? breaker.on_success(clock.now()) : breaker.on_failure(clock.now());
//
// Time is passed in (`now`), never read: tests drive it with a simulated clock.
//
// Thread-safety: thread-safe (one mutex; calls are short).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::resilience {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view to_string(BreakerState state) noexcept;

struct BreakerSettings {
  enum class Mode {
    kConsecutive,  // opens after `failure_threshold` failures in a row (the article's breaker)
    kFailureRate,  // opens when, over the last `window_size` calls (at least `minimum_calls` of
                   // them), the share of failures reaches `failure_rate_threshold`
  };
  Mode mode = Mode::kConsecutive;
  int failure_threshold = 5;
  double failure_rate_threshold = 0.5;  // 0 < x <= 1
  int window_size = 20;
  int minimum_calls = 10;  // 1 <= minimum_calls <= window_size
  std::chrono::milliseconds recovery_timeout{30000};
  int success_threshold = 2;    // trial successes in half-open that close the circuit
  int half_open_max_calls = 1;  // trial calls let through at once while half-open

  // kValidationFailed naming the field ("failure_threshold", ...) for a value out of range.
  Result<void> validate() const;
};

class CircuitBreaker {
 public:
  // Called on every state change, with the mutex released (log it, count it).
  using Listener = std::function<void(BreakerState from, BreakerState to)>;

  explicit CircuitBreaker(BreakerSettings settings, Listener on_transition = {});

  // Whether a call may start now. Closed: yes. Open: no, until recovery_timeout has passed since it
  // opened, then it turns half-open. Half-open: yes for up to half_open_max_calls calls in flight.
  // Every true must be followed by exactly one on_success / on_failure / on_ignored.
  bool try_acquire(TimePoint now);
  void on_success(TimePoint now);
  void on_failure(TimePoint now);
  // The call ended without telling anything about the upstream's health (the caller gave up, say):
  // frees its half-open slot, counts nothing.
  void on_ignored();
  // What the counts were about is gone (the upstream's instances were replaced): closed, counts cleared.
  void reset(TimePoint now);

  // The state as of `now` (an open breaker whose recovery_timeout passed reads kHalfOpen).
  BreakerState state(TimePoint now) const;
  // While open: how long until trial calls are let through (for Retry-After); otherwise zero.
  std::chrono::milliseconds retry_after(TimePoint now) const;
  BreakerSettings settings() const;
  // New thresholds (live configuration; validated by the caller): the state and its counts stay, and
  // the next call is judged by them.
  void set_settings(const BreakerSettings& settings);

 private:
  void transition(BreakerState to, TimePoint now, std::function<void()>& notify);  // mutex held
  void record(bool failure, TimePoint now, std::function<void()>& notify);         // mutex held

  BreakerSettings settings_;
  Listener on_transition_;
  mutable std::mutex mutex_;
  BreakerState state_ = BreakerState::kClosed;
  TimePoint opened_at_{};
  int consecutive_failures_ = 0;
  int half_open_in_flight_ = 0;
  int half_open_successes_ = 0;
  std::deque<bool> window_;  // kFailureRate: the last calls' outcomes, true = failure
  int window_failures_ = 0;
};

}  // namespace mercato::resilience
