// Outlier detection as Envoy does it: an instance that answers `consecutive_5xx` server errors in a row
// (or cannot be reached) is ejected — taken out of load balancing — for base_ejection_time × the number
// of times it has been ejected, but never so many that more than `max_ejection_percent` of the instances
// are out. Ejections are lifted by evaluate(), which the owner calls every `interval`.
//
// Small clusters: the cap is floor(instances × max_ejection_percent / 100), but at least one instance
// may be ejected when there are two or more — so in a cluster of two, one bad instance is ejected and
// the other takes all the traffic. The only instance of a cluster of one is never ejected: there would
// be nothing left to send to, and the circuit breaker is the tool that fails such calls fast.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/resilience/circuit_breaker.hpp"  // TimePoint

namespace mercato::resilience {

struct OutlierSettings {
  int consecutive_5xx = 5;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds base_ejection_time{30000};
  int max_ejection_percent = 10;  // 0..100

  Result<void> validate() const;
};

class OutlierDetector {
 public:
  OutlierDetector(OutlierSettings settings, std::size_t instances);

  // The outcome of one call to `instance`: a server error (5xx, or no connection) counts towards its
  // ejection; anything else resets its count. Returns true when this call ejected it.
  bool on_result(std::size_t instance, bool server_error, TimePoint now);
  // Lifts the ejections whose time is up; returns how many instances came back.
  std::size_t evaluate(TimePoint now);

  bool ejected(std::size_t instance) const;
  std::size_t ejected_count() const;
  // How many times `instance` has been ejected so far (its next ejection lasts that many + 1 bases).
  int ejections(std::size_t instance) const;
  // When the instance's current ejection ends (TimePoint{} when it is not ejected).
  TimePoint ejected_until(std::size_t instance) const;
  std::size_t size() const noexcept { return instances_.size(); }
  const OutlierSettings& settings() const noexcept { return settings_; }

 private:
  struct Instance {
    int consecutive_errors = 0;
    int ejections = 0;
    bool ejected = false;
    TimePoint until{};
  };
  std::size_t max_ejected() const;  // the cap, see above

  OutlierSettings settings_;
  mutable std::mutex mutex_;
  std::vector<Instance> instances_;
};

}  // namespace mercato::resilience
