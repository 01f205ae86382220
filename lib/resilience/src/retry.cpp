#include "mercato/resilience/retry.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace mercato::resilience {

Result<void> RetrySettings::validate() const {
  if (attempts < 1 || attempts > 10) return Error::validation("attempts", "attempts must be in [1, 10]");
  if (base_delay.count() <= 0) return Error::validation("base_delay", "base_delay must be positive");
  if (max_delay < base_delay) return Error::validation("max_delay", "max_delay must be >= base_delay");
  if (per_try_timeout.count() < 0) {
    return Error::validation("per_try_timeout", "per_try_timeout must be >= 0 (0: the call's timeout)");
  }
  return {};
}

std::chrono::milliseconds retry_delay(const RetrySettings& settings, int retry, std::mt19937_64& rng) {
  using Rep = std::chrono::milliseconds::rep;
  const Rep cap = settings.max_delay.count();
  Rep ceiling = std::min(settings.base_delay.count(), cap);
  if (ceiling <= 0) return std::chrono::milliseconds{0};
  // Doubling stops at the cap, so a large retry number can neither overflow nor loop long.
  for (int i = 1; i < retry && ceiling < cap; ++i) ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  std::uniform_int_distribution<Rep> jitter(0, ceiling);
  return std::chrono::milliseconds{jitter(rng)};
}

bool is_retriable(std::string_view method, bool has_idempotency_key) noexcept {
  if (has_idempotency_key) return true;
  // RFC 9110 §9.2.2; method names are case-sensitive, so "get" is not GET.
  constexpr std::array<std::string_view, 6> kIdempotent = {"GET", "HEAD",   "OPTIONS",
                                                           "PUT", "DELETE", "TRACE"};
  return std::find(kIdempotent.begin(), kIdempotent.end(), method) != kIdempotent.end();
}

Result<void> RetryBudgetSettings::validate() const {
  if (!(ratio >= 0 && ratio <= 1)) return Error::validation("ratio", "ratio must be in [0, 1]");
  if (!(min_per_second >= 0) || !std::isfinite(min_per_second)) {
    return Error::validation("min_per_second", "min_per_second must be a finite number >= 0");
  }
  if (window.count() <= 0) return Error::validation("window", "window must be positive");
  return {};
}

RetryBudget::RetryBudget(RetryBudgetSettings settings) : settings_(settings) {}

namespace {

std::int64_t allowed_retries(const RetryBudgetSettings& settings, std::size_t requests, std::size_t retries) {
  const double window_seconds = std::chrono::duration<double>(settings.window).count();
  const double deposited =
      settings.ratio * static_cast<double>(requests) + settings.min_per_second * window_seconds;
  // The epsilon keeps products such as 0.29 * 100 = 28.999999999999996 from losing a whole retry.
  return static_cast<std::int64_t>(std::floor(deposited + 1e-9)) - static_cast<std::int64_t>(retries);
}

}  // namespace

void RetryBudget::expire(TimePoint now) const {
  const auto drop_old = [&](std::deque<TimePoint>& entries) {
    while (!entries.empty() && entries.front() + settings_.window <= now) entries.pop_front();
  };
  drop_old(requests_);
  drop_old(retries_);
}

void RetryBudget::on_request(TimePoint now) {
  std::lock_guard lock(mutex_);
  expire(now);
  requests_.push_back(now);
}

bool RetryBudget::try_retry(TimePoint now) {
  std::lock_guard lock(mutex_);
  expire(now);
  if (allowed_retries(settings_, requests_.size(), retries_.size()) < 1) return false;
  retries_.push_back(now);
  return true;
}

std::int64_t RetryBudget::available(TimePoint now) const {
  std::lock_guard lock(mutex_);
  expire(now);
  return std::max<std::int64_t>(0, allowed_retries(settings_, requests_.size(), retries_.size()));
}

}  // namespace mercato::resilience
