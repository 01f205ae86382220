// Keeps the order read models current (CQRS, ADR 0015): a thread of its own applies the stream events
// after each projection's position, woken by every commit that appends to the outbox in this process
// (events::outbox_signal) and at least every `poll` (another instance sharing a PostgreSQL database
// commits where no signal reaches). Rebuilds run on a thread of their own, one per projection at a
// time, while the live projector goes on.
//
// Its own thread rather than a core::Periodic: it must wake on a notification, not only on a period.
//
// Thread-safety: thread-safe; destruction stops and joins both threads.
#pragma once

#include <atomic>
#include <chrono>
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
  // run here when asked.
  Projector(OrderReadModels& models, std::optional<std::chrono::milliseconds> poll,
            std::function<void(const Error&)> on_error);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Starts rebuilding `projection` in the background; kNotFound for an unknown name, kConflict while a
  // rebuild of it runs. Its progress shows in OrderReadModels::status().
  Result<void> start_rebuild(const std::string& projection);

 private:
  void run();

  OrderReadModels& models_;
  std::chrono::milliseconds poll_{0};
  std::function<void(const Error&)> on_error_;
  std::atomic<bool> stopping_{false};
  struct Rebuild {
    std::shared_ptr<std::atomic<bool>> running;
    std::jthread thread;
  };
  std::mutex rebuilds_mutex_;
  std::map<std::string, Rebuild> rebuilds_;  // guarded by rebuilds_mutex_
  std::jthread thread_;
};

}  // namespace mercato::order
