// A gate tests hold a call at: a handler, a publish or a storage call that blocks until the test opens
// it, as a query waits for a lock, so the test can look at everything else meanwhile.
//
//   testing::Gate gate;
//   pool.submit([&] { gate.wait(); ... });
//   ASSERT_TRUE(gate.wait_for_waiters(1, 5s));   // the call is held now
//   gate.open();                                   // and every later wait() passes at once
//
// Thread-safety: every member is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace mercato::testing {

class Gate {
 public:
  // Blocks until open(), counted as a waiter meanwhile; false if `timeout` passed first (bounded, so a
  // test that never opens fails instead of hanging).
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    return changed_.wait_for(lock, timeout, [this] { return open_; });
  }
  // Whether `n` callers reached wait() within `timeout` (those that passed an open gate count too).
  bool wait_for_waiters(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return waiting_ >= n; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;    // guarded by mutex_
  bool open_ = false;  // guarded by mutex_
};

}  // namespace mercato::testing
