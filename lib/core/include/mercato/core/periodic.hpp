// A task run on its own thread every `interval` until the object is destroyed (housekeeping: purging
// what has expired, applying deadlines, watching a file). The first run is one interval after
// construction, or at once with Periodic::kRunAtStart; destruction wakes the thread and waits for a run
// in progress to end, so the task may use whatever outlives this object. The interval may instead be a
// function, asked before each wait, for a period that follows something that changes (the gateway's
// watcher ticks as often as the traffic policy in force asks).
//
//   core::Periodic purge(std::chrono::hours(1), [&] { (void)repository.purge_refresh_tokens(now_utc()); });
//   core::Periodic watch([&] { return policy.current()->tick(); }, [&] { check(); });
//
// What it is not for: a loop that must also wake on a notification (the outbox relay wakes on commits)
// or that blocks in a library call between turns (a broker fetch) — those keep their own thread.
//
// Thread-safety: construct and destroy from one thread; the task and the interval function run on the
// worker thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace mercato::core {

class Periodic {
 public:
  enum Start { kAfterInterval, kRunAtStart };
  Periodic(std::chrono::milliseconds interval, std::function<void()> task, Start start = kAfterInterval)
      : Periodic([interval] { return interval; }, std::move(task), start) {}
  // `interval()` is asked before each wait: a new value applies from the next wait on.
  Periodic(std::function<std::chrono::milliseconds()> interval, std::function<void()> task,
           Start start = kAfterInterval)
      : interval_(std::move(interval)), task_(std::move(task)), start_(start), thread_([this] { run(); }) {}
  ~Periodic() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  void run() {
    if (start_ == kRunAtStart) task_();
    for (;;) {
      auto wait = interval_();  // outside the lock: it may take locks of its own
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
      lock.unlock();
      task_();
    }
  }

  std::function<std::chrono::milliseconds()> interval_;
  std::function<void()> task_;
  Start start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: starts once the members above exist
};

}  // namespace mercato::core
