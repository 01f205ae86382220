// A bulkhead: at most `max_concurrent` calls to one upstream at once, at most `max_pending` more waiting
// for a slot; beyond that a call is refused at once (503), so one slow upstream cannot take every
// worker. Waiting is the caller's business (asynchronous): enter() says run, wait or refuse, and
// leave() hands the freed slot to the oldest waiter, whose callback then runs.
//
//   auto ticket = bulkhead.enter([&] { wake me (post to my executor) });
//   kRefused → 503 now; kRun → call, then bulkhead.leave(); kQueued → wait for the wake-up (which
//   means "run now, the slot is yours"), or give up with bulkhead.abandon(ticket.id) on a timeout.
//
// Thread-safety: thread-safe. Wake-up callbacks run on the thread calling leave(), with no lock held.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "mercato/core/result.hpp"

namespace mercato::resilience {

struct BulkheadSettings {
  int max_concurrent = 1024;  // >= 1
  int max_pending = 1024;     // >= 0

  Result<void> validate() const;
};

class Bulkhead {
 public:
  explicit Bulkhead(BulkheadSettings settings);

  enum class Admission { kRun, kQueued, kRefused };
  struct Ticket {
    Admission admission = Admission::kRefused;
    std::uint64_t id = 0;  // kQueued: the waiter's id, for abandon()
  };
  // `wake` is called (once) when a queued call gets its slot.
  Ticket enter(std::function<void()> wake);
  // The fast path: takes a free slot if there is one (then leave() it), and queues nothing — so a
  // caller allocates its wake-up only when it must wait.
  bool try_run();
  // A running call ended: its slot goes to the oldest waiter (woken) or back to the pool.
  void leave();
  // A queued call gave up waiting. Returns false if it had been woken already (it then owns a slot and
  // must leave() it).
  bool abandon(std::uint64_t id);

  int running() const;
  int pending() const;
  const BulkheadSettings& settings() const noexcept { return settings_; }

 private:
  struct Waiter {
    std::uint64_t id;
    std::function<void()> wake;
  };
  BulkheadSettings settings_;
  mutable std::mutex mutex_;
  int running_ = 0;
  std::uint64_t next_id_ = 1;
  std::deque<Waiter> waiters_;
};

}  // namespace mercato::resilience
