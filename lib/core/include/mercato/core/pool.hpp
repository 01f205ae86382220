// A fixed set of connections lent to one caller at a time, the shape every storage driver shares
// (lib/sqlite, lib/postgres, lib/redis): a caller waits while all are out, and gets one back when a
// lease ends. `on_borrow` repairs what an earlier user broke (a lost server connection); `on_return`
// cleans up what a user left (an open transaction), so it never leaks to the next one.
//
//   core::Pool<Connection> pool({}, [](Connection& c) { c.rollback(); });
//   pool.add(std::make_unique<Connection>(...));
//   {
//     auto lease = pool.borrow();
//     lease->query("...");
//   }  // back in the pool
//
// Tested through the drivers' tests. Thread-safety: thread-safe; a lease belongs to one thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace mercato::core {

template <typename T>
class Pool {
 public:
  using Hook = std::function<void(T&)>;

  explicit Pool(Hook on_borrow = {}, Hook on_return = {})
      : on_borrow_(std::move(on_borrow)), on_return_(std::move(on_return)) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool& pool, T& item) : pool_(pool), item_(item) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(item_); }
    T& operator*() const noexcept { return item_; }
    T* operator->() const noexcept { return &item_; }

   private:
    Pool& pool_;
    T& item_;
  };

  // Start-up only (before any borrow).
  void add(std::unique_ptr<T> item) {
    free_.push_back(item.get());
    all_.push_back(std::move(item));
  }

  // Waits for a free item.
  Lease borrow() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !free_.empty(); });
    T* item = free_.back();
    free_.pop_back();
    lock.unlock();
    if (on_borrow_) on_borrow_(*item);
    return Lease(*this, *item);
  }

 private:
  void give_back(T& item) {
    if (on_return_) on_return_(item);
    {
      std::lock_guard lock(mutex_);
      free_.push_back(&item);
    }
    available_.notify_one();
  }

  Hook on_borrow_;
  Hook on_return_;
  std::vector<std::unique_ptr<T>> all_;  // written at start-up only
  std::vector<T*> free_;                 // guarded by mutex_
  std::mutex mutex_;
  std::condition_variable available_;
};

}  // namespace mercato::core
