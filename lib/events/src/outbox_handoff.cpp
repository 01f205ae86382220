// The outbox signal and the hand-off from a commit to its relay (store.hpp, outbox_handoff.hpp): here
// in the bus's layer, with no SQL, so that every store (lib/sql's, the inventory's Redis one) and the
// relay share them.
#include "outbox_handoff.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "mercato/events/store.hpp"

namespace mercato::events {

namespace outbox_signal {
namespace {
struct Signal {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t current = 0;  // guarded by mutex
  // The hand-off (outbox_handoff.hpp), guarded by mutex; `claimed` is read without it first.
  std::atomic<bool> claimed{false};
  std::size_t capacity = 0;
  std::deque<handoff::Fresh> fresh;
  bool lost = false;
};
// Never erased, so a Signal& stays valid without the registry's lock.
Signal& signal(const void* key) {
  static std::mutex registry_mutex;
  static std::unordered_map<const void*, std::unique_ptr<Signal>> registry;
  std::lock_guard lock(registry_mutex);
  auto& slot = registry[key];
  if (!slot) slot = std::make_unique<Signal>();
  return *slot;
}
}  // namespace

void raise(const void* key) noexcept {
  auto& s = signal(key);
  {
    std::lock_guard lock(s.mutex);
    ++s.current;
    // A wake-up without a hand-off (a store that hands nothing over, a writer that began before the
    // relay claimed the key): the relay must read the table.
    if (s.claimed) s.lost = true;
  }
  s.changed.notify_all();
}

std::uint64_t generation(const void* key) noexcept {
  auto& s = signal(key);
  std::lock_guard lock(s.mutex);
  return s.current;
}

bool wait(const void* key, std::uint64_t& seen, std::chrono::milliseconds timeout) {
  auto& s = signal(key);
  std::unique_lock lock(s.mutex);
  bool raised = s.changed.wait_for(lock, timeout, [&] { return s.current != seen; });
  seen = s.current;
  return raised;
}
}  // namespace outbox_signal

namespace handoff {

bool claimed(const void* key) noexcept { return outbox_signal::signal(key).claimed.load(); }

void committed(const void* key, std::vector<Fresh> events) noexcept {
  auto& s = outbox_signal::signal(key);
  {
    std::lock_guard lock(s.mutex);
    ++s.current;
    if (s.claimed && !events.empty()) {
      if (s.fresh.size() + events.size() > s.capacity) {
        s.fresh.clear();
        s.lost = true;
      } else {
        try {
          for (auto& e : events) s.fresh.push_back(std::move(e));
        } catch (...) {  // out of memory: the rows are still in the table
          s.fresh.clear();
          s.lost = true;
        }
      }
    }
  }
  s.changed.notify_all();
}

bool claim(const void* key, std::size_t capacity) {
  auto& s = outbox_signal::signal(key);
  std::lock_guard lock(s.mutex);
  if (s.claimed) return false;
  s.claimed = true;
  s.capacity = capacity;
  s.fresh.clear();
  s.lost = false;
  return true;
}

void release(const void* key) noexcept {
  auto& s = outbox_signal::signal(key);
  std::lock_guard lock(s.mutex);
  s.claimed = false;
  s.fresh.clear();
  s.fresh.shrink_to_fit();
}

Taken take(const void* key, std::size_t limit) {
  auto& s = outbox_signal::signal(key);
  std::lock_guard lock(s.mutex);
  Taken out;
  out.lost = std::exchange(s.lost, false);
  auto n = std::min(limit, s.fresh.size());
  out.events.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.events.push_back(std::move(s.fresh.front()));
    s.fresh.pop_front();
  }
  return out;
}

void clear(const void* key) noexcept {
  auto& s = outbox_signal::signal(key);
  std::lock_guard lock(s.mutex);
  s.fresh.clear();
  s.lost = false;
}

void forget(const void* key, std::span<const std::int64_t> seqs) {
  auto& s = outbox_signal::signal(key);
  std::lock_guard lock(s.mutex);
  if (s.fresh.empty()) return;
  std::unordered_set<std::int64_t> sent(seqs.begin(), seqs.end());
  std::erase_if(s.fresh, [&](const Fresh& f) { return sent.contains(f.seq); });
}

}  // namespace handoff

}  // namespace mercato::events
