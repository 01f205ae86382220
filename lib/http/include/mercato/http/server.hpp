// Server: HTTP/1.1 with keep-alive on Beast and Asio coroutines.
//
// What every service gets from it, so handlers contain only their own logic:
// - limits with the right statuses: body → 413, headers (with trailers and chunk extensions) → 431; a
//   client that is idle between requests or too slow to send one is timed out and closed;
// - framing that a proxy could read differently (Transfer-Encoding other than one `chunked`, both
//   Content-Length and Transfer-Encoding, repeated Content-Length or Host, ...) → 400, and the connection
//   is closed; trailer fields are dropped (docs/security.md);
// - one 100 Continue for `Expect: 100-continue`; HEAD wherever GET is, without the body;
// - path parameters that are not UTF-8 or hold control characters → 400 naming the parameter;
// - 404 and 405 (with Allow) as the JSON error shape; a handler's exception → a logged 500, never a crash;
//   a 5xx shows the client a generic message and the request id, and logs the detail (Response::error);
// - X-Request-ID taken or generated and echoed, W3C traceparent continued, X-Request-Timeout-Ms turned
//   into Request::deadline;
// - per-route request/error counters and a latency histogram in the metrics registry;
// - with a tracer (tracing on): a SERVER span per request, named "<method> <route>", with the HTTP
//   semantic-convention attributes and status ERROR on a 5xx (none for /health/* and /metrics: probes
//   and scrapes); its context is Request::trace. A sync
//   route runs with it as the ambient context (tracing.hpp), so its database spans and events join it;
//   an async route passes req.trace on itself;
// - graceful shutdown: stop accepting, close idle connections, finish in-flight requests, then report.
//
//   http::Server server(pool, settings, std::move(router), logger, metrics);
//   server.start();                         // binds; throws std::system_error when the port is taken
//   ...
//   server.shutdown([&] { pool.stop(); });  // `done` runs once every connection has closed
//
// Threading: one acceptor per IoPool worker (SO_REUSEPORT); a connection stays on its worker.
// start() and shutdown() may be called from any thread. Destroy the Server after the pool's threads
// have stopped (IoPool::stop, join) and before the IoPool itself.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mercato/http/io_pool.hpp"
#include "mercato/http/router.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::http {

struct ServerSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: pick a free port (see Server::port())
  std::uint64_t max_body_bytes = std::uint64_t{1024} * 1024;
  std::uint64_t max_header_bytes = std::uint64_t{16} * 1024;
  // Once a request's first byte arrives, the whole request must arrive within this time.
  std::chrono::milliseconds request_timeout{10'000};
  // A keep-alive connection with no request in progress is closed after this time.
  std::chrono::milliseconds idle_timeout{60'000};
  // How long shutdown waits for in-flight requests before closing their connections.
  std::chrono::milliseconds shutdown_grace{10'000};
  bool access_log = false;
};

class Server {
 public:
  // `tracer`: nullptr when tracing is off; else it must outlive the server.
  Server(IoPool& pool, ServerSettings settings, Router router, const obs::Logger& logger,
         obs::Registry& metrics, const obs::Tracer* tracer = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  // Before start(): a connection that opens with the HTTP/2 connection preface (a gRPC client's) is
  // handed to `adopt` as its socket's file descriptor, which `adopt` then owns; every other connection
  // is this server's. Costs each new connection one peek at its first bytes. Without it, HTTP/2 is
  // answered as a malformed HTTP/1.1 request.
  void on_http2(std::function<void(int fd)> adopt);
  // The bound port (useful when settings.port was 0). Valid after start().
  std::uint16_t port() const noexcept;
  // Serves `request` as if it had arrived on a connection (local.hpp: a call from another module of the
  // same process): routing, checks, metrics and access log as for a network request. The answer is
  // what a client would have read: framing headers removed, X-Request-ID set, no body for HEAD and
  // bodyless statuses, `detail` empty. Must be awaited on a worker of this server's IoPool; never throws.
  boost::asio::awaitable<Response> serve_local(Request request);
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mercato::http
