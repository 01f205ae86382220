#include "mercato/catalog/catalog.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "mercato/config/config.hpp"

namespace mercato::catalog {
namespace {

namespace fs = std::filesystem;

TEST(Catalog, FindsAServiceByNameRouteAndPath) {
  const auto* user = find("user");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->kind, Kind::kService);
  EXPECT_EQ(find_route("users"), user);
  EXPECT_EQ(find_route("auth"), user) << "one service, two routes";
  EXPECT_EQ(find_path("/.well-known/jwks.json"), user);
  EXPECT_EQ(find("nosuch"), nullptr);
  EXPECT_EQ(find_route("nosuch"), nullptr);
  EXPECT_EQ(find_route(""), nullptr);
  EXPECT_EQ(find_path("/.well-known"), nullptr);
  EXPECT_EQ(find_path("/.well-known/jwks.json/x"), nullptr);
}

// What the build checked in each description (cmake/mercato_services.cmake) holds in the table it made.
TEST(Catalog, DescriptionsAgreeWithEachOther) {
  std::set<std::string_view> names, routes, paths;
  std::set<std::uint16_t> ports;
  int gateways = 0;
  std::uint16_t previous_port = 0;
  for (const auto& s : all()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_TRUE(ports.insert(s.port).second) << s.name << ": port " << s.port;
    EXPECT_GT(s.port, previous_port) << "the table is in the order of the default ports";
    previous_port = s.port;
    if (s.kind == Kind::kGateway) {
      ++gateways;
      EXPECT_TRUE(s.routes.empty() && s.paths.empty() && s.calls.empty()) << s.name;
    }
    for (auto route : s.routes) EXPECT_TRUE(routes.insert(route).second) << s.name << ": route " << route;
    for (auto path : s.paths) {
      EXPECT_TRUE(paths.insert(path).second) << s.name << ": path " << path;
      EXPECT_TRUE(path.starts_with('/') && !path.starts_with("/api/") && path != "/api") << path;
    }
    if (!s.paths.empty()) {
      EXPECT_FALSE(s.routes.empty()) << s.name << ": paths need a route";
    }
    for (auto other : s.calls) {
      ASSERT_NE(find(other), nullptr) << s.name << " calls " << other;
      EXPECT_EQ(find(other)->kind, Kind::kService) << s.name << " calls " << other;
      EXPECT_NE(other, s.name);
    }
  }
  EXPECT_EQ(gateways, 1);
}

// The files that follow from a name exist, and the shipped configuration listens where the description
// says (it is the port a process started by hand uses; ./mercato up passes the description's).
TEST(Catalog, EachProcessHasItsConfigurationAndEachServiceItsContract) {
  const fs::path root = MERCATO_SOURCE_DIR;
  for (const auto& s : all()) {
    const auto config = root / "config" / (std::string(s.name) + ".yaml");
    ASSERT_TRUE(fs::exists(config)) << config;
    auto source = config::Source::load(config.string(), nullptr);
    EXPECT_EQ(source.section("server").port("port", 0), s.port) << config;
    if (!s.routes.empty()) {
      EXPECT_TRUE(fs::exists(root / "api" / (std::string(s.name) + ".yaml"))) << s.name;
    }
  }
}

}  // namespace
}  // namespace mercato::catalog
