#include "api/proxy.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <random>
#include <vector>

namespace mercato::gateway {
namespace {

// The header names a message's Connection headers list (every Connection header counts: a client may
// send several, or one with a list). Read once per message, not once per header.
std::vector<std::string_view> connection_tokens(const http::Headers& headers) {
  std::vector<std::string_view> tokens;
  for (const auto& [header, value] : headers.entries()) {
    if (!http::iequals(header, "Connection")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto token = rest.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
      if (!token.empty()) tokens.push_back(token);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return tokens;
}

// Copies end-to-end headers only (RFC 9110 §7.6.1).
void copy_end_to_end(const http::Headers& from, http::Headers& to) {
  auto listed = connection_tokens(from);
  for (const auto& [name, value] : from.entries()) {
    if (http::is_hop_by_hop(name) || http::iequals(name, "Host") || http::iequals(name, "Content-Length") ||
        std::any_of(listed.begin(), listed.end(),
                    [&](std::string_view t) { return http::iequals(t, name); })) {
      continue;
    }
    to.add(name, value);
  }
}

// Refusals before any upstream call: the JSON error shape, with Retry-After when waiting helps.
http::Response refused(Error e, const http::Request& req, std::chrono::milliseconds retry_after) {
  auto res = http::Response::error(e, req.request_id);
  if (retry_after.count() > 0) {
    auto seconds = (retry_after.count() + 999) / 1000;  // whole seconds, rounded up (RFC 9110 §10.2.3)
    res.headers.set("Retry-After", std::to_string(seconds));
  }
  return res;
}

std::string client_identity(const http::Request& req) {
  if (auto id = req.headers.get("X-Client-Id"); id && !id->empty()) return "id:" + std::string(*id);
  return "addr:" + req.remote_address;
}

std::uint64_t random_u64() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

// Waits for a slot of the service's connection pool: true when the call may run (it then owns a slot).
boost::asio::awaitable<bool> wait_for_slot(resilience::Bulkhead& pool, std::uint64_t id,
                                           const std::shared_ptr<boost::asio::steady_timer>& timer,
                                           const std::shared_ptr<std::atomic<bool>>& woken) {
  auto [ec] = co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  (void)ec;  // cancelled: woken; expired: timed out — the flag tells which
  if (woken->load()) co_return true;
  // Timed out; if the slot was handed over meanwhile, it is ours after all.
  co_return !pool.abandon(id);
}

boost::asio::awaitable<http::Response> proxy(const RouteTable& table, http::Client& client,
                                             const PolicyHolder& policies, const http::Request& req) {
  auto service = req.param("service");
  const Upstream* upstream = table.find(service);
  if (upstream == nullptr) {
    co_return http::Response::error(Error::not_found("no service named '" + std::string(service) + "'"),
                                    req.request_id);
  }
  auto traffic = policies.current();
  auto* svc = traffic->service(service);
  auto now = resilience::Clock::now();
  std::string name(service);

  if (auto* limiter = traffic->per_client()) {
    auto d = limiter->take(client_identity(req), now);
    if (!d.allowed) {
      traffic->per_client_rejections()->inc();
      co_return refused(Error::rate_limited("too many requests from this client; retry later"), req,
                        d.retry_after);
    }
  }
  if (svc->limiter) {
    auto d = svc->limiter->take(name, now);
    if (!d.allowed) {
      svc->rejected_rate_limited->inc();
      co_return refused(Error::rate_limited("too many requests for service '" + name + "'; retry later"), req,
                        d.retry_after);
    }
  }

  const auto& policy = *svc->policy;
  const HttpRoute* route = select_route(
      policy,
      [&](const std::string& header) -> std::optional<std::string_view> { return req.headers.get(header); });
  std::string_view subset_name = kDefaultSubset;
  if (route != nullptr) {
    subset_name = pick_destination(*route, static_cast<int>(random_u64() %
                                                            static_cast<std::uint64_t>(total_weight(*route))))
                      .subset;
  }
  auto* subset = svc->subset(subset_name);

  auto& breaker = *svc->breaker;
  if (!breaker.try_acquire(now)) {
    svc->rejected_circuit_open->inc();
    co_return refused(Error::unavailable("service '" + name + "' is failing: its circuit is open"), req,
                      breaker.retry_after(now));
  }

  auto timeout = route != nullptr && route->timeout ? *route->timeout : upstream->request_timeout;
  auto& pool = *svc->bulkhead;
  auto woken = std::make_shared<std::atomic<bool>>(false);
  auto executor = co_await boost::asio::this_coro::executor;
  auto timer = std::make_shared<boost::asio::steady_timer>(executor);
  auto ticket = pool.enter([woken, timer, executor] {
    woken->store(true);
    boost::asio::post(executor, [timer] { timer->cancel(); });
  });
  if (ticket.admission == resilience::Bulkhead::Admission::kQueued) {
    auto wait_until = std::chrono::steady_clock::now() + timeout;
    if (req.deadline && *req.deadline < wait_until) wait_until = *req.deadline;
    timer->expires_at(wait_until);
    if (!co_await wait_for_slot(pool, ticket.id, timer, woken))
      ticket.admission = resilience::Bulkhead::Admission::kRefused;
  }
  if (ticket.admission == resilience::Bulkhead::Admission::kRefused) {
    breaker.on_ignored();
    svc->rejected_pool_full->inc();
    co_return refused(Error::unavailable("too many requests in flight to service '" + name + "'"), req,
                      std::chrono::milliseconds(1000));
  }

  http::ClientRequest out;
  out.method = req.method;
  out.method_name = req.method_name;
  out.target = upstream_target(service, req.param("rest"), req.query);
  out.headers.reserve(req.headers.entries().size() + 4);
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

  resilience::RetrySettings retries = route != nullptr ? route->retries : resilience::RetrySettings{};
  bool retriable = resilience::is_retriable(
      req.method_name.empty() ? http::to_string(req.method) : std::string_view(req.method_name),
      req.headers.get("Idempotency-Key").has_value());
  auto per_try = retries.per_try_timeout.count() > 0 ? std::min(retries.per_try_timeout, timeout) : timeout;
  auto& budget = *svc->budget;
  budget.on_request(now);
  thread_local std::mt19937_64 jitter{std::random_device{}()};

  Result<http::Response> result = Error::unavailable("no attempt made");
  bool no_instance = false;
  for (int attempt = 1;; ++attempt) {
    auto available = subset->available();
    auto instance = subset->balancer->pick(available);
    if (!instance) {
      no_instance = true;
      result = Error::unavailable("no healthy instance");
      break;
    }
    http::ClientRequest copy = out;  // each attempt sends its own copy
    subset->balancer->started(*instance);
    result = co_await client.send(subset->endpoints[*instance], std::move(copy),
                                  {.timeout = per_try, .deadline = req.deadline});
    subset->balancer->finished(*instance);
    bool server_error = !result || result->status >= 500;
    subset->record(*instance, server_error, resilience::Clock::now());
    if (!server_error || attempt >= retries.attempts || !retriable) break;
    auto delay = resilience::retry_delay(retries, attempt, jitter);
    if (req.deadline && std::chrono::steady_clock::now() + delay >= *req.deadline) break;
    if (!budget.try_retry(resilience::Clock::now())) {
      svc->budget_exhausted->inc();
      break;
    }
    svc->retries->inc();
    boost::asio::steady_timer pause(executor, delay);
    co_await pause.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  pool.leave();
  bool failed = !result || result->status >= 500;
  if (no_instance) {
    breaker.on_ignored();
    svc->rejected_no_instance->inc();
  } else if (failed) {
    breaker.on_failure(resilience::Clock::now());
  } else {
    breaker.on_success(resilience::Clock::now());
  }

  if (!result) {
    Error e = result.error();
    e.message = "service '" + std::string(service) + "': " + e.message;
    co_return http::Response::error(e, req.request_id);
  }
  http::Response res;
  res.status = result->status;
  res.body = std::move(result->body);
  copy_end_to_end(result->headers, res.headers);
  res.headers.remove(http::kRequestIdHeader);  // the server sets the one id of this exchange
  co_return res;
}

}  // namespace

void register_routes(http::Router& router, const RouteTable& table, http::Client& client,
                     const PolicyHolder& policy) {
  auto handler = [&table, &client, &policy](const http::Request& req) {
    return proxy(table, client, policy, req);
  };
  router.any_async("/api/{service}", handler);
  router.any_async("/api/{service}/{rest...}", handler);
  router.get("/api", [&table](const http::Request&) {
    boost::json::array services;
    for (const auto& [name, upstream] : table.all()) {
      services.push_back(boost::json::object{{"name", name}, {"prefix", "/api/" + name}});
    }
    return http::Response::json(200, boost::json::object{{"services", std::move(services)}});
  });
}

}  // namespace mercato::gateway
