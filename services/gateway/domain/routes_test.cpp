#include "domain/routes.hpp"

#include <gtest/gtest.h>

namespace mercato::gateway {
namespace {

TEST(UpstreamTarget, RewritesApiPrefix) {
  EXPECT_EQ(upstream_target("users", "42", ""), "/users/42");
  EXPECT_EQ(upstream_target("users", "", ""), "/users");
  EXPECT_EQ(upstream_target("orders", "", "customer_id=1&page=2"), "/orders?customer_id=1&page=2");
  EXPECT_EQ(upstream_target("users", "a%2Fb/c", "x=1"), "/users/a%2Fb/c?x=1");
}

TEST(RouteTable, FindsConfiguredServicesOnly) {
  RouteTable t;
  t.add({"users", {"127.0.0.1", 8081}, std::chrono::milliseconds(100)});
  ASSERT_NE(t.find("users"), nullptr);
  EXPECT_EQ(t.find("users")->endpoint.port, 8081);
  EXPECT_EQ(t.find("orders"), nullptr);
  EXPECT_EQ(t.find(""), nullptr);
}

TEST(RouteTable, FindsTheUpstreamOfAnExactPath) {
  RouteTable t;
  t.add({"users", {"127.0.0.1", 8081}, std::chrono::milliseconds(100), {"/.well-known/jwks.json"}});
  t.add({"auth", {"127.0.0.1", 8081}, std::chrono::milliseconds(100)});
  ASSERT_NE(t.find_path("/.well-known/jwks.json"), nullptr);
  EXPECT_EQ(t.find_path("/.well-known/jwks.json")->name, "users");
  EXPECT_EQ(t.find_path("/.well-known/other"), nullptr);
  EXPECT_EQ(t.find_path("/.well-known/jwks.json/x"), nullptr);
  EXPECT_EQ(t.find_path("/"), nullptr);
}

}  // namespace
}  // namespace mercato::gateway
