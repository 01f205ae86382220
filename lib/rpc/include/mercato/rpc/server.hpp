// A service's gRPC server. It listens on no port of its own: its connections are those of the service's
// HTTP port that open with the HTTP/2 preface (http::Server::on_http2 → adopt), so one address serves
// REST and gRPC, and discovery registers the same host:port for both. Every server answers the standard
// health protocol (grpc.health.v1.Health/Check, api/health.proto) with the service's readiness.
//
// Handlers are coroutines on the service's I/O threads, like HTTP handlers, with the call's metadata
// (request id, trace, deadline from grpc-timeout, authorization) as an Incoming:
//
//   grpc::ServerUnaryReactor* CustomerExists(grpc::CallbackServerContext* call,
//                                            const v1::CustomerExistsRequest* request,
//                                            v1::CustomerExistsReply* reply) override {
//     return server_.serve(call, "CustomerExists", [=, this](const rpc::Incoming& in)
//                                                      -> boost::asio::awaitable<grpc::Status> {
//       ... co_return rpc::to_status(error) or grpc::Status::OK;
//     });
//   }
//
// Metrics: grpc_server_requests_total{method, code} and grpc_server_request_duration_seconds{method}.
// Traces (with a tracer): a SERVER span per call, continuing the caller's traceparent metadata, with
// rpc.system, rpc.service, rpc.method and rpc.grpc.status_code; Incoming::traceparent is that span.
// A handler that throws is logged and answered INTERNAL, never a crash.
//
// Thread-safety: add() before start(); the rest from any thread. shutdown() before the I/O threads stop
// (handlers finish on them).
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mercato/http/io_pool.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/observability/tracing.hpp"

namespace grpc {
namespace experimental {
class ClientInterceptorFactoryInterface;
}
class Channel;
class Server;
class Service;
}  // namespace grpc

namespace mercato::rpc {

// What a call carried besides its message.
struct Incoming {
  std::string request_id;     // x-request-id when printable and at most 128 characters, else a new one
  std::string traceparent;    // this call's span, continuing the caller's trace (or a new root)
  std::string authorization;  // the authorization metadata, as an HTTP Authorization header
  std::optional<std::chrono::steady_clock::time_point> deadline;  // from grpc-timeout

  static Incoming of(const grpc::CallbackServerContext& call);
};

// What one client may hold of a server, as the HTTP server's limits (http::ServerSettings) bound HTTP/1.1.
struct Limits {
  std::uint64_t max_message_bytes = std::uint64_t{1024} * 1024;  // a larger request: RESOURCE_EXHAUSTED
  std::uint64_t max_metadata_bytes = std::uint64_t{16} * 1024;   // the call's headers
  int max_concurrent_streams = 100;                              // calls at once per connection
  std::chrono::milliseconds idle_timeout{60'000};                // a connection without calls is closed
};

class Server {
 public:
  // `ready`: whether the service is ready (its /health/ready checks pass), awaited on an I/O thread (it may
  // hand the checks to a thread of its own: they may ask a database); `name`: the service's name, the
  // health protocol's service name besides "". `tracer`: nullptr when tracing is off.
  using Readiness = std::function<boost::asio::awaitable<bool>()>;
  Server(std::string name, http::IoPool& io, Readiness ready, const obs::Logger& logger,
         obs::Registry& metrics, const obs::Tracer* tracer = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Before start(): a generated CallbackService (owned by the caller, alive until shutdown()).
  void add(grpc::Service& service);
  bool has_services() const noexcept { return !services_.empty(); }
  // Before start(); the defaults otherwise.
  void set_limits(const Limits& limits) { limits_ = limits; }
  void start();
  // A connection that opened with the HTTP/2 preface; the server owns `fd` from now on.
  void adopt(int fd);
  // A channel to this server that never leaves the process (the monolith's calls between modules).
  // `interceptors`: the caller's client interceptors (tracing), if any.
  std::shared_ptr<grpc::Channel> in_process_channel(
      std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors = {});
  // Stops taking calls; waits up to `grace` for those under way, then cancels them.
  void shutdown(std::chrono::milliseconds grace);

  template <typename Handler>
  grpc::ServerUnaryReactor* serve(grpc::CallbackServerContext* call, std::string_view method,
                                  Handler handler) {
    auto* reactor = call->DefaultReactor();
    auto started = std::chrono::steady_clock::now();
    auto incoming = Incoming::of(*call);
    // Shared: the completion handler that ends it is copied by Asio.
    std::shared_ptr<obs::Span> span;
    // Health checks are probes, as /health/* is for HTTP: no span.
    if (tracer_ != nullptr && !method.starts_with("grpc.health.")) span = start_span(*call, method, incoming);
    boost::asio::co_spawn(
        next_executor(),
        [handler = std::move(handler), incoming = std::move(incoming)]() mutable
        -> boost::asio::awaitable<grpc::Status> { co_return co_await handler(incoming); },
        [this, reactor, method, started, span](const std::exception_ptr& e, grpc::Status status) {
          if (e) status = failed(method, e);
          record(method, status, started);
          if (span) finish_span(*span, status);
          reactor->Finish(status);
        });
    return reactor;
  }

 private:
  boost::asio::any_io_executor next_executor();
  std::shared_ptr<obs::Span> start_span(const grpc::CallbackServerContext& call, std::string_view method,
                                        Incoming& incoming);
  static void finish_span(obs::Span& span, const grpc::Status& status);
  grpc::Status failed(std::string_view method, const std::exception_ptr& e);
  void record(std::string_view method, const grpc::Status& status,
              std::chrono::steady_clock::time_point started);

  std::string name_;
  http::IoPool& io_;
  Readiness ready_;
  const obs::Logger& logger_;
  obs::Registry& metrics_;
  const obs::Tracer* tracer_;
  std::vector<grpc::Service*> services_;
  Limits limits_;
  std::unique_ptr<grpc::Service> health_;
  std::unique_ptr<grpc::Server> server_;
  std::atomic<std::size_t> next_{0};
  // Per method: its latency histogram and its counter per gRPC status code (made on first use).
  struct MethodMetrics {
    obs::Histogram* latency = nullptr;
    std::array<obs::Counter*, 17> calls{};
  };
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };
  std::mutex metrics_mutex_;  // guards methods_
  std::unordered_map<std::string, MethodMetrics, NameHash, std::equal_to<>> methods_;
};

}  // namespace mercato::rpc
