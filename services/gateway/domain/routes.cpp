#include "domain/routes.hpp"

namespace mercato::gateway {

const Upstream* RouteTable::find(std::string_view service) const {
  auto it = upstreams_.find(service);
  return it == upstreams_.end() ? nullptr : &it->second;
}

const Upstream* RouteTable::find_path(std::string_view path) const {
  for (const auto& [name, upstream] : upstreams_) {
    for (const auto& p : upstream.paths) {
      if (p == path) return &upstream;
    }
  }
  return nullptr;
}

std::string upstream_target(std::string_view service, std::string_view rest, std::string_view query) {
  std::string target;
  target.reserve(2 + service.size() + rest.size() + query.size() + 1);
  target.push_back('/');
  target.append(service);
  if (!rest.empty()) {
    target.push_back('/');
    target.append(rest);
  }
  if (!query.empty()) {
    target.push_back('?');
    target.append(query);
  }
  return target;
}

}  // namespace mercato::gateway
