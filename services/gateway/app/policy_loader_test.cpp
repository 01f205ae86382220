// The policy file's text to a Policy: what the gateway reads at start and on every reload.
#include "app/policy_loader.hpp"

#include <gtest/gtest.h>

namespace mercato::gateway {
namespace {

RouteTable routes() {
  RouteTable t;
  t.add({"orders", *http::Endpoint::parse("127.0.0.1:8082"), std::chrono::seconds(5)});
  t.add({"users", *http::Endpoint::parse("127.0.0.1:8081"), std::chrono::seconds(5)});
  return t;
}

TEST(ParsePolicyYaml, EmptyTextIsTheDefaultPolicy) {
  auto policy = parse_policy_yaml("", routes());
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(policy->services.size(), 2U);
  EXPECT_FALSE(policy->per_client);
}

TEST(ParsePolicyYaml, ReadsThePolicyFormat) {
  auto policy = parse_policy_yaml(R"(
destinationRules:
  - host: orders
    trafficPolicy:
      circuitBreaker: {failureThreshold: 3, recoveryTimeout: 10s}
    subsets:
      - {name: canary, endpoints: ["127.0.0.1:9082"]}
rateLimits:
  perClient: {rate: 100, burst: 200}
)",
                                  routes());
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(policy->services.at("orders").circuit_breaker.failure_threshold, 3);
  EXPECT_TRUE(policy->services.at("orders").subsets.contains("canary"));
  ASSERT_TRUE(policy->per_client);
  EXPECT_EQ(policy->per_client->burst, 200);
}

TEST(ParsePolicyYaml, TextThatIsNotYamlIsMalformedAndNamesTheFile) {
  auto policy = parse_policy_yaml("destinationRules: [ {host: orders\n", routes(), "config/p.yaml");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().code, ErrorCode::kMalformedRequest);
  EXPECT_NE(policy.error().message.find("config/p.yaml"), std::string::npos) << policy.error().message;
}

TEST(ParsePolicyYaml, AnInvalidPolicyNamesTheKey) {
  auto policy = parse_policy_yaml(
      "destinationRules:\n  - host: orders\n    trafficPolicy: {circuitBreaker: "
      "{failureTreshold: 5}}\n",
      routes());
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(policy.error().field, "destinationRules[0].trafficPolicy.circuitBreaker.failureTreshold");
}

}  // namespace
}  // namespace mercato::gateway
