// Token buckets per key (a client identity, a route): `rate` tokens per second up to `burst`; a request
// takes one token or is refused with how long until one is there (the Retry-After of a 429).
//
// Memory is bounded: at most `max_keys` buckets; when full, buckets that have refilled completely (they
// hold no information) are dropped first, then the least recently used.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mercato/core/result.hpp"
#include "mercato/resilience/circuit_breaker.hpp"  // TimePoint

namespace mercato::resilience {

struct RateLimitSettings {
  double rate = 100;   // tokens per second, > 0
  double burst = 100;  // bucket size, >= 1
  std::size_t max_keys = 100000;

  Result<void> validate() const;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimitSettings settings);

  struct Decision {
    bool allowed = true;
    std::chrono::milliseconds retry_after{0};  // when refused: until the next token (rounded up, >= 1 ms)
  };
  Decision take(std::string_view key, TimePoint now);
  // What take() would decide now, without taking a token or creating a bucket: for limits that count
  // only some outcomes (failed logins), checked before the attempt and taken after a failure.
  Decision check(std::string_view key, TimePoint now) const;
  std::size_t keys() const;

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated{};
    std::list<std::string>::iterator lru;
  };

  RateLimitSettings settings_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> lru_;  // front = most recently used
};

}  // namespace mercato::resilience
