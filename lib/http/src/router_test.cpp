#include "mercato/http/router.hpp"

#include <gtest/gtest.h>

namespace mercato::http {
namespace {

Response ok(const Request&) { return Response::no_content(); }

TEST(Router, MatchesLiteralAndParams) {
  Router r;
  r.get("/users/{id}", ok).post("/users", ok);
  auto m = r.match(Method::kGet, "/users/42");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/users/{id}");
  ASSERT_EQ(m.params.size(), 1U);
  EXPECT_EQ(m.params[0].first, "id");
  EXPECT_EQ(m.params[0].second, "42");
  EXPECT_EQ(r.match(Method::kPost, "/users").kind, RouteMatch::Kind::kFound);
}

TEST(Router, DecodesPathParams) {
  Router r;
  r.get("/users/{id}", ok);
  auto m = r.match(Method::kGet, "/users/a%20b");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.params[0].second, "a b");
}

TEST(Router, UnknownPathIsNotFound) {
  Router r;
  r.get("/users/{id}", ok);
  EXPECT_EQ(r.match(Method::kGet, "/orders/1").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/users").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/users/1/x").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(r.match(Method::kGet, "/users/").kind, RouteMatch::Kind::kNotFound);  // empty id
  EXPECT_EQ(r.match(Method::kGet, "").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, WrongMethodListsAllowed) {
  Router r;
  r.get("/users/{id}", ok).patch("/users/{id}", ok);
  auto m = r.match(Method::kDelete, "/users/1");
  EXPECT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD, PATCH");
}

TEST(Router, HeadMatchesAGetRoute) {
  Router r;
  r.post("/users/{id}", ok).get("/users/{id}", ok);
  auto m = r.match(Method::kHead, "/users/1");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.route->method, Method::kGet);
  EXPECT_EQ(r.match(Method::kHead, "/nope").kind, RouteMatch::Kind::kNotFound);
  Router post_only;
  post_only.post("/users", ok);
  EXPECT_EQ(post_only.match(Method::kHead, "/users").kind, RouteMatch::Kind::kMethodNotAllowed);
}

TEST(Router, GreedyTailKeepsRawRemainder) {
  Router r;
  r.any_async("/api/{service}/{rest...}", nullptr);
  auto m = r.match(Method::kPost, "/api/users/42/x%2Fy");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  ASSERT_EQ(m.params.size(), 2U);
  EXPECT_EQ(m.params[0].second, "users");
  EXPECT_EQ(m.params[1].first, "rest");
  EXPECT_EQ(m.params[1].second, "42/x%2Fy");
  EXPECT_EQ(r.match(Method::kGet, "/api/users").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, FirstRegisteredRouteWins) {
  Router r;
  r.get("/users/me", ok).get("/users/{id}", ok);
  EXPECT_EQ(r.match(Method::kGet, "/users/me").route->pattern, "/users/me");
  EXPECT_EQ(r.match(Method::kGet, "/users/7").route->pattern, "/users/{id}");
}

TEST(Router, RejectsBadPatterns) {
  Router r;
  EXPECT_THROW(r.get("users", ok), std::invalid_argument);
  EXPECT_THROW(r.any_async("/a/{rest...}/b", nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace mercato::http
