#include "app/projector.hpp"

#include <algorithm>

#include "mercato/events/store.hpp"

namespace mercato::order {
namespace {

// Events per projection and transaction: large enough to amortise a commit, small enough that the
// write lock (SQLite) is never held long.
constexpr std::size_t kBatch = 500;

}  // namespace

Projector::Projector(OrderReadModels& models, std::optional<std::chrono::milliseconds> poll,
                     std::chrono::milliseconds delay, std::function<void(const Error&)> on_error)
    : models_(models), delay_(delay), on_error_(std::move(on_error)) {
  if (!poll) return;
  poll_ = *poll;
  thread_ = std::jthread([this] { run(); });
}

Projector::~Projector() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  events::outbox_signal::raise(models_.change_signal());  // wakes the loop now, not at its next poll
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(rebuilds_mutex_);
  rebuilds_.clear();  // joins each (a rebuild runs to its end: it never leaves a half switch)
}

void Projector::pause_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(stop_mutex_);
  stop_cv_.wait_until(lock, until, [this] { return stopping_; });
}

void Projector::run() {
  const void* signal = models_.change_signal();
  auto seen = events::outbox_signal::generation(signal);
  auto backoff = std::chrono::milliseconds(0);
  for (;;) {
    {
      std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
    }
    auto began = std::chrono::steady_clock::now();
    auto applied = models_.catch_up(kBatch);
    if (!applied) {
      if (on_error_) on_error_(applied.error());
      backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds(50)), poll_);
      events::outbox_signal::wait(signal, seen, backoff);
      continue;
    }
    backoff = std::chrono::milliseconds(0);
    if (*applied >= kBatch) continue;  // a full batch: more is waiting
    events::outbox_signal::wait(signal, seen, poll_);
    // The commits of the next `delay` join this wake-up's round.
    if (delay_.count() > 0) pause_until(began + delay_);
  }
}

Result<void> Projector::start_rebuild(const std::string& projection) {
  if (!OrderReadModels::is_projection(projection)) return OrderReadModels::unknown_projection(projection);
  std::lock_guard lock(rebuilds_mutex_);
  auto& rebuild = rebuilds_[projection];
  if (rebuild.running && *rebuild.running) return Error::conflict(projection + " is being rebuilt already");
  if (rebuild.thread.joinable()) rebuild.thread.join();  // the last one, finished
  rebuild.running = std::make_shared<std::atomic<bool>>(true);
  rebuild.thread = std::jthread([this, projection, running = rebuild.running] {
    auto r = models_.rebuild(projection);
    if (!r && on_error_) on_error_(r.error());
    *running = false;
  });
  return {};
}

}  // namespace mercato::order
