#include "app/routes_config.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace mercato::gateway {
namespace {

const catalog::Service* described(std::span<const catalog::Service> catalog, std::string_view name) {
  auto it = std::find_if(catalog.begin(), catalog.end(), [&](const catalog::Service& s) {
    return s.kind == catalog::Kind::kService && s.name == name;
  });
  return it == catalog.end() ? nullptr : &*it;
}

const catalog::Service* owner_of_route(std::span<const catalog::Service> catalog, std::string_view route) {
  for (const auto& s : catalog)
    if (std::find(s.routes.begin(), s.routes.end(), route) != s.routes.end()) return &s;
  return nullptr;
}

// The route names descriptions may use (scripts/services.sh, cmake/mercato_services.cmake): one path
// segment, never one that needs escaping.
bool valid_route(std::string_view route) {
  if (route.empty() || route.front() < 'a' || route.front() > 'z') return false;
  return std::all_of(route.begin(), route.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

[[noreturn]] void refuse(const std::string& key, const std::string& why) {
  throw config::ConfigError("config key '" + key + "': " + why);
}

std::string described_names(std::span<const catalog::Service> catalog) {
  std::string names;
  for (const auto& s : catalog) {
    if (s.kind != catalog::Kind::kService) continue;
    if (!names.empty()) names += ", ";
    names += s.name;
  }
  return names;
}

}  // namespace

RouteTable read_routes(const config::Source& config, std::span<const catalog::Service> catalog) {
  RouteTable table;
  auto services = config.section("gateway.services");
  for (const auto& name : services.child_keys()) {
    auto s = services.section(name);
    auto endpoint = http::Endpoint::parse(s.required_string("upstream"));
    if (!endpoint) refuse(s.path() + ".upstream", endpoint.error().message);
    auto timeout = s.duration("request_timeout", std::chrono::seconds(5));
    auto listed = s.string_list("routes");
    std::vector<std::string> routes, paths;
    if (const auto* service = described(catalog, name)) {
      if (!listed.empty()) {
        refuse(s.path() + ".routes", "the routes of '" + name + "' are those of its description, services/" +
                                         name + "/service.conf");
      }
      routes.assign(service->routes.begin(), service->routes.end());
      paths.assign(service->paths.begin(), service->paths.end());
    } else {
      // The old keys were per route: say which key replaces a route's, rather than "no routes".
      if (const auto* owner = owner_of_route(catalog, name)) {
        refuse(s.path(), "'" + name + "' is a route of the service '" + std::string(owner->name) +
                             "'; its address is gateway.services." + std::string(owner->name) + ".upstream");
      }
      if (listed.empty()) {
        refuse(s.path() + ".routes", "'" + name + "' is no described service (" + described_names(catalog) +
                                         "; services/<name>/service.conf), so its routes must be listed");
      }
      for (const auto& route : listed) {
        if (!valid_route(route))
          refuse(s.path() + ".routes", "'" + route + "' is not a route name ([a-z][a-z0-9-]*)");
        if (const auto* owner = owner_of_route(catalog, route)) {
          refuse(s.path() + ".routes",
                 "'" + route + "' is a route of the service '" + std::string(owner->name) + "'");
        }
      }
      routes = std::move(listed);
    }
    for (std::size_t i = 0; i < routes.size(); ++i) {
      if (const auto* other = table.find(routes[i])) {
        refuse(s.path(), "route '" + routes[i] + "' is served by '" + other->service + "' already");
      }
      // The paths go with the first route: they share its traffic policy and metrics.
      table.add({routes[i], *endpoint, timeout, i == 0 ? paths : std::vector<std::string>{}, name, i});
    }
  }
  return table;
}

}  // namespace mercato::gateway
