#include "app/admission.hpp"

#include <array>
#include <cstdio>

namespace mercato::order {

Result<void> validate(const AdmissionLimits& limits) {
  if (limits.max_backlog_time.count() <= 0) {
    return Error::validation("max_backlog_time", "max_backlog_time: must be above 0");
  }
  if (limits.min_backlog < 1) return Error::validation("min_backlog", "min_backlog: must be at least 1");
  if (limits.max_backlog < limits.min_backlog) {
    return Error::validation("max_backlog", "max_backlog: must be at least min_backlog (" +
                                                std::to_string(limits.min_backlog) + ")");
  }
  return {};
}

AdmissionSettings read_admission_settings(const config::Section& section) {
  AdmissionSettings s;
  s.enabled = section.boolean("enabled", s.enabled);
  s.limits.max_backlog_time = section.duration("max_backlog_time", s.limits.max_backlog_time);
  s.limits.min_backlog = section.integer("min_backlog", s.limits.min_backlog, 1, 100'000'000);
  s.limits.max_backlog = section.integer("max_backlog", s.limits.max_backlog, 1, 100'000'000);
  s.rate_window = section.duration("rate_window", s.rate_window);
  s.recount = section.duration("recount", s.recount);
  if (auto valid = validate(s.limits); !valid) {
    throw config::ConfigError("config section '" + section.path() + "': " + valid.error().message);
  }
  // Shorter than a second, the rate of a quiet system swings between zero and a burst.
  if (s.rate_window < std::chrono::seconds(1)) {
    throw config::ConfigError("config key '" + section.path() + ".rate_window': must be at least 1s");
  }
  if (s.recount < std::chrono::milliseconds(100)) {
    throw config::ConfigError("config key '" + section.path() + ".recount': must be at least 100ms");
  }
  return s;
}

Error Admission::Refusal::error() const {
  std::array<char, 32> rate{};
  std::snprintf(rate.data(), rate.size(), "%.1f", finish_rate);
  std::string message = "the order service is overloaded: " + std::to_string(backlog) +
                        " orders are still being processed (at most " + std::to_string(limit) +
                        " may be, at the " + rate.data() + " orders/s being completed); retry after " +
                        std::to_string(retry_after.count()) + " s";
  // Figures only, nothing private: the message is fit for clients as it is.
  return Error::unavailable(message).with_public_message(message);
}

Admission::Ticket& Admission::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (admission_ != nullptr) admission_->release(false);
    admission_ = std::exchange(other.admission_, nullptr);
  }
  return *this;
}

Admission::Ticket::~Ticket() {
  if (admission_ != nullptr) admission_->release(false);
}

void Admission::Ticket::placed() {
  if (admission_ != nullptr) std::exchange(admission_, nullptr)->release(true);
}

Admission::Admission(const AdmissionSettings& settings, std::int64_t backlog, obs::Registry* metrics,
                     Clock clock)
    : clock_(std::move(clock)),
      limits_(settings.limits),
      rate_(settings.rate_window, clock_()),
      backlog_(std::max<std::int64_t>(0, backlog)) {
  if (metrics != nullptr) {
    constexpr std::string_view kHelp = "New orders admitted or refused by admission control";
    admitted_ = &metrics->counter("mercato_order_admissions_total", kHelp, {{"decision", "admitted"}});
    refused_ = &metrics->counter("mercato_order_admissions_total", kHelp, {{"decision", "refused"}});
    backlog_gauge_ = &metrics->gauge("mercato_order_saga_backlog",
                                     "Sagas in flight (orders placed, not yet confirmed or cancelled)");
    limit_gauge_ =
        &metrics->gauge("mercato_order_saga_backlog_limit", "Sagas admission control allows in flight now");
    rate_gauge_ = &metrics->gauge("mercato_order_saga_finish_rate",
                                  "Sagas finished (confirmed or cancelled) per second, recently");
  }
  std::lock_guard lock(mutex_);
  publish();
}

std::variant<Admission::Ticket, Admission::Refusal> Admission::admit() {
  std::unique_lock lock(mutex_);
  auto rate = rate_.per_second(clock_());
  auto limit = backlog_limit(limits_, rate);
  if (backlog_ < limit) {
    ++backlog_;
    ++outstanding_;
    publish();
    lock.unlock();
    if (admitted_ != nullptr) admitted_->inc();
    return Ticket(this);
  }
  Refusal refusal{.backlog = backlog_,
                  .limit = limit,
                  .finish_rate = rate,
                  .retry_after = retry_after(limits_, backlog_, limit, rate)};
  publish();
  lock.unlock();
  if (refused_ != nullptr) refused_->inc();
  return refusal;
}

void Admission::release(bool placed) {
  std::lock_guard lock(mutex_);
  --outstanding_;
  if (!placed) backlog_ = std::max<std::int64_t>(0, backlog_ - 1);
  publish();
}

void Admission::finished() {
  std::lock_guard lock(mutex_);
  rate_.add(clock_());
  // Never below zero: with several instances, one may finish sagas another placed after its recount.
  backlog_ = std::max<std::int64_t>(0, backlog_ - 1);
  publish();
}

void Admission::recounted(std::int64_t stored) {
  std::lock_guard lock(mutex_);
  backlog_ = std::max<std::int64_t>(0, stored) + outstanding_;
  publish();
}

std::int64_t Admission::backlog() const {
  std::lock_guard lock(mutex_);
  return backlog_;
}

AdmissionLimits Admission::limits() const {
  std::lock_guard lock(mutex_);
  return limits_;
}

void Admission::set_limits(const AdmissionLimits& limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
  publish();
}

void Admission::publish() {
  if (backlog_gauge_ == nullptr) return;
  auto rate = rate_.per_second(clock_());
  backlog_gauge_->set(static_cast<double>(backlog_));
  limit_gauge_->set(static_cast<double>(backlog_limit(limits_, rate)));
  rate_gauge_->set(rate);
}

}  // namespace mercato::order
