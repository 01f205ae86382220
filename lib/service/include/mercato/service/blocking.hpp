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
// Thread-safety: run() may be called from every I/O thread at once.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <optional>
#include <type_traits>

#include "mercato/core/result.hpp"
#include "mercato/http/message.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::service {

struct BlockingPoolSettings {
  std::size_t threads = 2;
  std::size_t max_waiting = 64;  // queued or running
  Result<void> validate() const;
};

class BlockingPool {
 public:
  explicit BlockingPool(BlockingPoolSettings settings) : settings_(settings), pool_(settings.threads) {}
  ~BlockingPool() { pool_.join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Before the first run(): `waiting` follows waiting() (calls queued or running) and `refused` counts
  // the calls refused because the pool was full; both must outlive the pool (a Registry's do).
  void meter(obs::Gauge& waiting, obs::Counter& refused) {
    waiting_gauge_ = &waiting;
    refused_counter_ = &refused;
  }

  // fn() on a pool thread; nullopt, without running it, when max_waiting calls are in the pool.
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
    co_return co_await boost::asio::co_spawn(
        pool_,
        [&fn]() -> boost::asio::awaitable<std::optional<T>> {
          std::optional<T> out;
          out.emplace(fn());
          co_return out;
        },
        boost::asio::use_awaitable);
  }

  std::size_t waiting() const noexcept { return waiting_.load(std::memory_order_relaxed); }
  std::size_t max_waiting() const noexcept { return settings_.max_waiting; }

 private:
  BlockingPoolSettings settings_;
  boost::asio::thread_pool pool_;
  std::atomic<std::size_t> waiting_{0};
  obs::Gauge* waiting_gauge_ = nullptr;
  obs::Counter* refused_counter_ = nullptr;
};

// fn() on `pool` when there is one, else at once on the calling thread: the storage part of an
// asynchronous handler (Context::storage_pool, service.hpp). nullopt: the pool is full, nothing ran —
// answer storage_busy(req), or storage_saturated() where the answer is not HTTP's.
template <typename F>
boost::asio::awaitable<std::optional<std::invoke_result_t<F&>>> run_on_storage(BlockingPool* pool, F fn) {
  using T = std::invoke_result_t<F&>;
  if (pool == nullptr) co_return std::optional<T>(fn());
  co_return co_await pool->run(std::move(fn));
}

// The refusal of a full storage pool (kUnavailable, a message fit for clients): database.max_waiting
// calls were in it already.
Error storage_saturated();
// storage_saturated() as a 503 with Retry-After: 1.
http::Response storage_busy(const http::Request& req);

}  // namespace mercato::service
