#include "app/routes_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

namespace mercato::gateway {
namespace {

using ::testing::HasSubstr;

// A catalog of its own, so the tests say what they route whatever the real descriptions hold.
constexpr std::array<std::string_view, 0> kNone{};
constexpr std::array<std::string_view, 2> kUserRoutes{"users", "auth"};
constexpr std::array<std::string_view, 1> kUserPaths{"/.well-known/jwks.json"};
constexpr std::array<std::string_view, 1> kOrderRoutes{"orders"};
constexpr std::array<std::string_view, 1> kOrderCalls{"user"};
constexpr std::array<catalog::Service, 3> kCatalog{{
    {"gateway", catalog::Kind::kGateway, 8080, kNone, kNone, catalog::Storage::kNone, kNone},
    {"user", catalog::Kind::kService, 8081, kUserRoutes, kUserPaths, catalog::Storage::kSqlite, kNone},
    {"order", catalog::Kind::kService, 8082, kOrderRoutes, kNone, catalog::Storage::kSqlite, kOrderCalls},
}};

RouteTable routes_of(const std::map<std::string, std::string>& env) {
  return read_routes(config::Source::from_strings("", env), kCatalog);
}

std::string refusal(const std::map<std::string, std::string>& env) {
  try {
    routes_of(env);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(RoutesConfig, AServiceGetsTheRoutesAndPathsOfItsDescription) {
  auto table = routes_of({{"APP_GATEWAY__SERVICES__USER__UPSTREAM", "127.0.0.1:9081"},
                          {"APP_GATEWAY__SERVICES__USER__REQUEST_TIMEOUT", "250ms"}});
  ASSERT_EQ(table.all().size(), 2U);
  for (const auto* route : {table.find("users"), table.find("auth")}) {
    ASSERT_NE(route, nullptr);
    EXPECT_EQ(route->endpoint.port, 9081);
    EXPECT_EQ(route->request_timeout, std::chrono::milliseconds(250));
    EXPECT_EQ(route->service, "user");
  }
  ASSERT_NE(table.find_path("/.well-known/jwks.json"), nullptr);
  EXPECT_EQ(table.find_path("/.well-known/jwks.json")->name, "users") << "paths go with the first route";
  EXPECT_TRUE(table.find("auth")->paths.empty());
}

TEST(RoutesConfig, AServiceWithoutAnAddressIsNotRouted) {
  auto table = routes_of({{"APP_GATEWAY__SERVICES__ORDER__UPSTREAM", "127.0.0.1:9082"}});
  ASSERT_NE(table.find("orders"), nullptr);
  EXPECT_EQ(table.find("orders")->request_timeout, std::chrono::seconds(5));
  EXPECT_EQ(table.find("users"), nullptr);
  EXPECT_EQ(table.find("auth"), nullptr);
  EXPECT_EQ(table.find_path("/.well-known/jwks.json"), nullptr);
  EXPECT_TRUE(routes_of({}).all().empty());
}

TEST(RoutesConfig, AnUpstreamThatIsNoServiceNamesItsRoutes) {
  auto table = routes_of({{"APP_GATEWAY__SERVICES__ECHO__UPSTREAM", "127.0.0.1:9000"},
                          {"APP_GATEWAY__SERVICES__ECHO__ROUTES", "echo,echo-2"}});
  ASSERT_NE(table.find("echo"), nullptr);
  ASSERT_NE(table.find("echo-2"), nullptr);
  EXPECT_EQ(table.find("echo-2")->service, "echo");
  EXPECT_EQ(table.find("echo-2")->endpoint.port, 9000);

  EXPECT_THAT(
      refusal({{"APP_GATEWAY__SERVICES__ECHO__UPSTREAM", "127.0.0.1:9000"}}),
      HasSubstr("config key 'gateway.services.echo.routes': 'echo' is no described service (user, order;"));
}

TEST(RoutesConfig, EachMistakeIsRefusedNamingItsKey) {
  EXPECT_THAT(refusal({{"APP_GATEWAY__SERVICES__USER__UPSTREAM", "nohostport"}}),
              HasSubstr("config key 'gateway.services.user.upstream'"));
  EXPECT_THAT(refusal({{"APP_GATEWAY__SERVICES__USER__REQUEST_TIMEOUT", "1s"}}),
              HasSubstr("gateway.services.user.upstream"));
  // A described service's routes are its description's, not configuration.
  EXPECT_THAT(refusal({{"APP_GATEWAY__SERVICES__USER__UPSTREAM", "127.0.0.1:9081"},
                       {"APP_GATEWAY__SERVICES__USER__ROUTES", "people"}}),
              HasSubstr("config key 'gateway.services.user.routes': the routes of 'user' are those of its "
                        "description, services/user/service.conf"));
  // A route's name where the service's belongs (the keys before descriptions were per route).
  EXPECT_THAT(refusal({{"APP_GATEWAY__SERVICES__USERS__UPSTREAM", "127.0.0.1:9081"}}),
              HasSubstr("config key 'gateway.services.users': 'users' is a route of the service 'user'; its "
                        "address is gateway.services.user.upstream"));
  // An upstream of its own may not take a service's route, nor one another upstream has.
  EXPECT_THAT(
      refusal({{"APP_GATEWAY__SERVICES__ECHO__UPSTREAM", "127.0.0.1:9000"},
               {"APP_GATEWAY__SERVICES__ECHO__ROUTES", "orders"}}),
      HasSubstr("config key 'gateway.services.echo.routes': 'orders' is a route of the service 'order'"));
  EXPECT_THAT(refusal({{"APP_GATEWAY__SERVICES__A__UPSTREAM", "127.0.0.1:9000"},
                       {"APP_GATEWAY__SERVICES__A__ROUTES", "x"},
                       {"APP_GATEWAY__SERVICES__B__UPSTREAM", "127.0.0.1:9001"},
                       {"APP_GATEWAY__SERVICES__B__ROUTES", "x"}}),
              HasSubstr("config key 'gateway.services.b': route 'x' is served by 'a' already"));
  for (const auto* bad : {"Echo", "a/b", "-x", "x y"}) {
    EXPECT_THAT(refusal({{"APP_GATEWAY__SERVICES__ECHO__UPSTREAM", "127.0.0.1:9000"},
                         {"APP_GATEWAY__SERVICES__ECHO__ROUTES", bad}}),
                HasSubstr("config key 'gateway.services.echo.routes': '" + std::string(bad) +
                          "' is not a route name"));
  }
}

// With the real catalog: what ./mercato up's one variable for the user service makes the gateway route.
TEST(RoutesConfig, TheUserServiceDescriptionRoutesItsApiAndItsKeys) {
  auto table = read_routes(
      config::Source::from_strings("", {{"APP_GATEWAY__SERVICES__USER__UPSTREAM", "127.0.0.1:8081"}}));
  ASSERT_NE(table.find("users"), nullptr);
  ASSERT_NE(table.find("auth"), nullptr);
  ASSERT_NE(table.find_path("/.well-known/jwks.json"), nullptr);
  EXPECT_EQ(table.find_path("/.well-known/jwks.json")->service, "user");
}

}  // namespace
}  // namespace mercato::gateway
