// The traffic policy in force and the live state it governs (domain/policy.hpp is the format): per
// subset of a service a resilience::Upstream (circuit breaker, connection pool, retry budget, load
// balancer, outlier detection — its metrics are labelled upstream="<service>" for the default subset
// and "<service>:<subset>" for the others), per service a rate limiter, and one per-client rate limiter.
// A new policy builds a new Traffic; the gateway swaps it in whole (PolicyHolder), so a request sees one
// policy from start to end. Live state starts fresh with each policy: a reload closes every circuit and
// lifts every ejection.
//
// The gateway's own metrics: mercato_gateway_rejections_total{upstream,reason="rate_limited"} and
// {upstream="*",reason="client_rate_limited"}.
//
// Thread-safety: Traffic is immutable once built, its parts are thread-safe; PolicyHolder is thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "domain/policy.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/resilience/upstream.hpp"

namespace mercato::gateway {

class Traffic {
 public:
  struct Service {
    std::string name;
    const ServicePolicy* policy = nullptr;
    std::map<std::string, std::unique_ptr<resilience::Upstream>, std::less<>> subsets;
    std::unique_ptr<resilience::RateLimiter> limiter;  // null: no route rate limit
    obs::Counter* rate_limited = nullptr;

    resilience::Upstream* subset(std::string_view name) const;
  };

  Traffic(Policy policy, const RouteTable& routes, http::Client& client, obs::Registry& metrics,
          const obs::Logger& logger);

  Service* service(std::string_view name) const;
  resilience::RateLimiter* per_client() const { return per_client_.get(); }
  // The limiter of rateLimits.routes for this method and gateway path, or nullptr.
  resilience::RateLimiter* route_limiter(std::string_view method, std::string_view path) const;
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
  // One limiter per rateLimits.routes entry (a handful: scanned, so a request allocates nothing).
  struct RouteLimiter {
    const RouteRateLimit* route;
    std::unique_ptr<resilience::RateLimiter> limiter;
  };
  std::vector<RouteLimiter> route_limiters_;
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
