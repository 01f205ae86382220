#include "app/traffic.hpp"

namespace mercato::gateway {

resilience::Upstream* Traffic::Service::subset(std::string_view wanted) const {
  auto it = subsets.find(wanted);
  return it == subsets.end() ? nullptr : it->second.get();
}

Traffic::Traffic(Policy policy, const RouteTable& routes, http::Client& client, obs::Registry& metrics,
                 const obs::Logger& logger)
    : policy_(std::move(policy)) {
  for (const auto& [name, sp] : policy_.services) {
    auto service = std::make_unique<Service>();
    service->name = name;
    service->policy = &sp;
    const auto* route = routes.find(name);
    for (const auto& [subset_name, endpoints] : sp.subsets) {
      resilience::UpstreamSettings settings{
          .name = subset_name == kDefaultSubset ? name : name + ":" + subset_name,
          .breaker = sp.circuit_breaker,
          .pool = sp.connection_pool,
          .retries = {},
          .budget = policy_.retry_budget,
          .outliers = sp.outlier_detection,
          .balancing = sp.balancing,
          .timeout = route != nullptr ? route->request_timeout : std::chrono::milliseconds(5000)};
      service->subsets.emplace(subset_name, std::make_unique<resilience::Upstream>(
                                                std::move(settings), endpoints, client, metrics, logger));
    }
    if (sp.rate_limit) service->limiter = std::make_unique<resilience::RateLimiter>(*sp.rate_limit);
    service->rate_limited =
        &metrics.counter("mercato_gateway_rejections_total", "Requests the gateway's rate limits refused",
                         {{"upstream", name}, {"reason", "rate_limited"}});
    services_.emplace(name, std::move(service));
  }
  for (const auto& limit : policy_.route_limits) {
    route_limiters_.push_back({&limit, std::make_unique<resilience::RateLimiter>(limit.per_client)});
  }
  if (policy_.per_client || !policy_.route_limits.empty()) {
    if (policy_.per_client) per_client_ = std::make_unique<resilience::RateLimiter>(*policy_.per_client);
    per_client_rejections_ =
        &metrics.counter("mercato_gateway_rejections_total", "Requests the gateway's rate limits refused",
                         {{"upstream", "*"}, {"reason", "client_rate_limited"}});
  }
}

resilience::RateLimiter* Traffic::route_limiter(std::string_view method, std::string_view path) const {
  for (const auto& [route, limiter] : route_limiters_) {
    if (route->path == path && route->method == method) return limiter.get();
  }
  return nullptr;
}

Traffic::Service* Traffic::service(std::string_view name) const {
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : it->second.get();
}

void Traffic::evaluate_outliers(resilience::TimePoint now) const {
  for (const auto& [_, service] : services_) {
    for (const auto& [subset, upstream] : service->subsets) upstream->evaluate_outliers(now);
  }
}

std::chrono::milliseconds Traffic::outlier_interval() const {
  std::chrono::milliseconds shortest{0};
  for (const auto& [_, sp] : policy_.services) {
    if (!sp.outlier_detection) continue;
    auto i = sp.outlier_detection->interval;
    if (shortest.count() == 0 || i < shortest) shortest = i;
  }
  return shortest;
}

}  // namespace mercato::gateway
