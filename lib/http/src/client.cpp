#include "mercato/http/client.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <charconv>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "connection.hpp"
#include "mercato/asio/names.hpp"
#include "mercato/http/local.hpp"
#include "mercato/http/server.hpp"
#include "parser.hpp"
#include "wire.hpp"

namespace mercato::http {

using namespace mercato::net;  // asio, beast, bhttp, tcp, kUseTuple (mercato/asio/names.hpp)

namespace {

constexpr auto kCheckAfterIdle = std::chrono::milliseconds(500);
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;
// More interim responses than any real server sends before its answer (100, 102, 103).
constexpr int kMaxInterimResponses = 8;

struct PooledConnection {
  std::shared_ptr<detail::Connection> conn;  // its timer holds a weak_ptr (connection.hpp)
  Clock::time_point idle_since{};
};

struct WorkerPool {
  std::unordered_map<std::string, std::vector<PooledConnection>> idle;
};

bool idempotent(const ClientRequest& r) {
  switch (r.method) {
    case Method::kGet:
    case Method::kHead:
    case Method::kPut:
    case Method::kDelete:
    case Method::kOptions:
      return true;
    default:
      return r.headers.contains("Idempotency-Key");
  }
}

// A pooled connection the server has closed meanwhile reads as EOF; using it would fail the call.
bool still_open(detail::Connection& conn) {
  char byte;
  auto n = ::recv(conn.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

long long remaining_ms(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return std::max<long long>(ms, 0);
}

}  // namespace

Result<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error::validation("upstream", "expected [ipv6]:port, got '" + std::string(text) + "'");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Error::validation("upstream", "expected host:port, got '" + std::string(text) + "'");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return Error::validation("upstream", "invalid port in '" + std::string(text) + "'");
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

struct Client::Impl {
  Impl(IoPool& p, ClientSettings s) : pool(p), settings(s), workers(p.size()) {}

  // `check_always`: a request that must not be sent twice checks every connection it reuses (below).
  std::optional<PooledConnection> take_idle(WorkerPool& wp, const std::string& key, bool check_always) {
    auto it = wp.idle.find(key);
    if (it == wp.idle.end()) return std::nullopt;
    auto& list = it->second;
    auto now = Clock::now();
    while (!list.empty()) {
      PooledConnection c = std::move(list.back());
      list.pop_back();
      auto idle_for = now - c.idle_since;
      if (idle_for >= settings.idle_ttl || c.conn->buffer.size() != 0) continue;
      // Servers close idle connections after their idle timeout, far longer than this; a connection
      // used within the last moment is only closed by a server going away. Checking costs a syscall
      // per call, so only older connections pay it — and every call that is not retried when its
      // connection turns out closed (a POST without an Idempotency-Key): for those a server that went
      // away and came back would otherwise cost the caller a 502.
      if ((idle_for < kCheckAfterIdle && !check_always) || still_open(*c.conn)) return c;
    }
    return std::nullopt;
  }

  void give_back(WorkerPool& wp, const std::string& key, PooledConnection c) {
    auto& list = wp.idle[key];
    if (list.size() >= settings.max_idle_per_endpoint) return;
    c.idle_since = Clock::now();
    list.push_back(std::move(c));
  }

  asio::awaitable<Result<PooledConnection>> connect(const Endpoint& to, Clock::time_point call_deadline,
                                                    std::size_t worker) {
    auto executor = co_await asio::this_coro::executor;
    PooledConnection c;
    c.conn = std::make_shared<detail::Connection>(pool.context(worker).get_executor());
    // Bounded, as on the server: a line or a trailer section must fit, not grow without end.
    c.conn->buffer.max_size(kMaxResponseHeaderBytes + 16 * 1024);
    auto connect_deadline = std::min(call_deadline, Clock::now() + settings.connect_timeout);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(to.host == "localhost" ? "127.0.0.1" : to.host, ec);
    std::vector<tcp::endpoint> endpoints;
    if (!ec) {
      endpoints.emplace_back(address, to.port);
    } else {
      tcp::resolver resolver(executor);
      std::string service = std::to_string(to.port);  // named: no class temporaries in co_await (client.hpp)
      auto resolved = co_await resolver.async_resolve(to.host, service, kUseTuple);
      const auto& rec = std::get<0>(resolved);
      if (rec)
        co_return Error::unavailable("cannot resolve upstream " + to.to_string() + ": " + rec.message());
      for (const auto& r : std::get<1>(resolved)) endpoints.push_back(r.endpoint());
    }
    c.conn->expires_at(connect_deadline);
    auto connected = co_await asio::async_connect(c.conn->socket(), endpoints, kUseTuple);
    const auto cec = detail::outcome(*c.conn, std::get<0>(connected));
    if (cec) {
      if (cec == beast::error::timeout) {
        if (connect_deadline == call_deadline) {
          co_return Error::deadline_exceeded("deadline passed while connecting to upstream " +
                                             to.to_string());
        }
        co_return Error::unavailable("connecting to upstream " + to.to_string() + " timed out");
      }
      co_return Error::unavailable("cannot connect to upstream " + to.to_string() + ": " + cec.message());
    }
    boost::system::error_code ignored;
    c.conn->socket().set_option(tcp::no_delay(true), ignored);
    co_return c;
  }

  // A traced call (tracing on, and the request carries the caller's traceparent) gets a CLIENT span
  // whose context replaces that traceparent, so the callee's server span is its child. A call without a
  // traceparent belongs to no trace (a health check, a background refresh) and gets no span.
  // Not a coroutine itself: an untraced call awaits send_untraced directly, one frame fewer.
  asio::awaitable<Result<Response>> send(const Endpoint& to, ClientRequest& request, CallOptions options) {
    std::optional<obs::TraceContext> parent;
    if (tracer != nullptr) {
      if (auto tp = request.headers.get(kTraceparentHeader)) parent = obs::TraceContext::parse(*tp);
    }
    if (!parent) return send_untraced(to, request, options);
    return send_traced(to, request, options, std::move(*parent));
  }

  asio::awaitable<Result<Response>> send_traced(const Endpoint& to, ClientRequest& request,
                                                CallOptions options, obs::TraceContext parent) {
    std::string method(request.method == Method::kOther ? std::string_view(request.method_name)
                                                        : to_string(request.method));
    auto span = tracer->start(method, obs::SpanKind::kClient, parent);
    request.headers.set(kTraceparentHeader, span.context().to_traceparent());
    if (span.recording()) {
      span.set("http.request.method", method);
      span.set("server.address", to.host);
      span.set("server.port", std::int64_t{to.port});
      span.set("url.path", std::string_view(request.target).substr(0, request.target.find('?')));
    }
    auto res = co_await send_untraced(to, request, options);
    if (span.recording()) {
      if (res) {
        span.set("http.response.status_code", std::int64_t{res->status});
        if (res->status >= 500) span.set_error("HTTP " + std::to_string(res->status));
      } else {
        span.set("error.type", std::string(to_string(res.error().code)));
        span.set_error(res.error().message);
      }
    }
    co_return res;
  }

  asio::awaitable<Result<Response>> send_untraced(const Endpoint& to, ClientRequest& request,
                                                  CallOptions options) {
    int wi = IoPool::current_worker();
    if (wi < 0 || static_cast<std::size_t>(wi) >= workers.size()) {
      co_return Error::internal("http client used outside its io pool");
    }
    WorkerPool& wp = workers[static_cast<std::size_t>(wi)];
    auto now = Clock::now();
    auto call_deadline = now + options.timeout.value_or(settings.request_timeout);
    if (options.deadline) {
      if (*options.deadline <= now) {
        co_return Error::deadline_exceeded("deadline passed before the call to " + to.to_string() +
                                           " started");
      }
      call_deadline = std::min(call_deadline, *options.deadline);
    }
    std::string_view method =
        request.method == Method::kOther ? std::string_view(request.method_name) : to_string(request.method);
    if (local != nullptr) {
      if (Server* server = local->find(to))
        co_return co_await send_local(*server, to, request, call_deadline);
    }
    std::string key = to.to_string();

    Outgoing out{method, request, key};
    // A pooled connection can be closed by the server between our liveness check and its use; an
    // idempotent request that got no response byte is then retried once on a fresh connection.
    std::optional<PooledConnection> pooled = take_idle(wp, key, !idempotent(request));
    bool reused = pooled.has_value();
    Exchange exchange;
    if (reused) {
      co_await exchange_once(*pooled, out, request.method, call_deadline, exchange);
      if (exchange.ec && exchange.ec != beast::error::timeout && !exchange.got_some && idempotent(request)) {
        reused = false;
        exchange = Exchange{};
      }
    }
    if (!reused) {
      auto fresh = co_await connect(to, call_deadline, static_cast<std::size_t>(wi));
      if (!fresh) co_return std::move(fresh).error();
      pooled = std::move(*fresh);
      co_await exchange_once(*pooled, out, request.method, call_deadline, exchange);
    }
    if (exchange.ec) {
      const auto& ec = exchange.ec;
      if (ec == beast::error::timeout) {
        co_return Error::deadline_exceeded("upstream " + to.to_string() + " did not answer in time");
      }
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
        co_return Error::bad_gateway("upstream " + to.to_string() +
                                     " closed the connection: " + ec.message());
      }
      co_return Error::bad_gateway("invalid response from upstream " + to.to_string() + ": " + ec.message());
    }
    if (exchange.keep_alive) {
      pooled->conn->expires_never();
      give_back(wp, key, std::move(*pooled));
    }  // else it is closed when `pooled` goes: nothing else holds it
    co_return std::move(exchange.response);
  }

  // The call as the server would have read it from the wire (local.hpp).
  static asio::awaitable<Result<Response>> send_local(Server& server, const Endpoint& to,
                                                      ClientRequest& request, Clock::time_point deadline) {
    Request req;
    req.method = request.method;
    req.method_name = request.method == Method::kOther ? std::move(request.method_name)
                                                       : std::string(to_string(request.method));
    req.target = std::move(request.target);
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    req.headers = std::move(request.headers);
    // What wire::write_request leaves out or adds: no Expect (never forwarded), a Host when none was
    // given, and the remaining budget instead of whatever the caller's headers said.
    req.headers.remove("Expect");
    if (!req.headers.contains("Host")) req.headers.set("Host", to.to_string());
    req.headers.set(kRequestTimeoutHeader, std::to_string(remaining_ms(deadline)));
    req.body = std::move(request.body);
    req.remote_address = to.host == "::1" ? "::1" : "127.0.0.1";
    co_return co_await server.serve_local(std::move(req));
  }

  struct Exchange {
    boost::system::error_code ec;
    bool got_some = false;
    bool keep_alive = false;
    Response response;
  };

  // One request/response on `conn`. Out-parameters instead of a returned aggregate keep GCC 12's
  // coroutine lowering on its well-trodden path.
  // What one call sends; serialized afresh for each attempt because the remaining budget changes.
  struct Outgoing {
    std::string_view method;
    const ClientRequest& request;
    std::string_view host;
  };

  asio::awaitable<void> exchange_once(PooledConnection& pooled, const Outgoing& out, Method method,
                                      Clock::time_point deadline, Exchange& result) {
    auto& conn = *pooled.conn;
    std::array<char, 24> budget{};
    auto printed = std::to_chars(budget.data(), budget.data() + budget.size(), remaining_ms(deadline));
    wire::write_request(
        conn.write_buffer, out.method, out.request.target, out.request.headers, out.host,
        kRequestTimeoutHeader,
        std::string_view(budget.data(), static_cast<std::size_t>(printed.ptr - budget.data())),
        out.request.body);
    conn.expires_at(deadline);
    std::string_view data = conn.write_buffer;
    auto sent = detail::send_now(conn, data, result.ec);
    if (!result.ec && sent < data.size()) result.ec = co_await detail::send_rest(conn, data.substr(sent));
    if (result.ec) co_return;
    // Interim (1xx) responses come before the answer on the same connection (RFC 9110 §15.2): taking
    // one for the answer would leave the real one in the connection for the next call to read.
    std::optional<detail::ResponseParser> parser;
    for (int interim = 0;; ++interim) {
      parser.emplace();
      parser->body_limit(settings.max_response_body_bytes);
      parser->limit_header_bytes(kMaxResponseHeaderBytes);
      if (method == Method::kHead) parser->skip(true);
      result.ec = co_await detail::read_message(conn, conn.buffer, *parser, /*header_only=*/false);
      result.got_some = result.got_some || parser->got_some();
      if (result.ec) co_return;
      if (parser->status >= 200) break;
      // 101 would hand the connection to another protocol, which no call here asked for.
      if (parser->status == 101 || interim == kMaxInterimResponses) {
        result.ec = bhttp::error::bad_status;
        co_return;
      }
    }
    result.response.status = parser->status;
    result.response.headers = std::move(parser->headers);
    result.response.body = std::move(parser->body);
    result.keep_alive = parser->keep_alive();
  }

  IoPool& pool;
  ClientSettings settings;
  std::vector<WorkerPool> workers;
  const LocalServers* local = nullptr;
  const obs::Tracer* tracer = nullptr;
};

Client::Client(IoPool& pool, ClientSettings settings, const obs::Tracer* tracer)
    : impl_(std::make_unique<Impl>(pool, settings)) {
  impl_->tracer = tracer;
}

Client::~Client() = default;

void Client::route_locally(const LocalServers* servers) noexcept { impl_->local = servers; }

void LocalServers::add(Server& server) { by_port_[server.port()] = &server; }

Server* LocalServers::find(const Endpoint& to) const {
  if (to.host != "127.0.0.1" && to.host != "localhost" && to.host != "::1") return nullptr;
  auto it = by_port_.find(to.port);
  return it == by_port_.end() ? nullptr : it->second;
}

boost::asio::awaitable<Result<Response>> Client::send(const Endpoint& to, ClientRequest&& request,
                                                      CallOptions options) {
  return impl_->send(to, request, options);
}

}  // namespace mercato::http
