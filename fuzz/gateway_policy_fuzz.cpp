// Fuzz target: the gateway's traffic policy loader (services/gateway) — the text of a policy file, as
// the gateway reads it at start, on SIGHUP and whenever the file changes (config/gateway-policy.yaml).
//
// Input: the file's text (YAML), read with parse_policy_yaml against a fixed route table (the services
// of config/gateway.yaml).
//
// Expected: the policy, or kMalformedRequest (not YAML) or kValidationFailed naming the key — the
// gateway logs it and keeps the policy in force. An exception escaping, a crash or a sanitizer report is
// a finding. A policy that is accepted must be one the gateway can apply: every service of the route
// table with its default subset, every route's destinations naming subsets the service has and weights
// that add up, and every duration one the gateway can add to a clock reading.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "app/policy_loader.hpp"

namespace {

using namespace mercato;

const gateway::RouteTable& routes() {
  static const gateway::RouteTable kTable = [] {
    gateway::RouteTable t;
    int port = 8081;
    for (const char* name : {"users", "orders", "payments", "inventory", "shipments", "notifications"}) {
      auto endpoint = http::Endpoint::parse("127.0.0.1:" + std::to_string(port++));
      if (!endpoint) std::abort();
      t.add({name, *endpoint, std::chrono::seconds(5)});
    }
    return t;
  }();
  return kTable;
}

// What the gateway does with a duration of the policy: add it to the time now (a circuit's recovery,
// an ejection's end, a deadline). An overflow is undefined behaviour the sanitizer reports.
void use(std::chrono::milliseconds d) {
  auto at = resilience::Clock::now() + d;
  (void)at;
}

void check(const gateway::Policy& policy) {
  if (policy.services.size() != routes().all().size()) std::abort();
  use(policy.retry_budget.window);
  for (const auto& [name, service] : policy.services) {
    if (!service.subsets.contains(gateway::kDefaultSubset) || routes().find(name) == nullptr) std::abort();
    use(service.circuit_breaker.recovery_timeout);
    if (service.outlier_detection) {
      use(service.outlier_detection->interval);
      use(service.outlier_detection->base_ejection_time);
    }
    for (const auto& route : service.http) {
      int total = gateway::total_weight(route);
      if (route.route.empty() || total <= 0) std::abort();
      for (const auto& destination : route.route) {
        if (!service.subsets.contains(destination.subset)) std::abort();
      }
      for (int ticket : {0, total / 2, total - 1}) {
        if (!service.subsets.contains(gateway::pick_destination(route, ticket).subset)) std::abort();
      }
      if (route.timeout) use(*route.timeout);
      use(route.retries.per_try_timeout);
      use(route.retries.max_delay);
    }
    // A request with every header the routes look at, and one with none.
    auto none = [](std::string_view) -> std::optional<std::string_view> { return std::nullopt; };
    (void)gateway::select_route(service, none);
    auto canary = [](std::string_view) -> std::optional<std::string_view> { return "true"; };
    (void)gateway::select_route(service, canary);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = gateway::parse_policy_yaml(text, routes());
  if (!policy) {
    auto code = policy.error().code;
    if (code != ErrorCode::kMalformedRequest && code != ErrorCode::kValidationFailed) std::abort();
    return 0;
  }
  check(*policy);
  return 0;
}
