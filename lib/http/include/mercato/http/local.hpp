// LocalServers: the HTTP servers of this process, so that a call from one module to another inside the
// same process (the monolith, docs/topologies.md) is a function call instead of a TCP round trip.
//
//   http::LocalServers local;
//   local.add(user_server);                 // after start(): keyed by the port it is bound to
//   order_client.route_locally(&local);      // before the pool's threads start
//   co_await order_client.send({"127.0.0.1", user_port}, ...)   // → user_server.serve_local(...)
//
// What stays the same as over TCP: the callee's router, path-parameter checks, request id and trace
// continuation, X-Request-Timeout-Ms turned into the callee's deadline, its per-route metrics and access
// log, the 5xx detail kept out of the answer, HEAD without a body. What does not apply: connection
// pooling, framing and socket timeouts. The caller's deadline reaches the callee as its request deadline
// (handlers that call further pass it on), but a handler that blocks is not interrupted mid-way: there is
// no socket to close under it.
//
// Only loopback endpoints are matched (127.0.0.1, ::1, localhost), and only the ports added here; every
// other endpoint goes over the network as before, which is what lets one module be split out of the
// process by configuration alone.
//
// Thread-safety: add() before any call is made; find() is then read-only and thread-safe.
#pragma once

#include <cstdint>
#include <map>

#include "mercato/http/server.hpp"

namespace mercato::http {

struct Endpoint;

class LocalServers {
 public:
  // `server` must have been started (its port is known then) and must outlive every client using this.
  void add(Server& server);
  // The server of this process that a call to `to` would reach, or nullptr.
  Server* find(const Endpoint& to) const;

 private:
  std::map<std::uint16_t, Server*> by_port_;
};

}  // namespace mercato::http
