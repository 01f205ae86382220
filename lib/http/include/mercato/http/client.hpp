// Client: outgoing HTTP/1.1 calls with pooled keep-alive connections, timeouts and deadlines.
//
//   http::Client client(pool, {.connect_timeout = 1s, .request_timeout = 5s});
//   http::ClientRequest get{.method = http::Method::kGet, .target = "/users/42"};
//   auto res = co_await client.send(endpoint, std::move(get), {.deadline = incoming.deadline});
//   if (!res) return http::Response::error(res.error(), incoming.request_id);  // 503 / 504 / 502
//
// Failures are values: cannot connect → kUnavailable; no answer in time → kDeadlineExceeded; an
// unusable answer → kBadGateway. The caller's remaining time is sent as X-Request-Timeout-Ms so the
// callee stops working on a request nobody waits for, and a call whose deadline has already passed is
// never started.
//
// Threading: send() must be awaited on a worker of the IoPool given to the constructor; each worker has
// its own pool of idle connections (no locks on the call path).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/http/io_pool.hpp"
#include "mercato/http/message.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::http {

struct Endpoint {
  std::string host;  // IP literal or a name to resolve
  std::uint16_t port = 0;

  // "127.0.0.1:8081", "[::1]:8081", "user:8081"
  static Result<Endpoint> parse(std::string_view host_port);
  std::string to_string() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct ClientSettings {
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds request_timeout{5000};
  std::size_t max_idle_per_endpoint = 64;  // per worker
  std::chrono::milliseconds idle_ttl{
      30'000};  // shorter than servers' idle timeout, to avoid racing their close
  std::uint64_t max_response_body_bytes = std::uint64_t{16} * 1024 * 1024;
};

struct ClientRequest {
  Method method = Method::kGet;
  std::string method_name;  // used when method is kOther
  std::string target = "/";
  Headers headers;
  std::string body;
};

struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;  // default: settings.request_timeout
  std::optional<Clock::time_point> deadline;         // the caller's own deadline, if any
};

class LocalServers;  // local.hpp

class Client {
 public:
  // `tracer` (nullptr: tracing off): a call that carries a traceparent header gets a CLIENT span, and
  // the callee sees that span as its parent. Must outlive the client.
  Client(IoPool& pool, ClientSettings settings, const obs::Tracer* tracer = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Calls to a server of this process go to it directly (local.hpp). Set before the first call;
  // `servers` must outlive the client's use. nullptr (the default): every call goes over TCP.
  void route_locally(const LocalServers* servers) noexcept;

  // `to` and `request` must stay alive until the returned awaitable completes. Build `request` as a
  // named local, not as a braced temporary inside the co_await expression: GCC 12 relocates such
  // aggregate temporaries bitwise, which corrupts std::string members (seen under AddressSanitizer).
  boost::asio::awaitable<Result<Response>> send(const Endpoint& to, ClientRequest&& request,
                                                CallOptions options = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mercato::http
