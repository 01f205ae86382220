// Admission control for new orders (ADR 0018): a new order is refused — 503 with Retry-After, before any
// call to another service — while the saga backlog (sagas begun and not yet finished: orders placed and
// not yet confirmed or cancelled, and cancellations still compensating) is at the limit that
// domain/admission.hpp computes from the recent finish rate. Accepted orders thus wait behind at most
// `admission.max_backlog_time` of saga work instead of a queue without end.
//
//   Admission admission(settings, repository.count_running_sagas().value(), &metrics);
//   auto decision = admission.admit();
//   if (auto* refused = std::get_if<Admission::Refusal>(&decision)) return ...503...;
//   auto ticket = std::get<Admission::Ticket>(std::move(decision));
//   ... place the order with its saga ...; ticket.placed();   // else the ticket's place is given back
//   admission.finished();                                    // by the saga coordinator, as a saga ends
//
// The backlog is kept in memory: +1 per admitted order (its ticket), -1 when the order is not placed
// after all (the ticket is dropped), -1 per saga this instance finishes. It starts from the database's
// count and is recounted from it every `admission.recount` (recounted()), which is what makes it right
// when several instances share one database: between recounts an instance sees the others' sagas only
// as they finish here. The finish rate is this instance's own (ADR 0018, "Several instances").
//
// Thread-safety: thread-safe; admit() is called on the I/O threads, finished() on the event consumers'
// and the saga ticker's, recounted() on its own periodic thread. One mutex, held for a few arithmetic
// operations.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <variant>

#include "domain/admission.hpp"
#include "mercato/config/config.hpp"
#include "mercato/core/error.hpp"
#include "mercato/core/result.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::order {

// The `admission` section of config/order.yaml.
struct AdmissionSettings {
  bool enabled = true;
  AdmissionLimits limits;
  // The finish rate is measured over this.
  std::chrono::milliseconds rate_window{std::chrono::seconds(10)};
  // The backlog is recounted from storage this often.
  std::chrono::milliseconds recount{std::chrono::seconds(5)};
};

// The limits' own rules: max_backlog_time above 0, 1 <= min_backlog <= max_backlog.
Result<void> validate(const AdmissionLimits& limits);

// Reads enabled, max_backlog_time, min_backlog, max_backlog, rate_window and recount; throws
// config::ConfigError naming the key for a bad value, or the section for limits that break validate().
AdmissionSettings read_admission_settings(const config::Section& section);

class Admission {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // A place in the backlog, held from admission until the order is placed (placed(): the place stays,
  // now the saga's) or given up (destroyed without placed(): the place is given back). A default
  // Ticket belongs to no admission control (it is off) and does nothing.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : admission_(std::exchange(other.admission_, nullptr)) {}
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();
    void placed();

   private:
    friend class Admission;
    explicit Ticket(Admission* admission) : admission_(admission) {}
    Admission* admission_ = nullptr;
  };

  // Why an order was refused, and when to try again.
  struct Refusal {
    std::int64_t backlog = 0;
    std::int64_t limit = 0;
    double finish_rate = 0;  // sagas finished per second, recently
    std::chrono::seconds retry_after{1};
    // kUnavailable, with a message for clients that names the problem and the figures.
    Error error() const;
  };

  // `backlog`: the sagas in flight at start (the database's count). `metrics` (optional) gets
  //   mercato_order_admissions_total{decision}  admitted | refused
  //   mercato_order_saga_backlog                 sagas in flight, as admission counts them
  //   mercato_order_saga_backlog_limit           the backlog allowed at the moment
  //   mercato_order_saga_finish_rate             sagas finished per second over rate_window
  Admission(const AdmissionSettings& settings, std::int64_t backlog, obs::Registry* metrics = nullptr,
            Clock clock = std::chrono::steady_clock::now);
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // A ticket when the backlog is below the limit, else the refusal.
  std::variant<Ticket, Refusal> admit();
  // A saga ended (confirmed or cancelled) in this instance.
  void finished();
  // The database counted `stored` sagas in flight: the backlog is that plus the tickets not yet placed.
  void recounted(std::int64_t stored);

  std::int64_t backlog() const;
  // The limits in force; set_limits (live configuration) applies from the next admit(). `limits` must
  // pass validate().
  AdmissionLimits limits() const;
  void set_limits(const AdmissionLimits& limits);

 private:
  void release(bool placed);
  void publish();  // the gauges, under mutex_

  Clock clock_;
  mutable std::mutex mutex_;
  AdmissionLimits limits_;        // guarded by mutex_
  FinishRate rate_;               // guarded by mutex_
  std::int64_t backlog_ = 0;      // guarded by mutex_: placed sagas in flight + tickets outstanding
  std::int64_t outstanding_ = 0;  // guarded by mutex_: tickets neither placed nor given back
  obs::Counter* admitted_ = nullptr;
  obs::Counter* refused_ = nullptr;
  obs::Gauge* backlog_gauge_ = nullptr;
  obs::Gauge* limit_gauge_ = nullptr;
  obs::Gauge* rate_gauge_ = nullptr;
};

}  // namespace mercato::order
