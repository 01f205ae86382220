// Work that blocks — hashing a password (tens of milliseconds by design), a synchronous driver call —
// run on a few threads of its own instead of the I/O thread that took the request, which would stall
// every other connection on that thread meanwhile. Bounded: when `max_waiting` calls are already queued
// or running, run() refuses at once (the caller answers 503 with Retry-After), so a flood of logins
// cannot build an unbounded queue.
//
//   service::BlockingPool pool({.threads = 2, .max_waiting = 64});
//   auto outcome = co_await pool.run([&] { return auth.login(email, password, client); });
//   if (!outcome) co_return busy_response();          // nullopt: refused, nothing ran
//
// The coroutine resumes on its own executor (its I/O thread) once the work is done.
//
// Group commit (settings.group): a storage pool over a database that commits one transaction at a time
// (SQLite's one connection) can run the calls that queued up meanwhile as one group — a pool thread
// takes up to max_group queued calls and runs them inside group(...) (sql::Database::group: each call's
// transaction a savepoint, one commit for all). A caller resumes only after the group's commit, so
// what it answers was kept; if that commit fails, every call of the group gets nullopt (nothing of
// theirs was kept: answer as for a full pool, 503 with Retry-After). A lone queued call runs alone.
// Thread-safety: run() may be called from every I/O thread at once.
#pragma once

#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/http/message.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::service {

struct BlockingPoolSettings {
  std::size_t threads = 2;
  std::size_t max_waiting = 64;  // queued or running
  // Group commit (the top comment): runs its argument inside one transaction and says whether that
  // transaction was kept; empty: every call runs alone. lib/storage sets it for SQLite.
  std::function<Result<void>(const std::function<void()>&)> group;
  std::size_t max_group = 64;  // calls in one group, at most
  Result<void> validate() const;
};

class BlockingPool {
 public:
  explicit BlockingPool(BlockingPoolSettings settings);
  // Runs what is queued, then joins the threads.
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Before the first run(): `waiting` follows waiting() (calls queued or running) and `refused` counts
  // the calls refused because the pool was full; both must outlive the pool (a Registry's do).
  void meter(obs::Gauge& waiting, obs::Counter& refused) {
    waiting_gauge_ = &waiting;
    refused_counter_ = &refused;
  }

  // fn() on a pool thread; nullopt, without running it, when max_waiting calls are in the pool, and
  // nullopt when it ran in a group whose commit failed. An exception from fn() reaches the caller.
  template <typename F>
  boost::asio::awaitable<std::optional<std::invoke_result_t<F&>>> run(F fn) {
    using T = std::invoke_result_t<F&>;
    if (waiting_.fetch_add(1, std::memory_order_relaxed) >= settings_.max_waiting) {
      waiting_.fetch_sub(1, std::memory_order_relaxed);
      if (refused_counter_ != nullptr) refused_counter_->inc();
      co_return std::nullopt;
    }
    if (waiting_gauge_ != nullptr) waiting_gauge_->add(1);
    struct Release {
      std::atomic<std::size_t>& waiting;
      obs::Gauge* gauge;
      ~Release() {
        waiting.fetch_sub(1, std::memory_order_relaxed);
        if (gauge != nullptr) gauge->add(-1);
      }
    } release{waiting_, waiting_gauge_};
    // The result is built in place (emplace): a temporary optional moved into the coroutine's return
    // slot makes GCC 12 warn that a Result's Error may be used uninitialized (a false positive).
    // `work` refers to this frame, which stays suspended until the call is done.
    std::optional<T> out;
    std::exception_ptr thrown;
    bool kept = co_await submit([&fn, &out, &thrown] {
      try {
        out.emplace(fn());
      } catch (...) {
        thrown = std::current_exception();
      }
    });
    if (thrown) std::rethrow_exception(thrown);
    if (!kept) co_return std::nullopt;
    co_return out;
  }

  // Before the first run(): `groups` counts the groups run as one transaction, `grouped` the calls in
  // them (a call run alone counts in neither).
  void meter_groups(obs::Counter& groups, obs::Counter& grouped) {
    groups_counter_ = &groups;
    grouped_counter_ = &grouped;
  }

  std::size_t waiting() const noexcept { return waiting_.load(std::memory_order_relaxed); }
  std::size_t max_waiting() const noexcept { return settings_.max_waiting; }

 private:
  struct Call {
    std::function<void()> work;      // never throws
    std::function<void(bool)> done;  // kept or not; resumes the caller on its own executor
  };
  // Queues `work`; the awaitable completes with whether it was kept.
  boost::asio::awaitable<bool> submit(std::function<void()> work);
  void enqueue(Call call);
  void serve();

  BlockingPoolSettings settings_;
  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<Call> queue_;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> waiting_{0};
  obs::Gauge* waiting_gauge_ = nullptr;
  obs::Counter* refused_counter_ = nullptr;
  obs::Counter* groups_counter_ = nullptr;
  obs::Counter* grouped_counter_ = nullptr;
};

// fn() on `pool` when there is one, else at once on the calling thread: the storage part of an
// asynchronous handler (Context::storage_pool, service.hpp). nullopt: the pool is full and nothing
// ran, or it ran in a group whose commit failed and nothing was kept — answer storage_busy(req), or
// storage_saturated() where the answer is not HTTP's.
template <typename F>
boost::asio::awaitable<std::optional<std::invoke_result_t<F&>>> run_on_storage(BlockingPool* pool, F fn) {
  using T = std::invoke_result_t<F&>;
  // Built in place, as in run() (a GCC 12 false positive otherwise).
  std::optional<T> out;
  if (pool == nullptr) {
    out.emplace(fn());
  } else if (auto ran = co_await pool->run(std::move(fn)); ran) {
    out.emplace(std::move(*ran));
  }
  co_return out;
}

// The refusal of a full storage pool (kUnavailable, a message fit for clients): database.max_waiting
// calls were in it already, or the call's group was not committed.
Error storage_saturated();
// storage_saturated() as a 503 with Retry-After: 1.
http::Response storage_busy(const http::Request& req);

}  // namespace mercato::service
