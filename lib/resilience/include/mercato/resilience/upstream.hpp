// An upstream — one service's instances — called with the whole resilience policy: the circuit breaker
// (open: refused at once), the bulkhead (full: refused at once; a pending call waits for a slot no
// longer than its timeout), the load balancer over the instances not ejected by outlier detection, a
// per-try timeout, and retries with backoff and full jitter for calls the caller marks retriable,
// within the retry budget and the caller's deadline. Every outgoing call of a service (the gateway's
// proxy, the order service's calls to users and inventory) goes through one of these.
//
//   resilience::Upstream users({.name = "user"}, {endpoint}, ctx.client(), ctx.metrics(), ctx.logger());
//   auto call = co_await users.call(std::move(request), {.deadline = incoming.deadline}, retriable);
//   if (call.refused != Refused::kNone) → 503 (or the caller's fallback) with call.retry_after
//   else call.result is the upstream's answer (5xx included) or the transport error
//
// What counts as a failure (breaker, outlier detection, retry): no connection, no answer in time, an
// unusable answer, or a 5xx. A 4xx is an answer.
//
// Metrics, labelled upstream=<name>:
//   mercato_upstream_circuit_state 0 closed, 1 open, 2 half-open;
//   mercato_upstream_circuit_transitions_total{to} mercato_upstream_rejections_total{reason}   circuit_open |
//   pool_full | no_healthy_instance mercato_upstream_retries_total,
//   mercato_upstream_retry_budget_exhausted_total mercato_upstream_ejections_total{instance},
//   mercato_upstream_ejected_instances, mercato_upstream_instances
//
// Thread-safety: thread-safe; call() must be awaited on a worker of the client's IoPool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mercato/config/config.hpp"
#include "mercato/http/client.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/resilience/bulkhead.hpp"
#include "mercato/resilience/circuit_breaker.hpp"
#include "mercato/resilience/load_balancer.hpp"
#include "mercato/resilience/outlier.hpp"
#include "mercato/resilience/retry.hpp"

namespace mercato::resilience {

struct UpstreamSettings {
  std::string name;  // the metrics label and the name in error messages
  BreakerSettings breaker;
  BulkheadSettings pool;
  RetrySettings retries;  // attempts 1: no retries
  RetryBudgetSettings budget;
  std::optional<OutlierSettings> outliers;
  Balancing balancing = Balancing::kRoundRobin;
  std::chrono::milliseconds timeout{5000};  // the whole call's, when the caller gives none
};

enum class Refused { kNone, kCircuitOpen, kPoolFull, kNoHealthyInstance };

class Upstream {
 public:
  Upstream(UpstreamSettings settings, std::vector<http::Endpoint> instances, http::Client& client,
           obs::Registry& metrics, const obs::Logger& logger);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  struct Call {
    Result<http::Response> result = Error{};   // set by call(); nothing allocated up front
    Refused refused = Refused::kNone;          // refused before any instance was called
    std::chrono::milliseconds retry_after{0};  // when refused: a hint for Retry-After
  };
  struct CallSettings {
    std::optional<std::chrono::milliseconds> timeout;  // default: settings.timeout
    std::optional<http::Clock::time_point> deadline;   // the caller's own
    std::optional<RetrySettings> retries;              // default: settings.retries
  };
  // `retriable`: the request may be sent more than once (see is_retriable).
  boost::asio::awaitable<Call> call(http::ClientRequest request, CallSettings settings, bool retriable);

  // A call over another transport (gRPC) under the same policy: `attempt` makes one try at `instance`
  // within `timeout` (the per-try timeout; the caller's deadline is its own to apply) and answers
  // whether the try failed (breaker, outlier detection, retries: what would be a 5xx). `last_try`: no
  // try follows this one. Refusals are as for call(); the attempt keeps its own answer.
  struct Refusal {
    Refused refused = Refused::kNone;
    std::chrono::milliseconds retry_after{0};
  };
  using Attempt = std::function<boost::asio::awaitable<bool>(
      const http::Endpoint& instance, std::chrono::milliseconds timeout, bool last_try)>;
  boost::asio::awaitable<Refusal> call_with(CallSettings settings, bool retriable, Attempt attempt);

  // Replaces the instances (service discovery saw them change). Calls under way finish on the old set;
  // the balancer's counts, the outlier ejections and the circuit breaker start afresh (closed), unless
  // the set is the same. Empty: calls are refused with kNoHealthyInstance until instances come back.
  void set_instances(std::vector<http::Endpoint> instances);
  std::vector<http::Endpoint> instances() const;

  // Live configuration: the timeout and the tries of calls that give none of their own, and the
  // breaker's thresholds (validated by the caller, as read_upstream_settings validates the file's).
  void set_timeout(std::chrono::milliseconds timeout);
  void set_attempts(int attempts);
  std::chrono::milliseconds timeout() const;
  int attempts() const;

  // Lifts outlier ejections whose time is up (the owner calls it every outlier interval).
  void evaluate_outliers(TimePoint now);
  CircuitBreaker& breaker() noexcept;
  const UpstreamSettings& settings() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The error a refusal stands for (kUnavailable, naming the upstream and why).
Error refusal_error(const std::string& upstream, Refused refused);

// A service's settings for its calls to `name`, from a config section (validated; config::ConfigError
// naming the key otherwise):
//   timeout: 2s                      each call, retries included
//   retries: 1                       extra tries of a failed retriable call (0..5), full-jitter backoff
//   max_concurrent: 256, max_pending: 256
//   circuit_breaker: {failure_threshold: 5, recovery_timeout: 10s, success_threshold: 1}
UpstreamSettings read_upstream_settings(const config::Section& section, std::string name);

}  // namespace mercato::resilience
