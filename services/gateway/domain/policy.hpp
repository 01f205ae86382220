// The gateway's traffic policy: the article's Istio VirtualService and DestinationRule, translated into
// one file (config/gateway-policy.yaml; README "Traffic policy" has the format). Parsing and validation
// only — pure logic, no I/O: a policy is read whole, checked whole, and either replaces the one in force
// or is refused with a message naming the offending key (the old one stays).
//
//   auto policy = parse_policy(json_of_the_yaml_file, routes);   // Result<Policy>
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "domain/routes.hpp"
#include "mercato/core/result.hpp"
#include "mercato/resilience/bulkhead.hpp"
#include "mercato/resilience/circuit_breaker.hpp"
#include "mercato/resilience/load_balancer.hpp"
#include "mercato/resilience/outlier.hpp"
#include "mercato/resilience/rate_limit.hpp"
#include "mercato/resilience/retry.hpp"

namespace mercato::gateway {

// The subset every route has: its service's upstream from gateway.services (config/gateway.yaml).
inline constexpr std::string_view kDefaultSubset = "default";

struct HeaderMatch {
  std::string name;  // lower-case
  std::optional<std::string> exact;
  std::optional<std::string> prefix;

  bool matches(std::string_view value) const;
};

struct WeightedDestination {
  std::string subset;
  int weight = 100;
};

// One http[] entry of a VirtualService: when every header matches (no match: always), the request goes
// to one of the destinations, chosen by weight.
struct HttpRoute {
  std::vector<std::vector<HeaderMatch>> match;  // any of these blocks; each block: all of its headers
  std::vector<WeightedDestination> route;
  std::optional<std::chrono::milliseconds> timeout;
  resilience::RetrySettings retries;  // attempts 1 when the route has none
};

// A DestinationRule and the VirtualService of one service.
struct ServicePolicy {
  std::map<std::string, std::vector<http::Endpoint>, std::less<>> subsets;  // default included
  // Subsets given by label rather than by address ({name: canary, labels: {version: v2}}): their
  // instances are the discovered instances of that version (app/membership.hpp), none without discovery.
  std::map<std::string, std::string, std::less<>> subset_versions;
  resilience::Balancing balancing = resilience::Balancing::kRoundRobin;
  resilience::BulkheadSettings connection_pool;
  std::optional<resilience::OutlierSettings> outlier_detection;
  resilience::BreakerSettings circuit_breaker;
  std::vector<HttpRoute> http;  // first match wins; no route matches → the default subset
  std::optional<resilience::RateLimitSettings> rate_limit;  // for the whole service (route)
};

// rateLimits.routes[]: one route of the gateway (method and exact path, as the client sends them),
// limited per client identity on top of everything else.
struct RouteRateLimit {
  std::string method;  // "POST"
  std::string path;    // "/api/auth/login"
  resilience::RateLimitSettings per_client;
};

struct Policy {
  std::map<std::string, ServicePolicy, std::less<>> services;  // every service of the route table
  // Client identity: the verified token's subject, else the client's address (never a header the client
  // chooses, which it could rotate).
  std::optional<resilience::RateLimitSettings> per_client;  // every request, by client identity
  std::vector<RouteRateLimit> route_limits;                 // these routes, by client identity
  resilience::RetryBudgetSettings retry_budget;
};

// The policy from a parsed YAML document (config::yaml_file_to_json). An empty document (null or {}) is
// the default policy: every service with its default subset, a circuit breaker with the defaults and
// nothing else limited. Errors are kValidationFailed naming the key, e.g.
// "destinationRules[0].trafficPolicy.outlierDetection.maxEjectionPercent".
Result<Policy> parse_policy(const boost::json::value& document, const RouteTable& routes);

// The route a request takes: the first http[] entry whose match holds, or nullptr for the default.
// `header` returns a request header's value by lower-case name (empty when absent).
template <typename HeaderLookup>
const HttpRoute* select_route(const ServicePolicy& service, const HeaderLookup& header) {
  for (const auto& route : service.http) {
    if (route.match.empty()) return &route;
    for (const auto& block : route.match) {
      bool all = true;
      for (const auto& m : block) {
        auto value = header(m.name);
        if (!value || !m.matches(*value)) {
          all = false;
          break;
        }
      }
      if (all) return &route;
    }
  }
  return nullptr;
}

// The destination for a uniform draw `ticket` in [0, total weight).
const WeightedDestination& pick_destination(const HttpRoute& route, int ticket);
int total_weight(const HttpRoute& route);

}  // namespace mercato::gateway
