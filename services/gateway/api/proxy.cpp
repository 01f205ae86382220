#include "api/proxy.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <random>
#include <vector>

#include "api/hop_by_hop.hpp"

namespace mercato::gateway {
namespace {

// Refusals before any upstream call: the JSON error shape, with Retry-After when waiting helps. Their
// messages are the gateway's own and name only the service (circuit open, too many in flight), so they
// reach the client as they are.
http::Response refused(const Error& e, const http::Request& req, std::chrono::milliseconds retry_after) {
  auto res = http::Response::error_verbatim(e, req.request_id, {});
  if (retry_after.count() > 0) {
    auto seconds = (retry_after.count() + 999) / 1000;  // whole seconds, rounded up (RFC 9110 §10.2.3)
    res.headers.set("Retry-After", std::to_string(seconds));
  }
  return res;
}

// Rate limits count per verified subject, or per address when anonymous: never per a header the client
// picks (rotating it would reset its budget).
std::string client_identity(const http::Request& req, const auth::Principal& who) {
  if (who.role == auth::Role::kAnonymous) return "addr:" + req.remote_address;
  return "sub:" + who.subject;
}

std::uint64_t random_u64() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

// `target`: what the upstream is asked for (path and query).
boost::asio::awaitable<http::Response> forward(const Upstream* upstream, std::string target,
                                               const Entry& entry, const http::Request& req) {
  // The token is checked here as well as by the service: a bad one never costs an upstream call, and the
  // rate limits below count by who the caller really is.
  auto who = entry.identity.identify(req);
  if (!who) co_return service::refused(who.error(), req);
  if (who->role == auth::Role::kService) {
    // Services call each other directly; their identity arriving from outside means it leaked.
    co_return service::refused(
        Error::permission_denied("service identities are not accepted through the gateway"), req);
  }
  std::string_view service = upstream->name;
  auto traffic = entry.policies.current();
  auto* svc = traffic->service(service);
  auto now = resilience::Clock::now();
  std::string name(service);

  auto* per_client = traffic->per_client();
  auto* per_route = traffic->route_limiter(http::to_string(req.method), req.path);
  if (per_client != nullptr || per_route != nullptr) {
    auto client = client_identity(req, *who);
    for (auto* limiter : {per_route, per_client}) {
      if (limiter == nullptr) continue;
      auto d = limiter->take(client, now);
      if (!d.allowed) {
        traffic->per_client_rejections()->inc();
        co_return refused(Error::rate_limited("too many requests from this client; retry later"), req,
                          d.retry_after);
      }
    }
  }
  if (svc->limiter) {
    auto d = svc->limiter->take(name, now);
    if (!d.allowed) {
      svc->rate_limited->inc();
      co_return refused(Error::rate_limited("too many requests for service '" + name + "'; retry later"), req,
                        d.retry_after);
    }
  }

  const HttpRoute* route =
      select_route(*svc->policy, [&](const std::string& header) { return req.headers.get(header); });
  std::string_view subset = kDefaultSubset;
  if (route != nullptr) {
    auto ticket = static_cast<int>(random_u64() % static_cast<std::uint64_t>(total_weight(*route)));
    subset = pick_destination(*route, ticket).subset;
  }

  http::ClientRequest out;
  out.method = req.method;
  out.method_name = req.method_name;
  out.target = std::move(target);
  out.headers.reserve(req.headers.size() + 4, 256);
  copy_end_to_end(req.headers, out.headers);
  out.headers.set(http::kRequestIdHeader, req.request_id);
  out.headers.set(http::kTraceparentHeader, req.trace.to_traceparent());
  std::string forwarded_for(req.headers.get("X-Forwarded-For").value_or(""));
  if (!req.remote_address.empty()) {
    forwarded_for = forwarded_for.empty() ? req.remote_address : forwarded_for + ", " + req.remote_address;
  }
  if (!forwarded_for.empty()) out.headers.set("X-Forwarded-For", forwarded_for);
  out.headers.set("X-Forwarded-Proto", "http");
  out.body = req.body;

  resilience::Upstream::CallSettings settings{.deadline = req.deadline};
  if (route != nullptr) {
    settings.timeout = route->timeout;
    settings.retries = route->retries;
  }
  auto method = req.method_name.empty() ? http::to_string(req.method) : std::string_view(req.method_name);
  bool retriable = resilience::is_retriable(method, req.headers.get("Idempotency-Key").has_value());
  auto call = co_await svc->subset(subset)->call(std::move(out), settings, retriable);
  if (call.refused != resilience::Refused::kNone) {
    co_return refused(call.result.error(), req, call.retry_after);
  }
  if (!call.result) {
    // The client gets the code and the request id; the detail (with the upstream's address) is logged.
    Error e = call.result.error();
    e.message = "service '" + name + "': " + e.message;
    co_return http::Response::error(e, req.request_id);
  }
  http::Response res;
  res.status = call.result->status;
  res.body = std::move(call.result->body);
  res.headers = std::move(call.result->headers);
  // A HEAD's answer has no body but the length the GET's would have: keep the upstream's for the server.
  std::string head_length;
  if (req.method == http::Method::kHead)
    head_length = std::string(res.headers.get("Content-Length").value_or(""));
  keep_end_to_end(res.headers);
  if (!head_length.empty()) res.headers.set("Content-Length", head_length);
  res.headers.remove(http::kRequestIdHeader);  // the server sets the one id of this exchange
  co_return res;
}

boost::asio::awaitable<http::Response> proxy(const Entry& entry, const http::Request& req) {
  auto service = req.param("service");
  const Upstream* upstream = entry.table.find(service);
  if (upstream == nullptr) {
    co_return http::Response::error(Error::not_found("no service named '" + std::string(service) + "'"),
                                    req.request_id);
  }
  co_return co_await forward(upstream, upstream_target(service, req.param("rest"), req.query), entry, req);
}

}  // namespace

void register_routes(http::Router& router, const Entry& entry) {
  const auto& table = entry.table;
  auto handler = [&entry](const http::Request& req) { return proxy(entry, req); };
  router.any_async("/api/{service}", handler);
  router.any_async("/api/{service}/{rest...}", handler);
  // Exact paths outside /api/ (a service description's `paths`), forwarded as they came, under the same
  // traffic policy as the service's first route.
  for (const auto& [name, upstream] : table.all()) {
    for (const auto& path : upstream.paths) {
      const Upstream* target = &upstream;
      router.any_async(path, [target, &entry](const http::Request& req) {
        return forward(target, req.query.empty() ? req.path : req.path + "?" + req.query, entry, req);
      });
    }
  }
  router.get("/api", [&table](const http::Request&) {
    boost::json::array services;
    for (const auto& [name, upstream] : table.all()) {
      services.push_back(boost::json::object{{"name", name}, {"prefix", "/api/" + name}});
    }
    return http::Response::json(200, boost::json::object{{"services", std::move(services)}});
  });
}

}  // namespace mercato::gateway
