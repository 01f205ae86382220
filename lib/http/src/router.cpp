#include "mercato/http/router.hpp"

#include <stdexcept>

namespace mercato::http {
namespace {

void split_path(std::string_view path, std::vector<std::string_view>& out) {
  out.clear();
  if (path.empty() || path.front() != '/') return;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
}

bool is_param(std::string_view s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

}  // namespace

Router& Router::insert(Route route) {
  if (route.pattern.empty() || route.pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + route.pattern);
  }
  Compiled c;
  std::vector<std::string_view> pattern_parts;
  split_path(route.pattern, pattern_parts);
  for (auto seg : pattern_parts) c.segments.emplace_back(seg);
  for (std::size_t i = 0; i < c.segments.size(); ++i) {
    const auto& s = c.segments[i];
    if (is_param(s) && s.size() > 5 && s.ends_with("...}")) {
      if (i + 1 != c.segments.size()) {
        throw std::invalid_argument("a {name...} segment must come last: " + route.pattern);
      }
      c.greedy_tail = true;
    }
  }
  route.index = routes_.size();
  routes_.push_back(std::move(route));
  compiled_.push_back(std::move(c));
  return *this;
}

Router& Router::add(Method method, std::string_view pattern, SyncHandler handler) {
  return insert(Route{method, std::string(pattern), std::move(handler), {}, 0});
}

Router& Router::add_async(Method method, std::string_view pattern, AsyncHandler handler) {
  return insert(Route{method, std::string(pattern), {}, std::move(handler), 0});
}

void Router::wrap_sync(const std::function<AsyncHandler(SyncHandler)>& wrap) {
  for (auto& route : routes_) {
    if (!route.sync) continue;
    route.async = wrap(std::move(route.sync));
    route.sync = nullptr;
  }
}

Router& Router::any_async(std::string_view pattern, AsyncHandler handler) {
  return insert(Route{std::nullopt, std::string(pattern), {}, std::move(handler), 0});
}

bool Router::match_pattern(const Compiled& c, std::string_view path,
                           const std::vector<std::string_view>& parts,
                           std::vector<std::pair<std::string, std::string>>& params) {
  params.clear();
  if (parts.empty()) return false;
  std::size_t fixed = c.greedy_tail ? c.segments.size() - 1 : c.segments.size();
  if (c.greedy_tail ? parts.size() < c.segments.size() : parts.size() != c.segments.size()) return false;
  for (std::size_t i = 0; i < fixed; ++i) {
    const auto& seg = c.segments[i];
    if (is_param(seg)) {
      if (parts[i].empty()) return false;
      params.emplace_back(seg.substr(1, seg.size() - 2), percent_decode_path(parts[i]));
    } else if (seg != parts[i]) {
      return false;
    }
  }
  if (c.greedy_tail) {
    const auto& seg = c.segments.back();
    // The raw remainder of the path, from the start of its first segment to the end.
    auto start = static_cast<std::size_t>(parts[fixed].data() - path.data());
    params.emplace_back(seg.substr(1, seg.size() - 5), std::string(path.substr(start)));
  }
  return true;
}

RouteMatch Router::match(Method method, std::string_view path) const {
  RouteMatch result;
  std::vector<std::pair<std::string, std::string>> params;
  params.reserve(4);
  // Split once per request, not once per route, into this thread's scratch vector (no allocation once warm).
  thread_local std::vector<std::string_view> parts;
  split_path(path, parts);
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (!match_pattern(compiled_[i], path, parts, params)) continue;
    const Route& r = routes_[i];
    // HEAD is answered wherever GET is (RFC 9110 §9.3.2): the GET's handler runs and the server sends
    // its headers without the body.
    if (!r.method || *r.method == method || (method == Method::kHead && *r.method == Method::kGet)) {
      result.kind = RouteMatch::Kind::kFound;
      result.route = &r;
      result.params = std::move(params);
      result.allow.clear();
      return result;
    }
    result.kind = RouteMatch::Kind::kMethodNotAllowed;
    auto allow = [&](Method m) {
      if (result.allow.find(to_string(m)) != std::string::npos) return;
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += to_string(m);
    };
    allow(*r.method);
    if (*r.method == Method::kGet) allow(Method::kHead);
  }
  return result;
}

}  // namespace mercato::http
