#include "mercato/resilience/load_balancer.hpp"

#include <algorithm>

#include "mercato/core/enum_names.hpp"

namespace mercato::resilience {

namespace {
constexpr auto kBalancingNames = enum_names<Balancing>(
    {{Balancing::kRoundRobin, "round_robin"}, {Balancing::kLeastRequest, "least_request"}});
}  // namespace

std::string_view to_string(Balancing balancing) noexcept {
  return kBalancingNames.name(balancing, "round_robin");
}

std::optional<Balancing> parse_balancing(std::string_view text) noexcept {
  return kBalancingNames.parse(text);
}

LoadBalancer::LoadBalancer(Balancing balancing, std::size_t instances, std::uint64_t seed)
    : balancing_(balancing), size_(instances), in_flight_(instances), rng_state_(seed) {}

namespace {

// splitmix64 over an atomically advanced state: lock-free, and every caller gets a distinct draw.
std::uint64_t next_random(std::atomic<std::uint64_t>& state) noexcept {
  constexpr std::uint64_t kGamma = 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state.fetch_add(kGamma, std::memory_order_relaxed) + kGamma;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The index of the `nth` (from 0) available instance; `nth` is below the number available.
std::size_t nth_available(const std::vector<bool>& available, std::size_t count, std::size_t nth) {
  for (std::size_t i = 0; i < count; ++i) {
    if (!available[i]) continue;
    if (nth == 0) return i;
    --nth;
  }
  return count;  // unreachable for a valid `nth`
}

}  // namespace

std::optional<std::size_t> LoadBalancer::pick(const std::vector<bool>& available) {
  const std::size_t count = std::min(size_, available.size());
  const auto usable = static_cast<std::size_t>(
      std::count(available.begin(), available.begin() + static_cast<std::ptrdiff_t>(count), true));
  if (usable == 0) return std::nullopt;
  if (usable == 1) return nth_available(available, count, 0);

  if (balancing_ == Balancing::kRoundRobin) {
    // Counting over the available instances only (rather than stepping to the next available one)
    // keeps the split even: an instance after an ejected one does not get the ejected one's share.
    const std::uint64_t turn = next_.fetch_add(1, std::memory_order_relaxed);
    return nth_available(available, count, static_cast<std::size_t>(turn % usable));
  }

  const auto first = static_cast<std::size_t>(next_random(rng_state_) % usable);
  auto second = static_cast<std::size_t>(next_random(rng_state_) % (usable - 1));
  if (second >= first) ++second;  // two distinct instances, each pair equally likely
  const std::size_t a = nth_available(available, count, first);
  const std::size_t b = nth_available(available, count, second);
  return in_flight(b) < in_flight(a) ? b : a;
}

void LoadBalancer::started(std::size_t instance) noexcept {
  if (instance < size_) in_flight_[instance].fetch_add(1, std::memory_order_relaxed);
}

void LoadBalancer::finished(std::size_t instance) noexcept {
  if (instance < size_) in_flight_[instance].fetch_sub(1, std::memory_order_relaxed);
}

std::int64_t LoadBalancer::in_flight(std::size_t instance) const noexcept {
  return instance < size_ ? in_flight_[instance].load(std::memory_order_relaxed) : 0;
}

}  // namespace mercato::resilience
