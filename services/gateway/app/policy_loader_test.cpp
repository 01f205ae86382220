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

// An alias inside the node its anchor names is a node that contains itself: reading it overflowed the
// stack (shown by fuzz/gateway_policy_fuzz.cpp; the input is in its corpus). Aliases that repeat aliases
// would expand without bound.
TEST(ParsePolicyYaml, AnAliasThatContainsItselfIsRefusedNotAStackOverflow) {
  for (const char* text : {"destinationRules: &x [*x]\n", "retryBudget: &x {window: *x}\n"}) {
    auto policy = parse_policy_yaml(text, routes());
    ASSERT_FALSE(policy) << text;
    EXPECT_EQ(policy.error().code, ErrorCode::kMalformedRequest) << text;
    EXPECT_NE(policy.error().message.find("nested more than 32 levels"), std::string::npos)
        << policy.error().message;
  }
  std::string laughs = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
  for (char level = 'b'; level <= 'h'; ++level) {
    std::string previous(1, static_cast<char>(level - 1));
    laughs += std::string(1, level) + ": &" + std::string(1, level) + " [";
    for (int i = 0; i < 10; ++i) laughs += (i == 0 ? "*" : ", *") + previous;
    laughs += "]\n";
  }
  auto policy = parse_policy_yaml(laughs, routes());
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("more than 10000 values"), std::string::npos)
      << policy.error().message;
}

// yaml-cpp keeps both copies of a repeated key; the policy would silently have used the last one.
TEST(ParsePolicyYaml, ADuplicateKeyIsRefused) {
  auto policy = parse_policy_yaml("retryBudget: {ratio: 0.1}\nretryBudget: {ratio: 0.9}\n", routes());
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().code, ErrorCode::kMalformedRequest);
  EXPECT_NE(policy.error().message.find("duplicate key 'retryBudget'"), std::string::npos)
      << policy.error().message;
}

// from_chars reads "inf" and "nan" as numbers, which JSON cannot hold: they stay text, and the policy
// says what it expected.
TEST(ParsePolicyYaml, InfAndNanAreTextNotNumbers) {
  auto policy = parse_policy_yaml("retryBudget: {minPerSecond: inf}\n", routes());
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().field, "retryBudget.minPerSecond");
  EXPECT_NE(policy.error().message.find("must be a number"), std::string::npos) << policy.error().message;
}

}  // namespace
}  // namespace mercato::gateway
