// Router: maps (method, path) to a handler, with path parameters.
//
//   http::Router router;
//   router.get("/users/{id}", [&](const http::Request& req) { return get_user(req.param("id")); });
//   router.any_async("/api/{service}/{rest...}", proxy);   // {name...} takes the rest of the path
//
// Patterns are '/'-separated segments: literals, `{name}` (one non-empty segment, percent-decoded) or a
// final `{name...}` (one or more remaining segments, kept raw, e.g. for a proxy to forward as is).
// A path that matches a pattern but not its method gives 405 with the allowed methods.
//
// Thread-safety: build the router before the server starts; matching is read-only and thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/http/message.hpp"

namespace mercato::http {

using SyncHandler = std::function<Response(const Request&)>;
// The request outlives the returned awaitable: the server awaits it before touching the request again.
using AsyncHandler = std::function<boost::asio::awaitable<Response>(const Request&)>;

struct Route {
  std::optional<Method> method;  // nullopt: any method
  std::string pattern;
  SyncHandler sync;
  AsyncHandler async;
  std::size_t index = 0;  // position in Router::routes(), for per-route state such as metrics
};

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;  // "GET, PATCH" when kMethodNotAllowed
};

class Router {
 public:
  Router& add(Method method, std::string_view pattern, SyncHandler handler);
  Router& add_async(Method method, std::string_view pattern, AsyncHandler handler);
  Router& any_async(std::string_view pattern, AsyncHandler handler);

  Router& get(std::string_view pattern, SyncHandler h) { return add(Method::kGet, pattern, std::move(h)); }
  Router& post(std::string_view pattern, SyncHandler h) { return add(Method::kPost, pattern, std::move(h)); }
  Router& put(std::string_view pattern, SyncHandler h) { return add(Method::kPut, pattern, std::move(h)); }
  Router& patch(std::string_view pattern, SyncHandler h) {
    return add(Method::kPatch, pattern, std::move(h));
  }
  Router& del(std::string_view pattern, SyncHandler h) { return add(Method::kDelete, pattern, std::move(h)); }

  // Turns every synchronous route added so far into an asynchronous one, wrap(handler): how a service
  // whose storage is a network database runs its handlers off the I/O thread (lib/service, "storage
  // pool"). Routes added afterwards stay as they are.
  void wrap_sync(const std::function<AsyncHandler(SyncHandler)>& wrap);

  // The first route whose pattern and method match; a GET route also matches HEAD.
  RouteMatch match(Method method, std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{id}" kept as is; matching checks the braces
    bool greedy_tail = false;
  };
  Router& insert(Route route);
  static bool match_pattern(const Compiled& c, std::string_view path,
                            const std::vector<std::string_view>& parts,
                            std::vector<std::pair<std::string, std::string>>& params);

  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

}  // namespace mercato::http
