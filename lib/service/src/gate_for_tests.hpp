// A gate the storage pool's tests hold their calls at: a handler or a call that blocks until released,
// as a query waits for a lock. Test-only (storage_pool_test, blocking_test).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace mercato::service {

class Gate {
 public:
  // Blocks until open() (counted as a waiter meanwhile).
  void wait() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  // Whether `n` callers reached wait() within `timeout`.
  bool wait_for_waiters(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return waiting_ >= n; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
};

}  // namespace mercato::service
