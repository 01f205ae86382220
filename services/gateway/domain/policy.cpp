#include "domain/policy.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <set>

namespace mercato::gateway {
namespace {

using Json = boost::json::value;
using Object = boost::json::object;
using Millis = std::chrono::milliseconds;

// A key path for messages: destinationRules[0].trafficPolicy.loadBalancer.simple
std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

Error bad(const std::string& path, const std::string& what) {
  return Error::validation(path, path + ": " + what);
}

// Unknown keys are refused: a misspelt key would otherwise be a silently ignored setting.
Result<const Object*> object_at(const Json& v, const std::string& path,
                                std::initializer_list<std::string_view> known) {
  if (!v.is_object()) return bad(path, "must be a map");
  const auto& o = v.get_object();
  for (const auto& [key, _] : o) {
    bool ok = false;
    for (auto k : known) ok = ok || key == k;
    if (!ok) return bad(join(path, key), "unknown key");
  }
  return &o;
}

Result<const boost::json::array*> array_at(const Json& v, const std::string& path) {
  if (!v.is_array()) return bad(path, "must be a list");
  return &v.get_array();
}

Result<std::string> text_at(const Json& v, const std::string& path) {
  if (!v.is_string()) return bad(path, "must be text");
  return std::string(v.get_string());
}

Result<std::int64_t> integer_at(const Json& v, const std::string& path, std::int64_t min, std::int64_t max) {
  std::int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(max)) {
    n = static_cast<std::int64_t>(v.get_uint64());
  } else {
    return bad(path, "must be a whole number");
  }
  if (n < min || n > max)
    return bad(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return n;
}

Result<double> number_at(const Json& v, const std::string& path, double min, double max) {
  double n = 0;
  if (v.is_double()) {
    n = v.get_double();
  } else if (v.is_int64()) {
    n = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    n = static_cast<double>(v.get_uint64());
  } else {
    return bad(path, "must be a number");
  }
  if (!std::isfinite(n) || n < min || n > max) {
    return bad(path, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

// The longest duration a policy may give. Longer than any sensible timeout or ejection, and far enough
// from the clock's range: the gateway adds each duration to the time now, and 86400000h, which the
// policy used to accept, overflowed that sum (shown by fuzz/gateway_policy_fuzz.cpp).
constexpr Millis kMaxDuration = std::chrono::hours(24);

// "250ms", "30s", "2m", "1h" (Istio's durations); a bare number is milliseconds. At most 24h.
Result<Millis> duration_at(const Json& v, const std::string& path) {
  Millis d{0};
  if (v.is_int64() && v.get_int64() >= 0) {
    d = Millis(v.get_int64());
  } else if (v.is_string()) {
    std::string_view text = v.get_string();
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    if (ec != std::errc() || n < 0 || n > kMaxDuration.count())
      return bad(path, "must be a duration such as 250ms, 30s, 2m");
    if (unit == "ms" || unit.empty()) {
      d = Millis(n);
    } else if (unit == "s") {
      d = Millis(n * 1000);
    } else if (unit == "m") {
      d = Millis(n * 60'000);
    } else if (unit == "h") {
      d = Millis(n * 3'600'000);
    } else {
      return bad(path, "unknown unit '" + std::string(unit) + "' (ms, s, m, h)");
    }
  } else {
    return bad(path, "must be a duration such as 250ms, 30s, 2m");
  }
  if (d > kMaxDuration) return bad(path, "must be at most 24h");
  return d;
}

Result<void> field_error(Result<void> r, const std::string& path) {
  if (r) return r;
  // The resilience settings name their own struct fields; the policy names its keys.
  return bad(path, r.error().message);
}

Result<resilience::RateLimitSettings> rate_limit_at(const Json& v, const std::string& path) {
  MERCATO_ASSIGN_OR_RETURN(auto o, object_at(v, path, {"rate", "burst"}));
  resilience::RateLimitSettings s;
  if (const auto* rate = o->if_contains("rate")) {
    MERCATO_ASSIGN_OR_RETURN(auto n, number_at(*rate, join(path, "rate"), 0.001, 1e9));
    s.rate = n;
  } else {
    return bad(join(path, "rate"), "is required (requests per second)");
  }
  s.burst = std::max(1.0, std::ceil(s.rate));
  if (const auto* burst = o->if_contains("burst")) {
    MERCATO_ASSIGN_OR_RETURN(auto n, number_at(*burst, join(path, "burst"), 1, 1e9));
    s.burst = n;
  }
  return s;
}

Result<RouteRateLimit> route_limit_at(const Json& v, const std::string& path) {
  MERCATO_ASSIGN_OR_RETURN(auto o, object_at(v, path, {"method", "path", "perClient"}));
  const auto* method = o->if_contains("method");
  const auto* route = o->if_contains("path");
  const auto* limit = o->if_contains("perClient");
  if (method == nullptr) return bad(join(path, "method"), "is required");
  if (route == nullptr) return bad(join(path, "path"), "is required");
  if (limit == nullptr) return bad(join(path, "perClient"), "is required");
  RouteRateLimit r;
  MERCATO_ASSIGN_OR_RETURN(auto m, text_at(*method, join(path, "method")));
  static constexpr std::array<std::string_view, 6> kMethods = {"GET", "HEAD",  "POST",
                                                               "PUT", "PATCH", "DELETE"};
  if (std::find(kMethods.begin(), kMethods.end(), m) == kMethods.end())
    return bad(join(path, "method"), "must be one of GET, HEAD, POST, PUT, PATCH, DELETE");
  r.method = std::move(m);
  MERCATO_ASSIGN_OR_RETURN(auto p, text_at(*route, join(path, "path")));
  if (p.empty() || p.front() != '/' || p.find_first_of("?#{}") != std::string::npos)
    return bad(join(path, "path"), "must be an absolute path without a query, '{' or '}'");
  r.path = std::move(p);
  MERCATO_ASSIGN_OR_RETURN(auto l, rate_limit_at(*limit, join(path, "perClient")));
  r.per_client = l;
  return r;
}

Result<resilience::BreakerSettings> breaker_at(const Json& v, const std::string& path) {
  MERCATO_ASSIGN_OR_RETURN(
      auto o, object_at(v, path,
                        {"mode", "failureThreshold", "failureRateThreshold", "windowSize", "minimumCalls",
                         "recoveryTimeout", "successThreshold", "halfOpenMaxCalls"}));
  resilience::BreakerSettings s;
  if (const auto* mode = o->if_contains("mode")) {
    MERCATO_ASSIGN_OR_RETURN(auto text, text_at(*mode, join(path, "mode")));
    if (text == "consecutive") {
      s.mode = resilience::BreakerSettings::Mode::kConsecutive;
    } else if (text == "failureRate") {
      s.mode = resilience::BreakerSettings::Mode::kFailureRate;
    } else {
      return bad(join(path, "mode"), "must be consecutive or failureRate");
    }
  }
  struct IntKey {
    std::string_view key;
    int* target;
    int min;
  };
  for (auto k :
       {IntKey{"failureThreshold", &s.failure_threshold, 1}, IntKey{"windowSize", &s.window_size, 1},
        IntKey{"minimumCalls", &s.minimum_calls, 1}, IntKey{"successThreshold", &s.success_threshold, 1},
        IntKey{"halfOpenMaxCalls", &s.half_open_max_calls, 1}}) {
    if (const auto* value = o->if_contains(k.key)) {
      MERCATO_ASSIGN_OR_RETURN(auto n, integer_at(*value, join(path, k.key), k.min, 1'000'000));
      *k.target = static_cast<int>(n);
    }
  }
  if (const auto* rate = o->if_contains("failureRateThreshold")) {
    MERCATO_ASSIGN_OR_RETURN(auto n, number_at(*rate, join(path, "failureRateThreshold"), 0.01, 1));
    s.failure_rate_threshold = n;
  }
  if (const auto* timeout = o->if_contains("recoveryTimeout")) {
    MERCATO_ASSIGN_OR_RETURN(auto d, duration_at(*timeout, join(path, "recoveryTimeout")));
    s.recovery_timeout = d;
  }
  MERCATO_RETURN_IF_ERROR(field_error(s.validate(), path));
  return s;
}

Result<resilience::OutlierSettings> outlier_at(const Json& v, const std::string& path) {
  MERCATO_ASSIGN_OR_RETURN(
      auto o,
      object_at(v, path, {"consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent"}));
  resilience::OutlierSettings s;
  if (const auto* n = o->if_contains("consecutive5xxErrors")) {
    MERCATO_ASSIGN_OR_RETURN(auto value, integer_at(*n, join(path, "consecutive5xxErrors"), 1, 1'000'000));
    s.consecutive_5xx = static_cast<int>(value);
  }
  if (const auto* d = o->if_contains("interval")) {
    MERCATO_ASSIGN_OR_RETURN(auto value, duration_at(*d, join(path, "interval")));
    if (value <= Millis(0)) return bad(join(path, "interval"), "must be positive");
    s.interval = value;
  }
  if (const auto* d = o->if_contains("baseEjectionTime")) {
    MERCATO_ASSIGN_OR_RETURN(auto value, duration_at(*d, join(path, "baseEjectionTime")));
    if (value <= Millis(0)) return bad(join(path, "baseEjectionTime"), "must be positive");
    s.base_ejection_time = value;
  }
  if (const auto* n = o->if_contains("maxEjectionPercent")) {
    MERCATO_ASSIGN_OR_RETURN(auto value, integer_at(*n, join(path, "maxEjectionPercent"), 0, 100));
    s.max_ejection_percent = static_cast<int>(value);
  }
  return s;
}

Result<void> traffic_policy_at(const Json& v, const std::string& path, ServicePolicy& service) {
  MERCATO_ASSIGN_OR_RETURN(
      auto o, object_at(v, path, {"loadBalancer", "connectionPool", "outlierDetection", "circuitBreaker"}));
  if (const auto* lb = o->if_contains("loadBalancer")) {
    auto lb_path = join(path, "loadBalancer");
    MERCATO_ASSIGN_OR_RETURN(auto lbo, object_at(*lb, lb_path, {"simple"}));
    if (const auto* simple = lbo->if_contains("simple")) {
      MERCATO_ASSIGN_OR_RETURN(auto text, text_at(*simple, join(lb_path, "simple")));
      if (text == "ROUND_ROBIN") {
        service.balancing = resilience::Balancing::kRoundRobin;
      } else if (text == "LEAST_REQUEST") {
        service.balancing = resilience::Balancing::kLeastRequest;
      } else {
        return bad(join(lb_path, "simple"), "must be ROUND_ROBIN or LEAST_REQUEST");
      }
    }
  }
  if (const auto* pool = o->if_contains("connectionPool")) {
    auto pool_path = join(path, "connectionPool");
    MERCATO_ASSIGN_OR_RETURN(auto po, object_at(*pool, pool_path, {"tcp", "http"}));
    if (const auto* tcp = po->if_contains("tcp")) {
      MERCATO_ASSIGN_OR_RETURN(auto to, object_at(*tcp, join(pool_path, "tcp"), {"maxConnections"}));
      if (const auto* n = to->if_contains("maxConnections")) {
        MERCATO_ASSIGN_OR_RETURN(auto value,
                                 integer_at(*n, join(pool_path, "tcp.maxConnections"), 1, 1'000'000));
        service.connection_pool.max_concurrent = static_cast<int>(value);
      }
    }
    if (const auto* http = po->if_contains("http")) {
      MERCATO_ASSIGN_OR_RETURN(auto ho,
                               object_at(*http, join(pool_path, "http"), {"http1MaxPendingRequests"}));
      if (const auto* n = ho->if_contains("http1MaxPendingRequests")) {
        MERCATO_ASSIGN_OR_RETURN(
            auto value, integer_at(*n, join(pool_path, "http.http1MaxPendingRequests"), 0, 1'000'000));
        service.connection_pool.max_pending = static_cast<int>(value);
      }
    }
  }
  if (const auto* od = o->if_contains("outlierDetection")) {
    MERCATO_ASSIGN_OR_RETURN(auto s, outlier_at(*od, join(path, "outlierDetection")));
    service.outlier_detection = s;
  }
  if (const auto* cb = o->if_contains("circuitBreaker")) {
    MERCATO_ASSIGN_OR_RETURN(auto s, breaker_at(*cb, join(path, "circuitBreaker")));
    service.circuit_breaker = s;
  }
  return {};
}

// The route a rule's `host` names (required; one the route table serves).
Result<ServicePolicy*> service_at(const Object& rule, const std::string& path, Policy& policy) {
  const auto* host_value = rule.if_contains("host");
  if (host_value == nullptr) return bad(join(path, "host"), "is required (a route the gateway serves)");
  MERCATO_ASSIGN_OR_RETURN(auto host, text_at(*host_value, join(path, "host")));
  auto it = policy.services.find(host);
  if (it == policy.services.end()) return bad(join(path, "host"), "no service named '" + host + "'");
  return &it->second;
}

Result<void> destination_rule_at(const Json& v, const std::string& path, Policy& policy) {
  MERCATO_ASSIGN_OR_RETURN(auto o, object_at(v, path, {"host", "trafficPolicy", "subsets"}));
  MERCATO_ASSIGN_OR_RETURN(auto found, service_at(*o, path, policy));
  auto& service = *found;
  if (const auto* tp = o->if_contains("trafficPolicy")) {
    if (auto r = traffic_policy_at(*tp, join(path, "trafficPolicy"), service); !r) return r;
  }
  if (const auto* subsets = o->if_contains("subsets")) {
    auto subsets_path = join(path, "subsets");
    MERCATO_ASSIGN_OR_RETURN(auto list, array_at(*subsets, subsets_path));
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto sp = index(subsets_path, i);
      MERCATO_ASSIGN_OR_RETURN(auto so, object_at((*list)[i], sp, {"name", "endpoints", "labels"}));
      const auto* name_value = so->if_contains("name");
      if (name_value == nullptr) return bad(join(sp, "name"), "is required");
      MERCATO_ASSIGN_OR_RETURN(auto name, text_at(*name_value, join(sp, "name")));
      if (name.empty()) return bad(join(sp, "name"), "must not be empty");
      if (name == kDefaultSubset) return bad(join(sp, "name"), "'default' is the service's own upstream");
      if (service.subsets.contains(name))
        return bad(join(sp, "name"), "subset '" + name + "' is defined twice");
      const auto* endpoints_value = so->if_contains("endpoints");
      const auto* labels_value = so->if_contains("labels");
      if (endpoints_value != nullptr && labels_value != nullptr)
        return bad(join(sp, "labels"), "give either endpoints or labels, not both");
      if (labels_value != nullptr) {
        // Istio selects a subset's pods by label; here by the version an instance registered with.
        auto lp = join(sp, "labels");
        MERCATO_ASSIGN_OR_RETURN(auto labels, object_at(*labels_value, lp, {"version"}));
        const auto* version_value = labels->if_contains("version");
        if (version_value == nullptr) return bad(join(lp, "version"), "is required");
        MERCATO_ASSIGN_OR_RETURN(auto version, text_at(*version_value, join(lp, "version")));
        if (version.empty()) return bad(join(lp, "version"), "must not be empty");
        service.subset_versions.emplace(name, std::move(version));
        service.subsets.emplace(std::move(name), std::vector<http::Endpoint>{});
        continue;
      }
      if (endpoints_value == nullptr)
        return bad(join(sp, "endpoints"), "is required (host:port list), or labels: {version: ...}");
      MERCATO_ASSIGN_OR_RETURN(auto endpoints, array_at(*endpoints_value, join(sp, "endpoints")));
      if (endpoints->empty()) return bad(join(sp, "endpoints"), "must list at least one host:port");
      std::vector<http::Endpoint> parsed;
      for (std::size_t j = 0; j < endpoints->size(); ++j) {
        auto ep = index(join(sp, "endpoints"), j);
        MERCATO_ASSIGN_OR_RETURN(auto text, text_at((*endpoints)[j], ep));
        auto endpoint = http::Endpoint::parse(text);
        if (!endpoint) return bad(ep, endpoint.error().message);
        parsed.push_back(*endpoint);
      }
      service.subsets.emplace(std::move(name), std::move(parsed));
    }
  }
  return {};
}

Result<HeaderMatch> header_match_at(std::string name, const Json& v, const std::string& path) {
  MERCATO_ASSIGN_OR_RETURN(auto o, object_at(v, path, {"exact", "prefix"}));
  HeaderMatch m;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  m.name = std::move(name);
  if (const auto* exact = o->if_contains("exact")) {
    MERCATO_ASSIGN_OR_RETURN(auto text, text_at(*exact, join(path, "exact")));
    m.exact = std::move(text);
  }
  if (const auto* prefix = o->if_contains("prefix")) {
    MERCATO_ASSIGN_OR_RETURN(auto text, text_at(*prefix, join(path, "prefix")));
    m.prefix = std::move(text);
  }
  if (!m.exact == !m.prefix) return bad(path, "needs exactly one of exact or prefix");
  return m;
}

Result<HttpRoute> http_route_at(const Json& v, const std::string& path, const ServicePolicy& service) {
  MERCATO_ASSIGN_OR_RETURN(auto o, object_at(v, path, {"match", "route", "timeout", "retries"}));
  HttpRoute route;
  if (const auto* match = o->if_contains("match")) {
    auto match_path = join(path, "match");
    MERCATO_ASSIGN_OR_RETURN(auto blocks, array_at(*match, match_path));
    for (std::size_t i = 0; i < blocks->size(); ++i) {
      auto bp = index(match_path, i);
      MERCATO_ASSIGN_OR_RETURN(auto bo, object_at((*blocks)[i], bp, {"headers"}));
      std::vector<HeaderMatch> block;
      if (const auto* headers = bo->if_contains("headers")) {
        auto hp = join(bp, "headers");
        if (!headers->is_object()) return bad(hp, "must be a map of header name to {exact|prefix}");
        for (const auto& [name, spec] : headers->get_object()) {
          MERCATO_ASSIGN_OR_RETURN(auto m, header_match_at(std::string(name), spec, join(hp, name)));
          block.push_back(std::move(m));
        }
      }
      if (block.empty()) return bad(bp, "matches nothing (give headers)");
      route.match.push_back(std::move(block));
    }
  }
  const auto* destinations = o->if_contains("route");
  if (destinations == nullptr) return bad(join(path, "route"), "is required");
  auto route_path = join(path, "route");
  MERCATO_ASSIGN_OR_RETURN(auto list, array_at(*destinations, route_path));
  if (list->empty()) return bad(route_path, "must name at least one destination");
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto dp = index(route_path, i);
    MERCATO_ASSIGN_OR_RETURN(auto d, object_at((*list)[i], dp, {"destination", "weight"}));
    WeightedDestination wd;
    const auto* destination = d->if_contains("destination");
    if (destination == nullptr) return bad(join(dp, "destination"), "is required");
    MERCATO_ASSIGN_OR_RETURN(auto dest, object_at(*destination, join(dp, "destination"), {"host", "subset"}));
    wd.subset = std::string(kDefaultSubset);
    if (const auto* subset = dest->if_contains("subset")) {
      MERCATO_ASSIGN_OR_RETURN(auto name, text_at(*subset, join(dp, "destination.subset")));
      if (!service.subsets.contains(name))
        return bad(join(dp, "destination.subset"), "no subset named '" + name + "' in the destination rule");
      wd.subset = std::move(name);
    }
    if (const auto* weight = d->if_contains("weight")) {
      MERCATO_ASSIGN_OR_RETURN(auto n, integer_at(*weight, join(dp, "weight"), 0, 100));
      wd.weight = static_cast<int>(n);
    } else if (list->size() > 1) {
      return bad(join(dp, "weight"), "is required when a route has several destinations");
    }
    route.route.push_back(std::move(wd));
  }
  if (total_weight(route) <= 0) return bad(route_path, "weights must not all be 0");
  if (const auto* timeout = o->if_contains("timeout")) {
    MERCATO_ASSIGN_OR_RETURN(auto d, duration_at(*timeout, join(path, "timeout")));
    if (d <= Millis(0)) return bad(join(path, "timeout"), "must be positive");
    route.timeout = d;
  }
  if (const auto* retries = o->if_contains("retries")) {
    auto rp = join(path, "retries");
    MERCATO_ASSIGN_OR_RETURN(auto ro,
                             object_at(*retries, rp, {"attempts", "perTryTimeout", "baseDelay", "maxDelay"}));
    // Istio's attempts counts retries, not tries.
    if (const auto* attempts = ro->if_contains("attempts")) {
      MERCATO_ASSIGN_OR_RETURN(auto n, integer_at(*attempts, join(rp, "attempts"), 0, 9));
      route.retries.attempts = static_cast<int>(n) + 1;
    }
    if (const auto* per_try = ro->if_contains("perTryTimeout")) {
      MERCATO_ASSIGN_OR_RETURN(auto d, duration_at(*per_try, join(rp, "perTryTimeout")));
      route.retries.per_try_timeout = d;
    }
    if (const auto* base = ro->if_contains("baseDelay")) {
      MERCATO_ASSIGN_OR_RETURN(auto d, duration_at(*base, join(rp, "baseDelay")));
      route.retries.base_delay = d;
    }
    if (const auto* max = ro->if_contains("maxDelay")) {
      MERCATO_ASSIGN_OR_RETURN(auto d, duration_at(*max, join(rp, "maxDelay")));
      route.retries.max_delay = d;
    }
    MERCATO_RETURN_IF_ERROR(field_error(route.retries.validate(), rp));
  }
  return route;
}

Result<void> virtual_service_at(const Json& v, const std::string& path, Policy& policy) {
  MERCATO_ASSIGN_OR_RETURN(auto o, object_at(v, path, {"host", "http", "rateLimit"}));
  MERCATO_ASSIGN_OR_RETURN(auto found, service_at(*o, path, policy));
  auto& service = *found;
  if (!service.http.empty()) {
    return bad(join(path, "host"),
               "a second virtual service for '" + std::string(o->at("host").as_string()) + "'");
  }
  if (const auto* http = o->if_contains("http")) {
    auto hp = join(path, "http");
    MERCATO_ASSIGN_OR_RETURN(auto list, array_at(*http, hp));
    for (std::size_t i = 0; i < list->size(); ++i) {
      MERCATO_ASSIGN_OR_RETURN(auto route, http_route_at((*list)[i], index(hp, i), service));
      service.http.push_back(std::move(route));
    }
  }
  if (const auto* limit = o->if_contains("rateLimit")) {
    MERCATO_ASSIGN_OR_RETURN(auto s, rate_limit_at(*limit, join(path, "rateLimit")));
    service.rate_limit = s;
  }
  return {};
}

}  // namespace

bool HeaderMatch::matches(std::string_view value) const {
  if (exact) return value == *exact;
  return prefix && value.starts_with(*prefix);
}

int total_weight(const HttpRoute& route) {
  int total = 0;
  for (const auto& d : route.route) total += d.weight;
  return total;
}

const WeightedDestination& pick_destination(const HttpRoute& route, int ticket) {
  for (const auto& d : route.route) {
    if (ticket < d.weight) return d;
    ticket -= d.weight;
  }
  return route.route.back();
}

Result<Policy> parse_policy(const boost::json::value& document, const RouteTable& routes) {
  Policy policy;
  for (const auto& [name, upstream] : routes.all()) {
    ServicePolicy service;
    service.subsets.emplace(std::string(kDefaultSubset), std::vector<http::Endpoint>{upstream.endpoint});
    policy.services.emplace(name, std::move(service));
  }
  if (document.is_null()) return policy;
  MERCATO_ASSIGN_OR_RETURN(
      auto top,
      object_at(document, "", {"destinationRules", "virtualServices", "rateLimits", "retryBudget"}));
  const auto& o = *top;
  // Destination rules first: the virtual services' destinations name their subsets.
  if (const auto* rules = o.if_contains("destinationRules")) {
    MERCATO_ASSIGN_OR_RETURN(auto list, array_at(*rules, "destinationRules"));
    std::set<std::string> hosts;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const auto& rule = (*list)[i];
      if (rule.is_object()) {
        if (const auto* host = rule.get_object().if_contains("host"); host && host->is_string()) {
          if (!hosts.insert(std::string(host->get_string())).second)
            return bad(index("destinationRules", i) + ".host", "a second destination rule for this host");
        }
      }
      MERCATO_RETURN_IF_ERROR(destination_rule_at(rule, index("destinationRules", i), policy));
    }
  }
  if (const auto* services = o.if_contains("virtualServices")) {
    MERCATO_ASSIGN_OR_RETURN(auto list, array_at(*services, "virtualServices"));
    for (std::size_t i = 0; i < list->size(); ++i) {
      MERCATO_RETURN_IF_ERROR(virtual_service_at((*list)[i], index("virtualServices", i), policy));
    }
  }
  if (const auto* limits = o.if_contains("rateLimits")) {
    MERCATO_ASSIGN_OR_RETURN(auto lo, object_at(*limits, "rateLimits", {"perClient", "routes"}));
    if (const auto* per_client = lo->if_contains("perClient")) {
      MERCATO_ASSIGN_OR_RETURN(auto s, rate_limit_at(*per_client, "rateLimits.perClient"));
      policy.per_client = s;
    }
    if (const auto* route_limits = lo->if_contains("routes")) {
      MERCATO_ASSIGN_OR_RETURN(auto list, array_at(*route_limits, "rateLimits.routes"));
      for (std::size_t i = 0; i < list->size(); ++i) {
        auto path = index("rateLimits.routes", i);
        MERCATO_ASSIGN_OR_RETURN(auto r, route_limit_at((*list)[i], path));
        for (const auto& other : policy.route_limits) {
          if (other.method == r.method && other.path == r.path)
            return bad(path, "a second limit for " + r.method + " " + r.path);
        }
        policy.route_limits.push_back(std::move(r));
      }
    }
  }
  if (const auto* budget = o.if_contains("retryBudget")) {
    MERCATO_ASSIGN_OR_RETURN(auto bo, object_at(*budget, "retryBudget", {"ratio", "minPerSecond", "window"}));
    if (const auto* ratio = bo->if_contains("ratio")) {
      MERCATO_ASSIGN_OR_RETURN(auto n, number_at(*ratio, "retryBudget.ratio", 0, 1));
      policy.retry_budget.ratio = n;
    }
    if (const auto* min = bo->if_contains("minPerSecond")) {
      MERCATO_ASSIGN_OR_RETURN(auto n, number_at(*min, "retryBudget.minPerSecond", 0, 1e6));
      policy.retry_budget.min_per_second = n;
    }
    if (const auto* window = bo->if_contains("window")) {
      MERCATO_ASSIGN_OR_RETURN(auto d, duration_at(*window, "retryBudget.window"));
      if (d <= Millis(0)) return bad("retryBudget.window", "must be positive");
      policy.retry_budget.window = d;
    }
  }
  return policy;
}

}  // namespace mercato::gateway
