#include "mercato/resilience/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace mercato::resilience {

Result<void> RateLimitSettings::validate() const {
  if (!(rate > 0) || !std::isfinite(rate))
    return Error::validation("rate", "rate must be a finite number > 0");
  if (!(burst >= 1) || !std::isfinite(burst)) {
    return Error::validation("burst", "burst must be a finite number >= 1");
  }
  if (max_keys < 1) return Error::validation("max_keys", "max_keys must be >= 1");
  return {};
}

RateLimiter::RateLimiter(RateLimitSettings settings) : settings_(settings) {}

namespace {

// Tokens are summed from many fractional refills; without slack, 0.6 + 0.39 + 0.01 can fall just short
// of the one token a client was told it would have by then.
constexpr double kSlack = 1e-9;

double refilled(double tokens, TimePoint updated, TimePoint now, const RateLimitSettings& settings) {
  // Callers on different threads may pass slightly older times; time never runs backwards here.
  if (now <= updated) return tokens;
  const double elapsed = std::chrono::duration<double>(now - updated).count();
  return std::min(settings.burst, tokens + settings.rate * elapsed);
}

}  // namespace

RateLimiter::Decision RateLimiter::take(std::string_view key, TimePoint now) {
  std::lock_guard lock(mutex_);
  std::string owned(key);
  auto it = buckets_.find(owned);
  if (it == buckets_.end()) {
    if (buckets_.size() >= settings_.max_keys) {
      // The least recently used buckets are also the ones most likely to have refilled, and a full
      // bucket is the same as no bucket: drop those from the cold end. Scanning the whole map for full
      // buckets would make a flood of new keys cost O(keys) each.
      bool dropped = false;
      while (!lru_.empty()) {
        auto coldest = buckets_.find(lru_.back());
        const double tokens = refilled(coldest->second.tokens, coldest->second.updated, now, settings_);
        if (tokens + kSlack < settings_.burst) break;
        buckets_.erase(coldest);
        lru_.pop_back();
        dropped = true;
      }
      if (!dropped && !lru_.empty()) {
        buckets_.erase(lru_.back());
        lru_.pop_back();
      }
    }
    lru_.push_front(owned);
    it = buckets_.emplace(std::move(owned), Bucket{settings_.burst, now, lru_.begin()}).first;
  } else {
    Bucket& bucket = it->second;
    bucket.tokens = refilled(bucket.tokens, bucket.updated, now, settings_);
    bucket.updated = std::max(bucket.updated, now);
    lru_.splice(lru_.begin(), lru_, bucket.lru);
  }

  Bucket& bucket = it->second;
  if (bucket.tokens + kSlack >= 1) {
    bucket.tokens = std::max(0.0, bucket.tokens - 1);
    return Decision{};
  }
  const double wait_ms = (1.0 - bucket.tokens) * 1000.0 / settings_.rate;
  // The slack keeps rounding noise from turning an exact 100 ms into 101.
  const auto rounded_up = static_cast<std::chrono::milliseconds::rep>(std::ceil(wait_ms - kSlack));
  return Decision{false, std::chrono::milliseconds{std::max<std::chrono::milliseconds::rep>(1, rounded_up)}};
}

RateLimiter::Decision RateLimiter::check(std::string_view key, TimePoint now) const {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return Decision{};
  const double tokens = refilled(it->second.tokens, it->second.updated, now, settings_);
  if (tokens + kSlack >= 1) return Decision{};
  const double wait_ms = (1.0 - tokens) * 1000.0 / settings_.rate;
  const auto rounded_up = static_cast<std::chrono::milliseconds::rep>(std::ceil(wait_ms - kSlack));
  return Decision{false, std::chrono::milliseconds{std::max<std::chrono::milliseconds::rep>(1, rounded_up)}};
}

std::size_t RateLimiter::keys() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace mercato::resilience
