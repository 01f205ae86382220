#include "api/proxy.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
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

boost::asio::awaitable<http::Response> proxy(const RouteTable& table, http::Client& client,
                                             const http::Request& req) {
  auto service = req.param("service");
  const Upstream* upstream = table.find(service);
  if (upstream == nullptr) {
    co_return http::Response::error(Error::not_found("no service named '" + std::string(service) + "'"),
                                    req.request_id);
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

  auto result = co_await client.send(upstream->endpoint, std::move(out),
                                     {.timeout = upstream->request_timeout, .deadline = req.deadline});
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

void register_routes(http::Router& router, const RouteTable& table, http::Client& client) {
  auto handler = [&table, &client](const http::Request& req) { return proxy(table, client, req); };
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
