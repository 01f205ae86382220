#include "mercato/resilience/circuit_breaker.hpp"

#include <utility>

#include "mercato/core/enum_names.hpp"

namespace mercato::resilience {

namespace {
constexpr auto kBreakerStateNames = enum_names<BreakerState>({{BreakerState::kClosed, "closed"},
                                                              {BreakerState::kOpen, "open"},
                                                              {BreakerState::kHalfOpen, "half_open"}});
}  // namespace

std::string_view to_string(BreakerState state) noexcept { return kBreakerStateNames.name(state, "closed"); }

Result<void> BreakerSettings::validate() const {
  if (failure_threshold < 1) return Error::validation("failure_threshold", "failure_threshold must be >= 1");
  // Written as a negated range test so that NaN is rejected too.
  if (!(failure_rate_threshold > 0 && failure_rate_threshold <= 1)) {
    return Error::validation("failure_rate_threshold", "failure_rate_threshold must be in (0, 1]");
  }
  if (window_size < 1) return Error::validation("window_size", "window_size must be >= 1");
  if (minimum_calls < 1 || minimum_calls > window_size) {
    return Error::validation("minimum_calls", "minimum_calls must be in [1, window_size]");
  }
  if (recovery_timeout.count() <= 0) {
    return Error::validation("recovery_timeout", "recovery_timeout must be positive");
  }
  if (success_threshold < 1) return Error::validation("success_threshold", "success_threshold must be >= 1");
  if (half_open_max_calls < 1) {
    return Error::validation("half_open_max_calls", "half_open_max_calls must be >= 1");
  }
  return {};
}

CircuitBreaker::CircuitBreaker(BreakerSettings settings, Listener on_transition)
    : settings_(settings), on_transition_(std::move(on_transition)) {}

bool CircuitBreaker::try_acquire(TimePoint now) {
  std::function<void()> notify;
  bool allowed = false;
  {
    std::lock_guard lock(mutex_);
    if (state_ == BreakerState::kOpen && now >= opened_at_ + settings_.recovery_timeout) {
      transition(BreakerState::kHalfOpen, now, notify);
    }
    switch (state_) {
      case BreakerState::kClosed:
        allowed = true;
        break;
      case BreakerState::kOpen:
        allowed = false;
        break;
      case BreakerState::kHalfOpen:
        allowed = half_open_in_flight_ < settings_.half_open_max_calls;
        if (allowed) ++half_open_in_flight_;
        break;
    }
  }
  if (notify) notify();
  return allowed;
}

void CircuitBreaker::on_success(TimePoint now) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    record(false, now, notify);
  }
  if (notify) notify();
}

void CircuitBreaker::on_failure(TimePoint now) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    record(true, now, notify);
  }
  if (notify) notify();
}

BreakerSettings CircuitBreaker::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

void CircuitBreaker::set_settings(const BreakerSettings& settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
}

void CircuitBreaker::reset(TimePoint now) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    transition(BreakerState::kClosed, now, notify);
    consecutive_failures_ = 0;  // transition() clears them only when the state changes
    window_.clear();
    window_failures_ = 0;
  }
  if (notify) notify();
}

void CircuitBreaker::on_ignored() {
  std::lock_guard lock(mutex_);
  if (state_ == BreakerState::kHalfOpen && half_open_in_flight_ > 0) --half_open_in_flight_;
}

BreakerState CircuitBreaker::state(TimePoint now) const {
  std::lock_guard lock(mutex_);
  // Reading must not change anything: the half-open transition (and its notification) happens in
  // try_acquire, where a trial call can actually be let through.
  if (state_ == BreakerState::kOpen && now >= opened_at_ + settings_.recovery_timeout) {
    return BreakerState::kHalfOpen;
  }
  return state_;
}

std::chrono::milliseconds CircuitBreaker::retry_after(TimePoint now) const {
  std::lock_guard lock(mutex_);
  if (state_ != BreakerState::kOpen) return std::chrono::milliseconds{0};
  const TimePoint reopens = opened_at_ + settings_.recovery_timeout;
  if (now >= reopens) return std::chrono::milliseconds{0};
  // Rounded up: a Retry-After that is a hair too short only earns the client another refusal.
  return std::chrono::ceil<std::chrono::milliseconds>(reopens - now);
}

void CircuitBreaker::transition(BreakerState to, TimePoint now, std::function<void()>& notify) {
  const BreakerState from = state_;
  if (from == to) return;
  state_ = to;
  if (to == BreakerState::kOpen) opened_at_ = now;
  // Every state starts from a clean slate: counts gathered in the previous state say nothing about the
  // upstream as it is now.
  consecutive_failures_ = 0;
  half_open_in_flight_ = 0;
  half_open_successes_ = 0;
  window_.clear();
  window_failures_ = 0;
  if (on_transition_) {
    notify = [this, previous = std::move(notify), from, to] {
      if (previous) previous();
      on_transition_(from, to);
    };
  }
}

void CircuitBreaker::record(bool failure, TimePoint now, std::function<void()>& notify) {
  switch (state_) {
    case BreakerState::kOpen:
      // A call let through while closed that ended after the breaker opened: the breaker has already
      // decided, and counting it would only skew the next state's counters.
      return;

    case BreakerState::kHalfOpen:
      // With no trial in flight the outcome can only belong to a call started before the breaker
      // opened; it says nothing about the trial.
      if (half_open_in_flight_ == 0) return;
      --half_open_in_flight_;
      if (failure) {
        transition(BreakerState::kOpen, now, notify);
      } else if (++half_open_successes_ >= settings_.success_threshold) {
        transition(BreakerState::kClosed, now, notify);
      }
      return;

    case BreakerState::kClosed:
      break;
  }

  if (settings_.mode == BreakerSettings::Mode::kConsecutive) {
    consecutive_failures_ = failure ? consecutive_failures_ + 1 : 0;
    if (consecutive_failures_ >= settings_.failure_threshold) transition(BreakerState::kOpen, now, notify);
    return;
  }

  window_.push_back(failure);
  if (failure) ++window_failures_;
  while (window_.size() > static_cast<std::size_t>(settings_.window_size)) {
    if (window_.front()) --window_failures_;
    window_.pop_front();
  }
  const auto calls = static_cast<int>(window_.size());
  if (calls < settings_.minimum_calls) return;
  const double failure_rate = static_cast<double>(window_failures_) / calls;
  if (failure_rate >= settings_.failure_rate_threshold) transition(BreakerState::kOpen, now, notify);
}

}  // namespace mercato::resilience
