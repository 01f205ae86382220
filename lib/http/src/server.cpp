#include "mercato/http/server.hpp"

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <list>
#include <memory>
#include <optional>
#include <vector>

#include "connection.hpp"
#include "mercato/asio/names.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/core/text.hpp"
#include "parser.hpp"
#include "wire.hpp"

namespace mercato::http {

using namespace mercato::net;  // asio, beast, bhttp, tcp, kUseTuple (mercato/asio/names.hpp)

namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct RouteMetrics {
  std::array<obs::Counter*, 4> by_class{};  // 2xx, 3xx, 4xx, 5xx
  obs::Counter* errors = nullptr;           // 5xx
  obs::Histogram* latency = nullptr;

  void record(int status, double seconds) {
    int cls = status / 100 - 2;
    if (cls >= 0 && cls < 4) by_class[cls]->inc();
    if (status >= 500) errors->inc();
    latency->observe(seconds);
  }
};

using Acceptor = asio::basic_socket_acceptor<tcp, detail::Executor>;

struct Connection : detail::Connection {
  using detail::Connection::Connection;
  bool idle = true;  // waiting for the first byte of a request: safe to close on shutdown
};

struct Worker {
  asio::io_context* io = nullptr;
  std::unique_ptr<Acceptor> acceptor;
  std::list<std::shared_ptr<Connection>> connections;  // touched only on this worker's thread
  std::unique_ptr<asio::steady_timer> grace_timer;
  bool shutting_down = false;
  bool reported = false;
};

// A request id we echo into logs and responses must be short and printable; anything else is replaced.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

Error classify_read_error(const boost::system::error_code& ec, const char* refusal) {
  if (refusal != nullptr) return Error::malformed(std::string("invalid request: ") + refusal);
  if (ec == bhttp::error::body_limit) return {ErrorCode::kPayloadTooLarge, "request body is too large", {}};
  if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return {ErrorCode::kHeadersTooLarge,
            "request header section, chunk extensions or trailer section are too large",
            {}};
  }
  if (ec == bhttp::error::bad_transfer_encoding || ec == bhttp::error::bad_content_length) {
    return Error::malformed("invalid framing: " + ec.message() +
                            " (Content-Length and Transfer-Encoding must not both be sent)");
  }
  return Error::malformed("malformed HTTP request: " + ec.message());
}

std::string status_class_label(int i) { return std::to_string(i + 2) + "xx"; }

// What a new connection speaks, told by its first bytes without taking them from the socket.
enum class Opening { kHttp1, kHttp2, kGone };

// The first line of the HTTP/2 connection preface (RFC 9113 §3.4, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
// which no HTTP/1 request line can be: a connection is HTTP/1.1 from its first byte that differs.
constexpr std::string_view kHttp2Opening = "PRI * HTTP/2.0\r\n";

// Peeks at a new connection's first bytes (MSG_PEEK: they stay for whoever reads the connection).
// kGone: the client closed or sent nothing within `idle`, or shutdown cancelled the wait.
asio::awaitable<Opening> sniff_opening(detail::Socket& socket, std::chrono::milliseconds idle) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer deadline(executor, idle);
  for (;;) {
    auto first =
        co_await (socket.async_wait(tcp::socket::wait_read, kUseTuple) || deadline.async_wait(kUseTuple));
    if (first.index() == 1 || std::get<0>(std::get<0>(first))) co_return Opening::kGone;
    std::array<char, kHttp2Opening.size()> head{};
    boost::system::error_code ec;
    auto n = socket.receive(asio::buffer(head), tcp::socket::message_peek, ec);
    if (ec || n == 0) co_return Opening::kGone;
    std::string_view seen(head.data(), n);
    if (kHttp2Opening.substr(0, n) != seen) co_return Opening::kHttp1;
    if (n == kHttp2Opening.size()) co_return Opening::kHttp2;
    // A prefix of it so far (a client writing byte by byte): the bytes stay readable, so wait a moment
    // rather than spin on a socket that is always ready.
    asio::steady_timer pause(executor, std::chrono::milliseconds(1));
    co_await pause.async_wait(kUseTuple);
    if (std::chrono::steady_clock::now() >= deadline.expiry()) co_return Opening::kGone;
  }
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(IoPool& p, ServerSettings s, Router r, const obs::Logger& l, obs::Registry& m, const obs::Tracer* t)
      : pool(p), settings(std::move(s)), router(std::move(r)), logger(l), metrics(m), tracer(t) {
    for (const auto& route : router.routes()) {
      route_metrics.push_back(
          make_route_metrics(route.method ? to_string(*route.method) : "ANY", route.pattern));
    }
    unmatched = make_route_metrics("ANY", "unmatched");
    active_connections = &metrics.gauge("http_server_active_connections", "Open client connections");
  }

  RouteMetrics make_route_metrics(std::string_view method, const std::string& route) {
    RouteMetrics rm;
    obs::Labels base{{"method", std::string(method)}, {"route", route}};
    for (int i = 0; i < 4; ++i) {
      auto labels = base;
      labels.emplace_back("status_class", status_class_label(i));
      rm.by_class[i] = &metrics.counter("http_server_requests_total", "HTTP requests handled", labels);
    }
    rm.errors =
        &metrics.counter("http_server_errors_total", "HTTP requests answered with a 5xx status", base);
    rm.latency = &metrics.histogram("http_server_request_duration_seconds",
                                    "Time from a request's last header byte to its response written", base);
    return rm;
  }

  void start() {
    auto address = asio::ip::make_address(settings.host == "localhost" ? "127.0.0.1" : settings.host);
    if (settings.port != 0) {
      // SO_REUSEPORT (one acceptor per worker) would let this process bind a port another process of
      // the same user already listens on, and the kernel would share the connections between the two at
      // random. A plain bind first says whether the port is free: taken, start() fails as it should.
      tcp::acceptor probe(pool.context(0));
      tcp::endpoint ep(address, settings.port);
      probe.open(ep.protocol());
      probe.set_option(tcp::acceptor::reuse_address(true));  // a port in TIME_WAIT is free
      probe.bind(ep);                                        // throws: address already in use
    }
    for (std::size_t i = 0; i < pool.size(); ++i) {
      Worker w;
      w.io = &pool.context(i);
      w.acceptor = std::make_unique<Acceptor>(w.io->get_executor());
      tcp::endpoint ep(address, i == 0 ? settings.port : bound_port);
      w.acceptor->open(ep.protocol());
      w.acceptor->set_option(tcp::acceptor::reuse_address(true));
      w.acceptor->set_option(ReusePort(true));
      w.acceptor->bind(ep);
      w.acceptor->listen(asio::socket_base::max_listen_connections);
      if (i == 0) bound_port = w.acceptor->local_endpoint().port();
      workers.push_back(std::move(w));
    }
    for (auto& w : workers) {
      asio::co_spawn(*w.io, accept_loop(w), [self = shared_from_this()](const std::exception_ptr& e) {
        if (e) self->logger.error("accept loop ended with an exception");
      });
    }
  }

  asio::awaitable<void> accept_loop(Worker& w) {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await w.acceptor->async_accept(kUseTuple);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) break;
        logger.warn("accept failed", {{"error", ec.message()}});
        // Out of file descriptors and similar: back off instead of spinning a core on the error.
        asio::steady_timer pause(*w.io, std::chrono::milliseconds(50));
        co_await pause.async_wait(kUseTuple);
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto conn = std::make_shared<Connection>(std::move(socket));
      w.connections.push_front(conn);
      auto it = w.connections.begin();
      active_connections->add(1);
      asio::co_spawn(*w.io, serve(*conn), [self, &w, it](const std::exception_ptr& e) {
        if (e) self->logger.error("connection ended with an exception");
        w.connections.erase(it);
        self->active_connections->add(-1);
        self->maybe_worker_done(w);
      });
    }
  }

  // `conn` is kept alive by the connection list until this coroutine's completion handler runs.
  asio::awaitable<void> serve(Connection& conn_ref) {
    Connection* conn = &conn_ref;
    auto& socket = conn->socket();
    // Bounded: Beast's parser needs a whole line (a chunk size with its extensions) or a whole trailer
    // section in the buffer; without a bound a client could grow it for as long as it keeps sending.
    auto& buffer = conn->buffer;
    buffer.max_size(static_cast<std::size_t>(settings.max_header_bytes) + std::size_t{16} * 1024);
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    std::string remote_address = ec ? std::string() : remote.address().to_string();

    if (http2) {
      // HTTP/2 (gRPC) and HTTP/1.1 share the port: a connection that opens with the HTTP/2 preface is
      // handed over whole, as its socket, and is no longer this server's.
      auto opening = co_await sniff_opening(socket, settings.idle_timeout);
      if (opening == Opening::kGone) co_return;
      if (opening == Opening::kHttp2) {
        boost::system::error_code released;
        int fd = socket.release(released);
        if (!released) http2(fd);
        co_return;
      }
    }

    for (;;) {
      if (buffer.size() == 0) {
        conn->idle = true;
        if (stopping) break;
        conn->expires_after(settings.idle_timeout);
        auto [read_ec, n] = co_await socket.async_read_some(buffer.prepare(8192), kUseTuple);
        if (read_ec) break;  // idle timeout, client closed, or shutdown cancelled the wait
        buffer.commit(n);
      }
      conn->idle = false;

      detail::RequestParser parser;
      parser.limit_header_bytes(static_cast<std::uint32_t>(settings.max_header_bytes));
      parser.body_limit(settings.max_body_bytes);
      conn->expires_after(settings.request_timeout);
      ec = co_await detail::read_message(*conn, buffer, parser, /*header_only=*/true);
      if (!ec && !parser.is_done()) {
        // One 100 Continue, only to an HTTP/1.1 client (RFC 9110 §10.1.1); never forwarded by a proxy
        // built on this server (the client strips Expect), so a client cannot receive two.
        if (parser.version >= 11 && iequals(parser.headers.get("Expect").value_or(""), "100-continue")) {
          // Rare enough to go straight through the event loop (send_rest writes all it is given).
          if (co_await detail::send_rest(*conn, "HTTP/1.1 100 Continue\r\n\r\n")) break;
        }
        ec = co_await detail::read_message(*conn, buffer, parser, /*header_only=*/false);
      }
      if (ec) {
        if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
            ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
          break;  // the client left or was too slow: nobody to answer
        }
        // Every framing error ends the connection (RFC 9112 §6.3): where this request ended is unknown,
        // so nothing after it can be trusted to be the next request.
        Error err = classify_read_error(ec, parser.refusal);
        std::string rid = new_uuid();
        auto res = Response::error(err, rid);
        unmatched.record(res.status, 0.0);
        co_await write_and_close(*conn, res, rid);
        co_return;
      }

      auto started = Clock::now();
      Request req;
      req.method_name = std::move(parser.method);
      req.method = parse_method(req.method_name);
      req.target = std::move(parser.target);
      auto q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) req.query = req.target.substr(q + 1);
      req.headers = std::move(parser.headers);
      req.body = std::move(parser.body);
      req.keep_alive = parser.keep_alive();
      req.remote_address = remote_address;
      unsigned version = parser.version;

      RouteMetrics* rm = &unmatched;
      obs::Span span;
      Response res = co_await dispatch(req, rm, span);
      finish_span(span, req, res.status);
      bool keep_alive = req.keep_alive && !stopping;
      log_failure(req, res);
      bool head = req.method == Method::kHead;
      if (!co_await write_response(*conn, res, version, keep_alive, req.request_id, head)) break;
      record(req, res.status, started, *rm, false);
      if (!keep_alive) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    conn->close();
  }

  // A 5xx's detail: the client saw only the error code and the request id (Response::error).
  void log_failure(const Request& req, const Response& res) const {
    if (res.status < 500 || res.detail.empty()) return;
    obs::LogContext ctx{req.request_id, req.trace.trace_id};
    logger.warn("request failed", {{"route", req.route}, {"status", res.status}, {"error", res.detail}},
                &ctx);
  }

  // The route's metrics and the access log line of an answered request (`local`: served by serve_local).
  void record(const Request& req, int status, Clock::time_point started, RouteMetrics& rm, bool local) const {
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    rm.record(status, seconds);
    if (!settings.access_log) return;
    obs::LogContext ctx{req.request_id, req.trace.trace_id};
    if (local) {
      logger.info("request",
                  {{"method", req.method_name},
                   {"path", req.path},
                   {"status", status},
                   {"duration_ms", seconds * 1000.0},
                   {"local", true}},
                  &ctx);
    } else {
      logger.info("request",
                  {{"method", req.method_name},
                   {"path", req.path},
                   {"status", status},
                   {"duration_ms", seconds * 1000.0}},
                  &ctx);
    }
  }

  // The semantic-convention attributes a server span gets once the answer is known.
  void finish_span(obs::Span& span, const Request& req, int status) const {
    if (!span.recording()) return;
    if (!req.route.empty()) {
      span.rename(req.method_name + " " + std::string(req.route));
      span.set("http.route", req.route);
    }
    span.set("http.request.method", req.method_name);
    span.set("url.path", req.path);
    span.set("http.response.status_code", std::int64_t{status});
    span.set("server.address", settings.host);
    span.set("server.port", std::int64_t{bound_port});
    if (!req.remote_address.empty()) span.set("client.address", req.remote_address);
    if (status >= 500) span.set_error("HTTP " + std::to_string(status));
    span.end();
  }

  // Fills the request context (and, tracing on, starts `span`), routes, and runs the handler; never
  // throws.
  asio::awaitable<Response> dispatch(Request& req, RouteMetrics*& rm, obs::Span& span) {
    auto rid = req.headers.get(kRequestIdHeader);
    req.request_id = rid && acceptable_request_id(*rid) ? std::string(*rid) : new_uuid();
    std::optional<obs::TraceContext> parent;
    if (auto tp = req.headers.get(kTraceparentHeader)) parent = obs::TraceContext::parse(*tp);
    // Probes and scrapes (every few seconds, from supervisors and Prometheus) are not what traces are
    // for: they keep a context but get no span.
    bool probe = req.path == "/metrics" || req.path.starts_with("/health/");
    req.tracer = tracer;
    if (tracer != nullptr && !probe) {
      span = tracer->start(req.method_name, obs::SpanKind::kServer, parent);
      req.trace = span.context();
    } else {
      req.trace = parent ? parent->child() : obs::TraceContext::new_root();
    }

    if (auto budget = req.headers.get(kRequestTimeoutHeader)) {
      std::int64_t ms = -1;
      if (!budget->empty() && budget->size() <= 12 &&
          budget->find_first_not_of("0123456789") == std::string_view::npos) {
        ms = std::stoll(std::string(*budget));
      }
      if (ms < 0) {
        co_return Response::error(
            Error::validation(std::string(kRequestTimeoutHeader),
                              std::string(kRequestTimeoutHeader) + " must be a whole number of milliseconds"),
            req.request_id);
      }
      req.deadline = Clock::now() + std::chrono::milliseconds(ms);
    }
    if (req.target.empty() || req.target.front() != '/') {
      co_return Response::error(Error::malformed("request target must be an absolute path"), req.request_id);
    }

    auto match = router.match(req.method, req.path);
    if (match.kind == RouteMatch::Kind::kNotFound) {
      co_return Response::error(Error::not_found("no route for " + req.path), req.request_id);
    }
    if (match.kind == RouteMatch::Kind::kMethodNotAllowed) {
      auto res = Response::error(
          Error{ErrorCode::kMethodNotAllowed,
                "method " + req.method_name + " is not allowed for " + req.path + "; allowed: " + match.allow,
                {}},
          req.request_id);
      res.headers.set("Allow", match.allow);
      co_return res;
    }
    const Route& route = *match.route;
    rm = &route_metrics[route.index];
    req.params = std::move(match.params);
    req.route = route.pattern;
    for (const auto& [name, value] : req.params) {
      // A path parameter reaches storage, logs and other services: after percent-decoding it must be
      // plain text (a NUL cuts a PostgreSQL string; CR and LF split log lines and headers).
      if (!is_plain_text(value)) {
        co_return Response::error(
            Error::validation(name, "path parameter '" + name +
                                        "' must be UTF-8 text without NUL or other control characters"),
            req.request_id);
      }
    }
    std::string failure;
    try {
      if (route.sync) {
        // Synchronous: nothing can interleave, so the span may be the ambient context (tracing.hpp).
        obs::ContextScope scope(tracer, req.trace);
        co_return route.sync(req);
      }
      co_return co_await route.async(req);
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    obs::LogContext ctx{req.request_id, req.trace.trace_id};
    logger.error("handler failed with an exception", {{"route", req.route}, {"error", failure}}, &ctx);
    auto res = Response::error(Error::internal(failure), req.request_id);
    res.detail.clear();  // logged just above
    co_return res;
  }

  asio::awaitable<bool> write_response(Connection& conn, Response& res, unsigned version, bool keep_alive,
                                       const std::string& request_id, bool head = false) {
    // One contiguous buffer, one send (see wire.hpp); the connection's own, so its capacity is reused.
    wire::write_response(conn.write_buffer, res, version, keep_alive, request_id, head);
    conn.expires_after(settings.request_timeout);
    boost::system::error_code ec;
    std::string_view data = conn.write_buffer;
    auto sent = detail::send_now(conn, data, ec);
    if (!ec && sent < data.size()) ec = co_await detail::send_rest(conn, data.substr(sent));
    co_return !ec;
  }

  // Answers a request we could not parse, then closes. Reading what the client still sends for a short,
  // bounded while lets it see the response instead of a connection reset.
  asio::awaitable<void> write_and_close(Connection& conn, Response& res, const std::string& rid) {
    if (!co_await write_response(conn, res, 11, false, rid)) co_return;
    auto& socket = conn.socket();
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    conn.expires_after(std::chrono::milliseconds(500));
    std::size_t drained = 0;
    // On the heap, for this rare path only: a thread_local array was 16 KiB of static TLS that every
    // thread of every process zeroed at its start, used or not (docs/benchmarks.md, 18).
    auto sink = std::make_unique<std::array<char, 16384>>();
    while (drained < std::size_t{1024} * 1024) {
      auto [rec, n] = co_await socket.async_read_some(asio::buffer(*sink), kUseTuple);
      if (rec) break;
      drained += n;
    }
    conn.close();
  }

  asio::awaitable<Response> serve_local(Request req) {
    auto started = Clock::now();
    RouteMetrics* rm = &unmatched;
    Response res;
    if (req.body.size() > settings.max_body_bytes) {
      req.request_id = new_uuid();
      res = Response::error(Error{ErrorCode::kPayloadTooLarge, "request body is too large", {}},
                            req.request_id);
    } else {
      obs::Span span;
      res = co_await dispatch(req, rm, span);
      finish_span(span, req, res.status);
    }
    int status = res.status;
    log_failure(req, res);
    res.detail.clear();
    // What wire::write_response would have put on the wire, read back by a client: for a HEAD, the
    // Content-Length of the GET without its body (or the one a bodiless answer declared, as a proxied
    // HEAD's does), which a gateway answering the HEAD passes on.
    bool bodyless = status < 200 || status == 204 || status == 304;
    std::optional<std::string> head_length;
    if (req.method == Method::kHead && !bodyless) {
      auto declared = res.headers.get("Content-Length");
      head_length = res.body.empty() && declared ? std::string(*declared) : std::to_string(res.body.size());
    }
    res.headers.remove_if([](std::string_view name, std::string_view) {
      return iequals(name, "Content-Length") || is_hop_by_hop(name);
    });
    res.headers.set(kRequestIdHeader, req.request_id);
    if (head_length) res.headers.set("Content-Length", *head_length);
    if (req.method == Method::kHead || bodyless) res.body.clear();
    record(req, status, started, *rm, true);
    co_return res;
  }

  void shutdown(std::function<void()> done) {
    on_done = std::move(done);
    workers_pending = workers.size();
    stopping = true;
    for (auto& w : workers) {
      asio::post(*w.io, [self = shared_from_this(), &w] {
        w.shutting_down = true;
        boost::system::error_code ignored;
        w.acceptor->close(ignored);
        for (auto& c : w.connections) {
          // Idle means no request has started; one whose bytes already wait in the socket has, so
          // let the pending read pick it up and answer it.
          if (c->idle && c->socket().available(ignored) == 0) c->socket().cancel(ignored);
        }
        w.grace_timer = std::make_unique<asio::steady_timer>(*w.io, self->settings.shutdown_grace);
        w.grace_timer->async_wait([self, &w](boost::system::error_code ec) {
          if (ec) return;
          if (!w.connections.empty()) {
            self->logger.warn("shutdown grace period over; closing connections still in use",
                              {{"connections", static_cast<std::uint64_t>(w.connections.size())}});
          }
          for (auto& c : w.connections) c->close();
        });
        self->maybe_worker_done(w);
      });
    }
  }

  void maybe_worker_done(Worker& w) {
    if (!w.shutting_down || w.reported || !w.connections.empty()) return;
    w.reported = true;
    if (w.grace_timer) w.grace_timer->cancel();
    if (--workers_pending == 0 && on_done) on_done();
  }

  IoPool& pool;
  ServerSettings settings;
  Router router;
  const obs::Logger& logger;
  obs::Registry& metrics;
  const obs::Tracer* tracer;  // nullptr: tracing off
  std::vector<RouteMetrics> route_metrics;
  RouteMetrics unmatched;
  obs::Gauge* active_connections = nullptr;
  std::vector<Worker> workers;
  std::function<void(int)> http2;  // set before start(): read-only afterwards
  std::uint16_t bound_port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> workers_pending{0};
  std::function<void()> on_done;
};

Server::Server(IoPool& pool, ServerSettings settings, Router router, const obs::Logger& logger,
               obs::Registry& metrics, const obs::Tracer* tracer)
    : impl_(std::make_shared<Impl>(pool, std::move(settings), std::move(router), logger, metrics, tracer)) {}

Server::~Server() {
  // Handlers abandoned in the stopped io_contexts still hold the Impl; its sockets and timers must go
  // now, while the io_contexts they belong to still exist.
  impl_->workers.clear();
}

void Server::start() { impl_->start(); }

void Server::on_http2(std::function<void(int)> adopt) { impl_->http2 = std::move(adopt); }

std::uint16_t Server::port() const noexcept { return impl_->bound_port; }

void Server::shutdown(std::function<void()> done) { impl_->shutdown(std::move(done)); }

asio::awaitable<Response> Server::serve_local(Request request) {
  auto impl = impl_;  // alive for the whole call, even if the Server object goes first
  co_return co_await impl->serve_local(std::move(request));
}

}  // namespace mercato::http
