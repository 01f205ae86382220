#include "mercato/resilience/bulkhead.hpp"

#include <algorithm>
#include <utility>

namespace mercato::resilience {

Result<void> BulkheadSettings::validate() const {
  if (max_concurrent < 1) return Error::validation("max_concurrent", "max_concurrent must be >= 1");
  if (max_pending < 0) return Error::validation("max_pending", "max_pending must be >= 0");
  return {};
}

Bulkhead::Bulkhead(BulkheadSettings settings) : settings_(settings) {}

Bulkhead::Ticket Bulkhead::enter(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (running_ < settings_.max_concurrent) {
    ++running_;
    return Ticket{Admission::kRun, 0};
  }
  if (waiters_.size() < static_cast<std::size_t>(settings_.max_pending)) {
    const std::uint64_t id = next_id_++;
    waiters_.push_back(Waiter{id, std::move(wake)});
    return Ticket{Admission::kQueued, id};
  }
  return Ticket{Admission::kRefused, 0};
}

bool Bulkhead::try_run() {
  std::lock_guard lock(mutex_);
  // Waiters go first: a free slot with waiters is about to be handed to one of them by leave().
  if (running_ >= settings_.max_concurrent || !waiters_.empty()) return false;
  ++running_;
  return true;
}

void Bulkhead::leave() {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    if (waiters_.empty()) {
      if (running_ > 0) --running_;
      return;
    }
    // The slot passes straight to the waiter, so `running_` does not change: a newcomer cannot take it
    // in between and starve the queue.
    wake = std::move(waiters_.front().wake);
    waiters_.pop_front();
  }
  // Unlocked: the waiter may well call back into the bulkhead (leave, enter) from its wake-up.
  if (wake) wake();
}

bool Bulkhead::abandon(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(), [id](const Waiter& w) { return w.id == id; });
  if (it == waiters_.end()) return false;
  waiters_.erase(it);
  return true;
}

int Bulkhead::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

int Bulkhead::pending() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(waiters_.size());
}

}  // namespace mercato::resilience
