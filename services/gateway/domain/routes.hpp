// The gateway's routing table: which upstream serves /api/{service}/..., and how the path is rewritten.
// Pure logic, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/http/client.hpp"

namespace mercato::gateway {

// One route: where /api/<name>/... goes (app/routes_config.hpp reads them).
struct Upstream {
  std::string name;  // the route: the first path segment after /api/, e.g. "users"
  http::Endpoint endpoint;
  std::chrono::milliseconds request_timeout{5000};
  // Exact paths outside /api/ forwarded unchanged to this upstream, e.g. /.well-known/jwks.json for
  // the user service: well-known locations cannot live under /api/<name>/.
  std::vector<std::string> paths;
  std::string service;  // whose route it is (gateway.services.<service>), e.g. "user" for "users" and "auth"
  std::size_t position =
      0;  // its place among its service's routes, as described: 0 for "users", 1 for "auth"
};

class RouteTable {
 public:
  void add(Upstream upstream) { upstreams_.insert_or_assign(upstream.name, std::move(upstream)); }
  const Upstream* find(std::string_view service) const;
  // The upstream that serves the exact path `path` (Upstream::paths), or nullptr.
  const Upstream* find_path(std::string_view path) const;
  const std::map<std::string, Upstream, std::less<>>& all() const noexcept { return upstreams_; }

 private:
  std::map<std::string, Upstream, std::less<>> upstreams_;
};

// /api/{service}/{rest}?q → /{service}/{rest}?q. `rest` is the raw (still percent-encoded) remainder.
std::string upstream_target(std::string_view service, std::string_view rest, std::string_view query);

}  // namespace mercato::gateway
