// Keeps the order read models current (CQRS, ADR 0015): a thread of its own applies the stream events
// after each projection's position, woken by every commit that appends to the outbox in this process
// (events::outbox_signal) and at least every `poll` (another instance sharing a PostgreSQL database
// commits where no signal reaches). A round begins at least `delay` after the last one began, so that
// under load one round (one transaction) applies the events of many commits rather than each commit
// waking a round of its own. Rebuilds run on a thread of their own, one per projection at a time,
// while the live projector goes on.
//
// Its own thread rather than a core::Periodic: it must wake on a notification, not only on a period.
//
// Thread-safety: thread-safe; destruction stops and joins both threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "app/ports.hpp"

namespace mercato::order {

class Projector {
 public:
  // `poll` nullopt: no live projector here (queries read what other instances project); rebuilds still
  // run here when asked. `delay`: the least time between the starts of two rounds (0: none).
  Projector(OrderReadModels& models, std::optional<std::chrono::milliseconds> poll,
            std::chrono::milliseconds delay, std::function<void(const Error&)> on_error);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Starts rebuilding `projection` in the background; kNotFound for an unknown name, kConflict while a
  // rebuild of it runs. Its progress shows in OrderReadModels::status().
  Result<void> start_rebuild(const std::string& projection);

 private:
  void run();

  OrderReadModels& models_;
  // Waits until `until` or stop, whichever is first.
  void pause_until(std::chrono::steady_clock::time_point until);

  std::chrono::milliseconds poll_{0};
  std::chrono::milliseconds delay_{0};
  std::function<void(const Error&)> on_error_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mutex_
  struct Rebuild {
    std::shared_ptr<std::atomic<bool>> running;
    std::jthread thread;
  };
  std::mutex rebuilds_mutex_;
  std::map<std::string, Rebuild> rebuilds_;  // guarded by rebuilds_mutex_
  std::jthread thread_;
};

}  // namespace mercato::order
