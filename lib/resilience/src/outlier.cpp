#include "mercato/resilience/outlier.hpp"

#include <algorithm>

namespace mercato::resilience {

Result<void> OutlierSettings::validate() const {
  if (consecutive_5xx < 1) return Error::validation("consecutive_5xx", "consecutive_5xx must be >= 1");
  if (interval.count() <= 0) return Error::validation("interval", "interval must be positive");
  if (base_ejection_time.count() <= 0) {
    return Error::validation("base_ejection_time", "base_ejection_time must be positive");
  }
  if (max_ejection_percent < 0 || max_ejection_percent > 100) {
    return Error::validation("max_ejection_percent", "max_ejection_percent must be in [0, 100]");
  }
  return {};
}

OutlierDetector::OutlierDetector(OutlierSettings settings, std::size_t instances)
    : settings_(settings), instances_(instances) {}

namespace {

template <typename Instances>
std::size_t count_ejected(const Instances& instances) {
  return static_cast<std::size_t>(
      std::count_if(instances.begin(), instances.end(), [](const auto& i) { return i.ejected; }));
}

}  // namespace

std::size_t OutlierDetector::max_ejected() const {
  const std::size_t n = instances_.size();
  if (n <= 1 || settings_.max_ejection_percent <= 0) return 0;
  const std::size_t cap = n * static_cast<std::size_t>(settings_.max_ejection_percent) / 100;
  return std::max<std::size_t>(1, cap);
}

bool OutlierDetector::on_result(std::size_t instance, bool server_error, TimePoint now) {
  std::lock_guard lock(mutex_);
  if (instance >= instances_.size()) return false;
  Instance& target = instances_[instance];
  if (!server_error) {
    target.consecutive_errors = 0;
    return false;
  }
  ++target.consecutive_errors;
  if (target.consecutive_errors < settings_.consecutive_5xx || target.ejected) return false;
  // Over the cap the count is kept, so the instance is ejected on its next error once room frees up.
  if (count_ejected(instances_) >= max_ejected()) return false;
  target.ejected = true;
  ++target.ejections;
  target.until = now + settings_.base_ejection_time * target.ejections;
  target.consecutive_errors = 0;
  return true;
}

std::size_t OutlierDetector::evaluate(TimePoint now) {
  std::lock_guard lock(mutex_);
  std::size_t returned = 0;
  for (Instance& i : instances_) {
    if (!i.ejected || i.until > now) continue;
    // `ejections` stays: an instance that keeps failing is kept out longer each time.
    i.ejected = false;
    i.until = TimePoint{};
    ++returned;
  }
  return returned;
}

bool OutlierDetector::ejected(std::size_t instance) const {
  std::lock_guard lock(mutex_);
  return instance < instances_.size() && instances_[instance].ejected;
}

std::size_t OutlierDetector::ejected_count() const {
  std::lock_guard lock(mutex_);
  return count_ejected(instances_);
}

int OutlierDetector::ejections(std::size_t instance) const {
  std::lock_guard lock(mutex_);
  return instance < instances_.size() ? instances_[instance].ejections : 0;
}

TimePoint OutlierDetector::ejected_until(std::size_t instance) const {
  std::lock_guard lock(mutex_);
  return instance < instances_.size() ? instances_[instance].until : TimePoint{};
}

}  // namespace mercato::resilience
