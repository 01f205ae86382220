// Client-side load balancing over an upstream's instances: round robin, or power-of-two-choices least
// request (pick two available instances at random, send to the one with fewer calls in flight). Both
// skip instances that are not available (ejected by outlier detection); when none is, pick() says so.
//
// The caller tells the balancer when a call starts and ends (least request needs the counts):
//   auto i = lb.pick(available);  if (!i) → 503;  lb.started(*i); ...call...; lb.finished(*i);
//
// Thread-safety: thread-safe (atomics).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace mercato::resilience {

enum class Balancing { kRoundRobin, kLeastRequest };
std::string_view to_string(Balancing balancing) noexcept;
std::optional<Balancing> parse_balancing(std::string_view text) noexcept;  // round_robin | least_request

class LoadBalancer {
 public:
  LoadBalancer(Balancing balancing, std::size_t instances, std::uint64_t seed = 0x6d657263);

  // An available instance (available[i] true), or nullopt when none is. `available` has size() entries.
  std::optional<std::size_t> pick(const std::vector<bool>& available);
  void started(std::size_t instance) noexcept;
  void finished(std::size_t instance) noexcept;
  std::int64_t in_flight(std::size_t instance) const noexcept;
  std::size_t size() const noexcept { return size_; }

 private:
  Balancing balancing_;
  std::size_t size_;
  std::vector<std::atomic<std::int64_t>> in_flight_;  // size_ entries, never resized
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::uint64_t> rng_state_;
};

}  // namespace mercato::resilience
