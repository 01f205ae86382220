#include "domain/admission.hpp"

#include <algorithm>
#include <cmath>

namespace mercato::order {

std::int64_t backlog_limit(const AdmissionLimits& limits, double finish_rate) noexcept {
  double seconds = std::chrono::duration<double>(limits.max_backlog_time).count();
  double work = std::max(0.0, finish_rate) * seconds;
  // Compared as doubles first: a rate from a burst may be far beyond what an int64 holds.
  if (work >= static_cast<double>(limits.max_backlog)) return limits.max_backlog;
  return std::clamp(static_cast<std::int64_t>(work), limits.min_backlog, limits.max_backlog);
}

std::chrono::seconds retry_after(const AdmissionLimits& limits, std::int64_t backlog, std::int64_t limit,
                                 double finish_rate) noexcept {
  auto longest =
      std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(limits.max_backlog_time).count());
  if (finish_rate <= 0) return std::chrono::seconds(longest);
  // One place must free up below the limit for this client to be admitted.
  auto excess = static_cast<double>(std::max<std::int64_t>(1, backlog - limit + 1));
  auto wait =
      static_cast<std::int64_t>(std::min(std::ceil(excess / finish_rate), static_cast<double>(longest)));
  return std::chrono::seconds(std::clamp<std::int64_t>(wait, 1, longest));
}

FinishRate::FinishRate(std::chrono::milliseconds window, TimePoint start, int buckets)
    : start_(start),
      slice_(std::max<std::chrono::nanoseconds>(std::chrono::nanoseconds(window) / std::max(1, buckets),
                                                std::chrono::nanoseconds(1))),
      counts_(static_cast<std::size_t>(std::max(1, buckets)), 0) {}

void FinishRate::advance(TimePoint now) {
  auto index = now <= start_ ? 0 : (now - start_) / slice_;
  if (index <= newest_) return;
  auto size = static_cast<std::int64_t>(counts_.size());
  // Beyond a whole ring every slice is stale: empty them once, not once per elapsed slice.
  for (auto i = std::max(newest_ + 1, index - size + 1); i <= index; ++i) {
    counts_[static_cast<std::size_t>(i % size)] = 0;
  }
  newest_ = index;
}

void FinishRate::add(TimePoint now, std::int64_t n) {
  advance(now);
  counts_[static_cast<std::size_t>(newest_ % static_cast<std::int64_t>(counts_.size()))] += n;
}

double FinishRate::per_second(TimePoint now) {
  advance(now);
  std::int64_t total = 0;
  for (auto c : counts_) total += c;
  // The ring holds the newest slice (partly elapsed) and the size-1 before it, when they exist.
  auto oldest = std::max<std::int64_t>(0, newest_ - static_cast<std::int64_t>(counts_.size()) + 1);
  auto covered = std::max<std::chrono::nanoseconds>(now - (start_ + oldest * slice_), slice_);
  return static_cast<double>(total) / std::chrono::duration<double>(covered).count();
}

}  // namespace mercato::order
