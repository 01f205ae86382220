// Admission control for new orders, the pure part: how many sagas may be in flight given how fast
// sagas are finishing, how long a refused client should wait, and the finish rate itself measured over
// a sliding window (ADR 0018). No clock of its own and no locking: app/admission.hpp wraps it for the
// service's threads.
//
//   FinishRate rate(10s, now);
//   rate.add(now);                                          // a saga confirmed or cancelled
//   auto limit = backlog_limit(limits, rate.per_second(now));
//   if (backlog >= limit) { auto wait = retry_after(limits, backlog, limit, rate.per_second(now)); }
//
// Thread-safety: plain values and a class without locks; the caller serialises FinishRate.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace mercato::order {

// How much saga work may wait: the backlog allowed is `max_backlog_time` of work at the recent finish
// rate, never fewer than `min_backlog` sagas (a cold start or an idle system has no rate yet, and a
// stalled one must still take a few orders to find out it has recovered) and never more than
// `max_backlog` (what the storage and the participants are sized for, whatever the rate says).
struct AdmissionLimits {
  std::chrono::milliseconds max_backlog_time{std::chrono::seconds(5)};
  std::int64_t min_backlog = 100;
  std::int64_t max_backlog = 10'000;
  friend bool operator==(const AdmissionLimits&, const AdmissionLimits&) = default;
};

// The sagas allowed in flight when sagas finish at `finish_rate` per second.
std::int64_t backlog_limit(const AdmissionLimits& limits, double finish_rate) noexcept;

// How long a refused client should wait before trying again: until a backlog of `backlog`, draining at
// `finish_rate`, is below `limit` — whole seconds (Retry-After's unit), at least 1 and at most
// max_backlog_time rounded up (with no rate to go by, that).
std::chrono::seconds retry_after(const AdmissionLimits& limits, std::int64_t backlog, std::int64_t limit,
                                 double finish_rate) noexcept;

// Events per second over the last `window`, counted in `buckets` slices so old events fall out a slice at
// a time. Until a whole window has passed since `start`, the rate is over the time since start (at least
// one slice), so a fresh process does not read a burst of its first second as a tenth of a rate.
class FinishRate {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  FinishRate(std::chrono::milliseconds window, TimePoint start, int buckets = 10);

  // `n` events at `now` (times never go backwards: a steady clock).
  void add(TimePoint now, std::int64_t n = 1);
  double per_second(TimePoint now);

 private:
  // Moves the newest slice up to `now`, emptying the slices that fell out of the window.
  void advance(TimePoint now);

  TimePoint start_;
  std::chrono::nanoseconds slice_;
  std::vector<std::int64_t> counts_;  // ring: slice i lives at i % size
  std::int64_t newest_ = 0;           // the index (since start) of the newest slice
};

}  // namespace mercato::order
