#include "app/traffic.hpp"

namespace mercato::gateway {
namespace {

double state_value(resilience::BreakerState s) {
  switch (s) {
    case resilience::BreakerState::kClosed:
      return 0;
    case resilience::BreakerState::kOpen:
      return 1;
    case resilience::BreakerState::kHalfOpen:
      return 2;
  }
  return 0;
}

}  // namespace

std::vector<bool> Traffic::Subset::available() const {
  std::vector<bool> out(endpoints.size(), true);
  if (outliers) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = !outliers->ejected(i);
  }
  return out;
}

void Traffic::Subset::record(std::size_t endpoint, bool server_error, resilience::TimePoint now) {
  if (!outliers) return;
  if (outliers->on_result(endpoint, server_error, now)) {
    ejections[endpoint]->inc();
    ejected->set(static_cast<double>(outliers->ejected_count()));
  }
}

Traffic::Subset* Traffic::Service::subset(std::string_view wanted) const {
  auto it = subsets.find(wanted);
  return it == subsets.end() ? nullptr : it->second.get();
}

Traffic::Traffic(Policy policy, obs::Registry& metrics, const obs::Logger& logger)
    : policy_(std::move(policy)) {
  for (const auto& [name, sp] : policy_.services) {
    auto service = std::make_unique<Service>();
    service->name = name;
    service->policy = &sp;
    auto& state = metrics.gauge("mercato_gateway_circuit_state",
                                "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open",
                                {{"upstream", name}});
    state.set(0);
    auto* registry = &metrics;
    const auto* log = &logger;
    service->breaker = std::make_unique<resilience::CircuitBreaker>(
        sp.circuit_breaker,
        [registry, log, &state, upstream = name](resilience::BreakerState from, resilience::BreakerState to) {
          state.set(state_value(to));
          registry
              ->counter("mercato_gateway_circuit_transitions_total",
                        "Circuit breaker state changes per upstream",
                        {{"upstream", upstream}, {"to", std::string(resilience::to_string(to))}})
              .inc();
          log->warn("circuit breaker changed state", {{"upstream", upstream},
                                                      {"from", std::string(resilience::to_string(from))},
                                                      {"to", std::string(resilience::to_string(to))}});
        });
    service->bulkhead = std::make_unique<resilience::Bulkhead>(sp.connection_pool);
    service->budget = std::make_unique<resilience::RetryBudget>(policy_.retry_budget);
    if (sp.rate_limit) service->limiter = std::make_unique<resilience::RateLimiter>(*sp.rate_limit);
    auto rejections = [&](const char* reason) {
      return &metrics.counter("mercato_gateway_rejections_total",
                              "Requests the gateway refused before calling the upstream, by reason",
                              {{"upstream", name}, {"reason", reason}});
    };
    service->rejected_circuit_open = rejections("circuit_open");
    service->rejected_pool_full = rejections("pool_full");
    service->rejected_rate_limited = rejections("rate_limited");
    service->rejected_no_instance = rejections("no_healthy_instance");
    service->retries =
        &metrics.counter("mercato_gateway_retries_total", "Retried upstream calls", {{"upstream", name}});
    service->budget_exhausted =
        &metrics.counter("mercato_gateway_retry_budget_exhausted_total",
                         "Retries the retry budget did not allow", {{"upstream", name}});
    for (const auto& [subset_name, endpoints] : sp.subsets) {
      auto subset = std::make_unique<Subset>();
      subset->name = subset_name;
      subset->endpoints = endpoints;
      subset->balancer = std::make_unique<resilience::LoadBalancer>(sp.balancing, endpoints.size());
      if (sp.outlier_detection)
        subset->outliers =
            std::make_unique<resilience::OutlierDetector>(*sp.outlier_detection, endpoints.size());
      subset->ejected = &metrics.gauge("mercato_gateway_ejected_instances",
                                       "Instances outlier detection has taken out of load balancing",
                                       {{"upstream", name}, {"subset", subset_name}});
      subset->ejected->set(0);
      for (const auto& endpoint : endpoints) {
        subset->ejections.push_back(&metrics.counter(
            "mercato_gateway_ejections_total", "Outlier ejections per instance",
            {{"upstream", name}, {"subset", subset_name}, {"instance", endpoint.to_string()}}));
      }
      service->subsets.emplace(subset_name, std::move(subset));
    }
    services_.emplace(name, std::move(service));
  }
  if (policy_.per_client) {
    per_client_ = std::make_unique<resilience::RateLimiter>(*policy_.per_client);
    per_client_rejections_ =
        &metrics.counter("mercato_gateway_rejections_total",
                         "Requests the gateway refused before calling the upstream, by reason",
                         {{"upstream", "*"}, {"reason", "client_rate_limited"}});
  }
}

Traffic::Service* Traffic::service(std::string_view name) const {
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : it->second.get();
}

void Traffic::evaluate_outliers(resilience::TimePoint now) const {
  for (const auto& [_, service] : services_) {
    for (const auto& [__, subset] : service->subsets) {
      if (!subset->outliers) continue;
      subset->outliers->evaluate(now);
      subset->ejected->set(static_cast<double>(subset->outliers->ejected_count()));
    }
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
