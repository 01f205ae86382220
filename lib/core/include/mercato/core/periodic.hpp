// A task run on its own thread every `interval` until the object is destroyed (housekeeping: purging
// what has expired, applying deadlines). The first run is one interval after construction, or at once
// with Periodic::kRunAtStart; destruction wakes the thread and waits for a run in progress to end, so
// the task may use whatever outlives this object.
//
//   core::Periodic purge(std::chrono::hours(1), [&] { (void)repository.purge_refresh_tokens(now_utc()); });
//
// Thread-safety: construct and destroy from one thread; the task runs on the worker thread only.
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
      : interval_(interval), task_(std::move(task)), start_(start), thread_([this] { run(); }) {}
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
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      task_();
      lock.lock();
    }
  }

  std::chrono::milliseconds interval_;
  std::function<void()> task_;
  Start start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: starts once the members above exist
};

}  // namespace mercato::core
