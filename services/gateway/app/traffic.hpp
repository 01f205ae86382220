// The traffic policy in force and the live state it governs (domain/policy.hpp is the format): per
// service a circuit breaker, a bulkhead (connectionPool), a retry budget and a rate limiter; per subset
// a load balancer and an outlier detector; one per-client rate limiter. A new policy builds a new
// Traffic; the gateway swaps it in whole (PolicyHolder), so a request sees one policy from start to end.
// Live state starts fresh with each policy: a reload closes every circuit and lifts every ejection.
//
// Metrics (per upstream = service):
//   mercato_gateway_circuit_state{upstream}                      0 closed, 1 open, 2 half-open
//   mercato_gateway_circuit_transitions_total{upstream,to}
//   mercato_gateway_rejections_total{upstream,reason}            circuit_open | pool_full | rate_limited |
//                                                                no_healthy_instance
//   mercato_gateway_retries_total{upstream}
//   mercato_gateway_retry_budget_exhausted_total{upstream}
//   mercato_gateway_ejections_total{upstream,subset,instance}
//   mercato_gateway_ejected_instances{upstream,subset}
//
// Thread-safety: Traffic is immutable once built, its parts are thread-safe; PolicyHolder is thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "domain/policy.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::gateway {

class Traffic {
 public:
  struct Subset {
    std::string name;
    std::vector<http::Endpoint> endpoints;
    std::unique_ptr<resilience::LoadBalancer> balancer;
    std::unique_ptr<resilience::OutlierDetector> outliers;  // null: no outlier detection
    obs::Gauge* ejected = nullptr;
    std::vector<obs::Counter*> ejections;  // per endpoint

    // Which endpoints may be picked now.
    std::vector<bool> available() const;
    // Records a call's outcome for outlier detection (and counts an ejection it causes).
    void record(std::size_t endpoint, bool server_error, resilience::TimePoint now);
  };

  struct Service {
    std::string name;
    const ServicePolicy* policy = nullptr;
    std::unique_ptr<resilience::CircuitBreaker> breaker;
    std::unique_ptr<resilience::Bulkhead> bulkhead;
    std::unique_ptr<resilience::RetryBudget> budget;
    std::unique_ptr<resilience::RateLimiter> limiter;  // null: no route rate limit
    std::map<std::string, std::unique_ptr<Subset>, std::less<>> subsets;
    obs::Counter* rejected_circuit_open = nullptr;
    obs::Counter* rejected_pool_full = nullptr;
    obs::Counter* rejected_rate_limited = nullptr;
    obs::Counter* rejected_no_instance = nullptr;
    obs::Counter* retries = nullptr;
    obs::Counter* budget_exhausted = nullptr;

    Subset* subset(std::string_view name) const;
  };

  Traffic(Policy policy, obs::Registry& metrics, const obs::Logger& logger);

  Service* service(std::string_view name) const;
  resilience::RateLimiter* per_client() const { return per_client_.get(); }
  obs::Counter* per_client_rejections() const { return per_client_rejections_; }
  const Policy& policy() const noexcept { return policy_; }
  // Lifts the outlier ejections whose time is up (the gateway calls it every outlier interval).
  void evaluate_outliers(resilience::TimePoint now) const;
  // The shortest outlier-detection interval of the policy (zero: none configured).
  std::chrono::milliseconds outlier_interval() const;

 private:
  Policy policy_;
  std::map<std::string, std::unique_ptr<Service>, std::less<>> services_;
  std::unique_ptr<resilience::RateLimiter> per_client_;
  obs::Counter* per_client_rejections_ = nullptr;
};

// The Traffic in force; replaced whole on a reload.
class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const Traffic> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const Traffic> current() const { return current_.load(); }
  void replace(std::shared_ptr<const Traffic> next) { current_.store(std::move(next)); }

 private:
  std::atomic<std::shared_ptr<const Traffic>> current_;
};

}  // namespace mercato::gateway
