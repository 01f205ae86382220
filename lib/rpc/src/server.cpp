#include "mercato/rpc/server.hpp"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <climits>

#include "mercato/api/health.grpc.pb.h"
#include "mercato/core/error.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/observability/trace_context.hpp"

namespace mercato::rpc {
namespace {

namespace health = grpc::health::v1;

std::string_view metadata(const grpc::CallbackServerContext& call, std::string_view key) {
  const auto& all = call.client_metadata();
  auto it = all.find(grpc::string_ref(key.data(), key.size()));
  if (it == all.end()) return {};
  return {it->second.data(), it->second.size()};
}

// As the HTTP server's: short and printable, or replaced.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

// The names gRPC gives its status codes (grpc/status.h), as metric label values.
constexpr std::array<std::string_view, 17> kCodeNames{
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// grpc.health.v1.Health/Check: the readiness /health/ready reports, awaited on an I/O thread (the
// Readiness may run the checks elsewhere: they may look at a database).
class HealthService final : public health::Health::CallbackService {
 public:
  HealthService(Server& server, std::string name, Server::Readiness ready)
      : server_(server), name_(std::move(name)), ready_(std::move(ready)) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* call,
                                  const health::HealthCheckRequest* request,
                                  health::HealthCheckResponse* response) override {
    return server_.serve(call, "grpc.health.v1.Health/Check",
                         [this, request, response](const Incoming&) -> boost::asio::awaitable<grpc::Status> {
                           if (!request->service().empty() && request->service() != name_) {
                             co_return grpc::Status(grpc::StatusCode::NOT_FOUND,
                                                    "no service '" + request->service() + "' here");
                           }
                           bool ready = co_await ready_();
                           response->set_status(ready ? health::HealthCheckResponse::SERVING
                                                      : health::HealthCheckResponse::NOT_SERVING);
                           co_return grpc::Status::OK;
                         });
  }

 private:
  Server& server_;
  std::string name_;
  Server::Readiness ready_;
};

}  // namespace

Incoming Incoming::of(const grpc::CallbackServerContext& call) {
  Incoming in;
  auto id = metadata(call, "x-request-id");
  in.request_id = acceptable_request_id(id) ? std::string(id) : new_uuid();
  auto parent = obs::TraceContext::parse(metadata(call, "traceparent"));
  in.traceparent = (parent ? parent->child() : obs::TraceContext::new_root()).to_traceparent();
  in.authorization = std::string(metadata(call, "authorization"));
  // No grpc-timeout: gRPC's infinite deadline, far beyond any real one.
  auto left = call.deadline() - std::chrono::system_clock::now();
  if (left < std::chrono::hours(24 * 365)) {
    in.deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
  }
  return in;
}

Server::Server(std::string name, http::IoPool& io, Readiness ready, const obs::Logger& logger,
               obs::Registry& metrics, const obs::Tracer* tracer)
    : name_(std::move(name)),
      io_(io),
      ready_(std::move(ready)),
      logger_(logger),
      metrics_(metrics),
      tracer_(tracer) {}

std::shared_ptr<obs::Span> Server::start_span(const grpc::CallbackServerContext& call,
                                              std::string_view method, Incoming& incoming) {
  auto parent = obs::TraceContext::parse(metadata(call, "traceparent"));
  // "<package>.<Service>/<Method>" when the handler says so (health); otherwise the method of this
  // service's own API, whose gRPC service the call context does not name.
  auto slash = method.find('/');
  std::string service = slash == std::string_view::npos ? name_ : std::string(method.substr(0, slash));
  std::string rpc_method(slash == std::string_view::npos ? method : method.substr(slash + 1));
  auto span =
      std::make_shared<obs::Span>(tracer_->start(service + "/" + rpc_method, obs::SpanKind::kServer, parent));
  incoming.traceparent = span->context().to_traceparent();
  if (span->recording()) {
    span->set("rpc.system", "grpc");
    span->set("rpc.service", service);
    span->set("rpc.method", rpc_method);
  }
  return span;
}

void Server::finish_span(obs::Span& span, const grpc::Status& status) {
  if (!span.recording()) return;
  span.set("rpc.grpc.status_code", std::int64_t{static_cast<int>(status.error_code())});
  // As the semantic conventions say for a server: only codes that are the server's fault are errors.
  auto code = status.error_code();
  if (code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
      code == grpc::StatusCode::UNIMPLEMENTED || code == grpc::StatusCode::INTERNAL ||
      code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DATA_LOSS) {
    span.set_error(status.error_message());
  }
  span.end();
}

Server::~Server() = default;

void Server::add(grpc::Service& service) { services_.push_back(&service); }

void Server::start() {
  health_ = std::make_unique<HealthService>(*this, name_, ready_);
  grpc::ServerBuilder builder;
  auto capped = [](std::uint64_t v) { return static_cast<int>(std::min<std::uint64_t>(v, INT32_MAX)); };
  builder.SetMaxReceiveMessageSize(capped(limits_.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, capped(limits_.max_metadata_bytes));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             capped(static_cast<std::uint64_t>(limits_.idle_timeout.count())));
  builder.RegisterService(health_.get());
  for (auto* service : services_) builder.RegisterService(service);
  // No listening port: connections arrive through adopt() (the HTTP port's HTTP/2 connections).
  server_ = builder.BuildAndStart();
  if (!server_) throw std::runtime_error("the gRPC server of " + name_ + " did not start");
}

void Server::adopt(int fd) { grpc::AddInsecureChannelFromFd(server_.get(), fd); }

std::shared_ptr<grpc::Channel> Server::in_process_channel(
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors) {
  if (interceptors.empty()) return server_->InProcessChannel(grpc::ChannelArguments{});
  return server_->experimental().InProcessChannelWithInterceptors(grpc::ChannelArguments{},
                                                                  std::move(interceptors));
}

void Server::shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
}

boost::asio::any_io_executor Server::next_executor() {
  return io_.context(next_.fetch_add(1, std::memory_order_relaxed) % io_.size()).get_executor();
}

grpc::Status Server::failed(std::string_view method, const std::exception_ptr& e) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {  // NOLINT(bugprone-empty-catch): `what` already says so
  }
  logger_.error("gRPC handler failed", {{"method", std::string(method)}, {"error", what}});
  return {grpc::StatusCode::INTERNAL, std::string(client_message(Error::internal(what)))};
}

void Server::record(std::string_view method, const grpc::Status& status,
                    std::chrono::steady_clock::time_point started) {
  auto code = static_cast<std::size_t>(status.error_code());
  if (code >= kCodeNames.size()) code = grpc::StatusCode::UNKNOWN;  // a number gRPC does not define
  obs::Counter* calls = nullptr;
  obs::Histogram* latency = nullptr;
  {
    // The handles are looked up in the registry once per method and code, not per call.
    std::lock_guard lock(metrics_mutex_);
    auto it = methods_.find(method);
    if (it == methods_.end()) {
      MethodMetrics fresh;
      fresh.latency = &metrics_.histogram("grpc_server_request_duration_seconds",
                                          "Time from a gRPC call's arrival to its answer",
                                          {{"method", std::string(method)}});
      it = methods_.emplace(std::string(method), fresh).first;
    }
    auto& slot = it->second.calls[code];
    if (slot == nullptr) {
      slot = &metrics_.counter("grpc_server_requests_total", "gRPC calls handled, by method and status code",
                               {{"method", std::string(method)}, {"code", std::string(kCodeNames[code])}});
    }
    calls = slot;
    latency = it->second.latency;
  }
  calls->inc();
  latency->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

}  // namespace mercato::rpc
