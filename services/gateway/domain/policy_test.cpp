// The traffic policy format: the article's VirtualService and DestinationRule translated, every
// refusal naming the key at fault, and how a request picks its route and subset.
#include "domain/policy.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <map>

namespace mercato::gateway {
namespace {

RouteTable routes() {
  RouteTable t;
  t.add({"orders", *http::Endpoint::parse("127.0.0.1:8082"), std::chrono::seconds(5)});
  t.add({"users", *http::Endpoint::parse("127.0.0.1:8081"), std::chrono::seconds(5)});
  return t;
}

Result<Policy> parse(std::string_view json) { return parse_policy(boost::json::parse(json), routes()); }

// The article's two resources, as the policy file holds them (YAML in config/; JSON here).
constexpr std::string_view kArticle = R"({
  "destinationRules": [{
    "host": "orders",
    "trafficPolicy": {
      "connectionPool": {"tcp": {"maxConnections": 100}, "http": {"http1MaxPendingRequests": 100}},
      "outlierDetection": {"consecutive5xxErrors": 5, "interval": "30s", "baseEjectionTime": "30s",
                           "maxEjectionPercent": 50}
    },
    "subsets": [{"name": "stable", "endpoints": ["127.0.0.1:8082"]},
                {"name": "canary", "endpoints": ["127.0.0.1:9082", "127.0.0.1:9083"]}]
  }],
  "virtualServices": [{
    "host": "orders",
    "http": [
      {"match": [{"headers": {"x-canary": {"exact": "true"}}}],
       "route": [{"destination": {"host": "orders", "subset": "canary"}, "weight": 100}]},
      {"route": [{"destination": {"host": "orders", "subset": "stable"}, "weight": 100}]}
    ]
  }]
})";

TEST(Policy, TheArticlesVirtualServiceAndDestinationRuleTranslate) {
  auto policy = parse(kArticle);
  ASSERT_TRUE(policy) << policy.error().message;
  const auto& orders = policy->services.at("orders");
  EXPECT_EQ(orders.connection_pool.max_concurrent, 100);
  EXPECT_EQ(orders.connection_pool.max_pending, 100);
  ASSERT_TRUE(orders.outlier_detection);
  EXPECT_EQ(orders.outlier_detection->consecutive_5xx, 5);
  EXPECT_EQ(orders.outlier_detection->interval, std::chrono::seconds(30));
  EXPECT_EQ(orders.outlier_detection->max_ejection_percent, 50);
  EXPECT_EQ(orders.subsets.size(), 3u) << "default, stable, canary";
  EXPECT_EQ(orders.subsets.at("canary").size(), 2u);
  ASSERT_EQ(orders.http.size(), 2u);
  std::map<std::string, std::string> canary{{"x-canary", "true"}};
  auto lookup = [](const std::map<std::string, std::string>& headers) {
    return [&headers](const std::string& name) -> std::optional<std::string_view> {
      auto it = headers.find(name);
      if (it == headers.end()) return std::nullopt;
      return std::string_view(it->second);
    };
  };
  const auto* route = select_route(orders, lookup(canary));
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->route[0].subset, "canary");
  std::map<std::string, std::string> plain{{"x-canary", "false"}};
  route = select_route(orders, lookup(plain));
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->route[0].subset, "stable");
  // A service without a policy keeps its upstream, a breaker with the defaults and no limits.
  const auto& users = policy->services.at("users");
  EXPECT_EQ(users.subsets.at("default").size(), 1u);
  EXPECT_EQ(select_route(users, lookup(plain)), nullptr);
  EXPECT_EQ(users.circuit_breaker.failure_threshold, 5);
  EXPECT_FALSE(users.rate_limit);
}

TEST(Policy, SubsetsMaySelectInstancesByVersion) {
  auto policy = parse(R"({"destinationRules": [{"host": "orders", "subsets": [
      {"name": "canary", "labels": {"version": "v2"}}, {"name": "stable", "endpoints": ["127.0.0.1:8082"]}]}]})");
  ASSERT_TRUE(policy) << policy.error().message;
  const auto& orders = policy->services.at("orders");
  EXPECT_EQ(orders.subset_versions.at("canary"), "v2");
  EXPECT_FALSE(orders.subset_versions.contains("stable"));
  EXPECT_TRUE(orders.subsets.at("canary").empty());  // filled from discovery
  EXPECT_EQ(orders.subsets.at("stable").size(), 1u);
}

TEST(Policy, AnEmptyDocumentIsTheDefaultPolicy) {
  auto policy = parse_policy(boost::json::value(), routes());
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->services.size(), 2u);
  EXPECT_FALSE(policy->per_client);
}

TEST(Policy, WeightsSplitTheDrawsInProportion) {
  auto policy = parse(R"({
    "destinationRules": [{"host": "orders", "subsets": [{"name": "v1", "endpoints": ["127.0.0.1:1"]},
                                                         {"name": "v2", "endpoints": ["127.0.0.1:2"]}]}],
    "virtualServices": [{"host": "orders", "http": [{"route": [
      {"destination": {"subset": "v1"}, "weight": 90}, {"destination": {"subset": "v2"}, "weight": 10}]}]}]
  })");
  ASSERT_TRUE(policy) << policy.error().message;
  const auto& route = policy->services.at("orders").http.at(0);
  ASSERT_EQ(total_weight(route), 100);
  std::map<std::string, int> picks;
  for (int ticket = 0; ticket < 100; ++ticket) ++picks[pick_destination(route, ticket).subset];
  EXPECT_EQ(picks["v1"], 90);
  EXPECT_EQ(picks["v2"], 10);
}

TEST(Policy, RouteLimitsAreReadPerMethodAndPath) {
  auto policy = parse(R"({"rateLimits": {"routes": [
      {"method": "POST", "path": "/api/auth/login", "perClient": {"rate": 2, "burst": 50}},
      {"method": "GET", "path": "/api/auth/login", "perClient": {"rate": 9}}]}})");
  ASSERT_TRUE(policy) << policy.error().message;
  ASSERT_EQ(policy->route_limits.size(), 2U);
  EXPECT_EQ(policy->route_limits[0].method, "POST");
  EXPECT_EQ(policy->route_limits[0].path, "/api/auth/login");
  EXPECT_EQ(policy->route_limits[0].per_client.rate, 2);
  EXPECT_EQ(policy->route_limits[0].per_client.burst, 50);
  EXPECT_EQ(policy->route_limits[1].per_client.burst, 9) << "burst defaults to one second's worth";
  EXPECT_FALSE(policy->per_client);
}

TEST(Policy, BreakerRetriesTimeoutsAndLimitsAreRead) {
  auto policy = parse(R"({
    "destinationRules": [{"host": "orders", "trafficPolicy": {
      "loadBalancer": {"simple": "LEAST_REQUEST"},
      "circuitBreaker": {"mode": "failureRate", "failureRateThreshold": 0.5, "windowSize": 20,
                         "minimumCalls": 10, "recoveryTimeout": "2s", "successThreshold": 3}}}],
    "virtualServices": [{"host": "orders", "rateLimit": {"rate": 50, "burst": 10},
      "http": [{"route": [{"destination": {"host": "orders"}}], "timeout": "750ms",
                "retries": {"attempts": 2, "perTryTimeout": "250ms"}}]}],
    "rateLimits": {"perClient": {"rate": 5}},
    "retryBudget": {"ratio": 0.1, "minPerSecond": 1, "window": "5s"}
  })");
  ASSERT_TRUE(policy) << policy.error().message;
  const auto& orders = policy->services.at("orders");
  EXPECT_EQ(orders.balancing, resilience::Balancing::kLeastRequest);
  EXPECT_EQ(orders.circuit_breaker.mode, resilience::BreakerSettings::Mode::kFailureRate);
  EXPECT_EQ(orders.circuit_breaker.recovery_timeout, std::chrono::seconds(2));
  EXPECT_EQ(orders.circuit_breaker.success_threshold, 3);
  const auto& route = orders.http.at(0);
  EXPECT_EQ(route.route.at(0).subset, "default") << "no subset: the service's own upstream";
  EXPECT_EQ(route.timeout, std::chrono::milliseconds(750));
  EXPECT_EQ(route.retries.attempts, 3) << "Istio counts retries; attempts are tries";
  EXPECT_EQ(route.retries.per_try_timeout, std::chrono::milliseconds(250));
  ASSERT_TRUE(orders.rate_limit);
  EXPECT_EQ(orders.rate_limit->rate, 50);
  EXPECT_EQ(orders.rate_limit->burst, 10);
  ASSERT_TRUE(policy->per_client);
  EXPECT_EQ(policy->per_client->burst, 5) << "burst defaults to one second's worth";
  EXPECT_DOUBLE_EQ(policy->retry_budget.ratio, 0.1);
  EXPECT_EQ(policy->retry_budget.window, std::chrono::seconds(5));
}

// Every refusal names the key at fault, so an operator can fix the file; nothing is half-applied
// because a refused policy is never returned.
TEST(Policy, ABadPolicyIsRefusedNamingTheKey) {
  struct Case {
    std::string_view json;
    std::string field;
  };
  for (
      const auto& c : std::initializer_list<Case>{
          {R"([1])", ""},
          {R"({"virtualService": []})", "virtualService"},
          {R"({"destinationRules": [{"host": "nope"}]})", "destinationRules[0].host"},
          {R"({"destinationRules": [{}]})", "destinationRules[0].host"},
          {R"({"destinationRules": [{"host": "orders", "trafficPolicy": {"outlierDetection":
               {"maxEjectionPercent": 150}}}]})",
           "destinationRules[0].trafficPolicy.outlierDetection.maxEjectionPercent"},
          {R"({"destinationRules": [{"host": "orders", "trafficPolicy": {"outlierDetection":
               {"interval": "5 parsecs"}}}]})",
           "destinationRules[0].trafficPolicy.outlierDetection.interval"},
          {R"({"destinationRules": [{"host": "orders", "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}}]})",
           "destinationRules[0].trafficPolicy.loadBalancer.simple"},
          {R"({"destinationRules": [{"host": "orders", "trafficPolicy": {"connectionPool":
               {"tcp": {"maxConnections": 0}}}}]})",
           "destinationRules[0].trafficPolicy.connectionPool.tcp.maxConnections"},
          {R"({"destinationRules": [{"host": "orders", "subsets": [{"name": "v1", "endpoints": ["nowhere"]}]}]})",
           "destinationRules[0].subsets[0].endpoints[0]"},
          {R"({"destinationRules": [{"host": "orders", "subsets": [{"name": "v2", "labels": {"zone": "x"}}]}]})",
           "destinationRules[0].subsets[0].labels.zone"},
          {R"({"destinationRules": [{"host": "orders", "subsets": [{"name": "v2", "labels": {"version": ""}}]}]})",
           "destinationRules[0].subsets[0].labels.version"},
          {R"({"destinationRules": [{"host": "orders", "subsets": [{"name": "v2", "labels": {"version": "v2"},
               "endpoints": ["127.0.0.1:1"]}]}]})",
           "destinationRules[0].subsets[0].labels"},
          {R"({"destinationRules": [{"host": "orders", "subsets": [{"name": "v1", "endpoints": []}]}]})",
           "destinationRules[0].subsets[0].endpoints"},
          {R"({"destinationRules": [{"host": "orders", "subsets": [{"name": "v1", "endpoints": ["127.0.0.1:1"]},
               {"name": "v1", "endpoints": ["127.0.0.1:2"]}]}]})",
           "destinationRules[0].subsets[1].name"},
          {R"({"destinationRules": [{"host": "orders"}, {"host": "orders"}]})", "destinationRules[1].host"},
          {R"({"virtualServices": [{"host": "orders", "http": [{"route": [{"destination": {"subset": "ghost"}}]}]}]})",
           "virtualServices[0].http[0].route[0].destination.subset"},
          {R"({"virtualServices": [{"host": "orders", "http": [{"route": []}]}]})",
           "virtualServices[0].http[0].route"},
          {R"({"virtualServices": [{"host": "orders", "http": [{"route": [{"destination": {}, "weight": 0}]}]}]})",
           "virtualServices[0].http[0].route"},
          {R"({"virtualServices": [{"host": "orders", "http": [{"match": [{"headers": {"x-canary": {}}}],
               "route": [{"destination": {}}]}]}]})",
           "virtualServices[0].http[0].match[0].headers.x-canary"},
          {R"({"virtualServices": [{"host": "orders", "http": [{"route": [{"destination": {}}],
               "retries": {"attempts": 50}}]}]})",
           "virtualServices[0].http[0].retries.attempts"},
          {R"({"virtualServices": [{"host": "orders", "rateLimit": {"burst": 3}}]})",
           "virtualServices[0].rateLimit.rate"},
          {R"({"rateLimits": {"perClient": {"rate": -1}}})", "rateLimits.perClient.rate"},
          {R"({"rateLimits": {"byHeader": {}}})", "rateLimits.byHeader"},
          {R"({"rateLimits": {"routes": {}}})", "rateLimits.routes"},
          {R"({"rateLimits": {"routes": [{"path": "/api/users", "perClient": {"rate": 1}}]}})",
           "rateLimits.routes[0].method"},
          {R"({"rateLimits": {"routes": [{"method": "BREW", "path": "/api/users", "perClient": {"rate": 1}}]}})",
           "rateLimits.routes[0].method"},
          {R"({"rateLimits": {"routes": [{"method": "POST", "path": "api/users", "perClient": {"rate": 1}}]}})",
           "rateLimits.routes[0].path"},
          {R"({"rateLimits": {"routes": [{"method": "POST", "path": "/api/users?x=1", "perClient": {"rate": 1}}]}})",
           "rateLimits.routes[0].path"},
          {R"({"rateLimits": {"routes": [{"method": "POST", "path": "/api/users"}]}})",
           "rateLimits.routes[0].perClient"},
          {R"({"rateLimits": {"routes": [{"method": "POST", "path": "/api/users", "perClient": {"rate": 0}}]}})",
           "rateLimits.routes[0].perClient.rate"},
          {R"({"rateLimits": {"routes": [{"method": "POST", "path": "/a", "perClient": {"rate": 1}},
               {"method": "POST", "path": "/a", "perClient": {"rate": 2}}]}})",
           "rateLimits.routes[1]"},
          {R"({"retryBudget": {"ratio": 2}})", "retryBudget.ratio"},
      }) {
    auto policy = parse(c.json);
    ASSERT_FALSE(policy) << c.json;
    EXPECT_EQ(policy.error().code, ErrorCode::kValidationFailed) << c.json;
    EXPECT_EQ(policy.error().field, c.field) << c.json << "\n" << policy.error().message;
    EXPECT_NE(policy.error().message.find(c.field), std::string::npos) << policy.error().message;
  }
}

// The gateway adds every duration to the time now; 86400000h and a bare 2^63-1 ms overflowed that sum
// (shown by fuzz/gateway_policy_fuzz.cpp). A day is the most any of them may be.
TEST(Policy, DurationsAreAtMostADay) {
  for (std::string_view duration :
       {R"("86400000h")", R"("25h")", R"("1441m")", R"("86400001")", "86400001", "9223372036854775807"}) {
    auto policy = parse(R"({"retryBudget": {"window": )" + std::string(duration) + "}}");
    ASSERT_FALSE(policy) << duration;
    EXPECT_EQ(policy.error().field, "retryBudget.window") << duration;
  }
  for (std::string_view duration : {R"("24h")", R"("1440m")", R"("86400s")", "86400000"}) {
    auto policy = parse(R"({"retryBudget": {"window": )" + std::string(duration) + "}}");
    ASSERT_TRUE(policy) << duration << ": " << policy.error().message;
    EXPECT_EQ(policy->retry_budget.window, std::chrono::hours(24)) << duration;
  }
}

TEST(Policy, HeaderMatchesAreExactOrPrefix) {
  HeaderMatch exact{"x-canary", "true", std::nullopt};
  EXPECT_TRUE(exact.matches("true"));
  EXPECT_FALSE(exact.matches("truex"));
  HeaderMatch prefix{"user-agent", std::nullopt, "curl/"};
  EXPECT_TRUE(prefix.matches("curl/8.0"));
  EXPECT_FALSE(prefix.matches("Mozilla"));
}

}  // namespace
}  // namespace mercato::gateway
