#include "mercato/rpc/client.hpp"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include "mercato/rpc/server.hpp"

namespace mercato::rpc {
namespace {

namespace gx = grpc::experimental;

// A CLIENT span per call that carries a traceparent (rpc::prepare puts the caller's there): gRPC's
// interceptors see every call of a channel, so services need no code of their own for it. The span's
// context replaces the metadata, so the callee's server span is its child.
class TracingInterceptor : public gx::Interceptor {
 public:
  TracingInterceptor(const obs::Tracer& tracer, const http::Endpoint& to, std::string_view method)
      : tracer_(tracer), to_(to), method_(method) {}

  void Intercept(gx::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA))
      start(*methods);
    if (methods->QueryInterceptionHookPoint(gx::InterceptionHookPoints::POST_RECV_STATUS)) {
      if (const auto* status = methods->GetRecvStatus(); status != nullptr && span_.recording()) {
        span_.set("rpc.grpc.status_code", std::int64_t{static_cast<int>(status->error_code())});
        if (!status->ok()) span_.set_error(status->error_message());
      }
      span_.end();
    }
    methods->Proceed();
  }

 private:
  void start(gx::InterceptorBatchMethods& methods) {
    auto* metadata = methods.GetSendInitialMetadata();
    if (metadata == nullptr) return;
    auto it = metadata->find("traceparent");
    if (it == metadata->end()) return;
    auto parent = obs::TraceContext::parse(it->second);
    if (!parent) return;
    // "/package.Service/Method"
    auto full = method_.starts_with('/') ? method_.substr(1) : method_;
    auto slash = full.rfind('/');
    std::string service(full.substr(0, slash));
    std::string method(slash == std::string_view::npos ? full : full.substr(slash + 1));
    span_ = tracer_.start(std::string(full), obs::SpanKind::kClient, parent);
    it->second = span_.context().to_traceparent();
    if (!span_.recording()) return;
    span_.set("rpc.system", "grpc");
    span_.set("rpc.service", service);
    span_.set("rpc.method", method);
    span_.set("server.address", to_.host);
    span_.set("server.port", std::int64_t{to_.port});
  }

  const obs::Tracer& tracer_;
  const http::Endpoint& to_;
  std::string_view method_;
  obs::Span span_;
};

class TracingInterceptorFactory : public gx::ClientInterceptorFactoryInterface {
 public:
  TracingInterceptorFactory(const obs::Tracer& tracer, http::Endpoint to)
      : tracer_(tracer), to_(std::move(to)) {}
  gx::Interceptor* CreateClientInterceptor(gx::ClientRpcInfo* info) override {
    return new TracingInterceptor(tracer_, to_, info->method() == nullptr ? "" : info->method());
  }

 private:
  const obs::Tracer& tracer_;
  http::Endpoint to_;
};

}  // namespace

void prepare(grpc::ClientContext& call, const Outgoing& outgoing) {
  auto now = std::chrono::steady_clock::now();
  auto until = now + outgoing.timeout;
  if (outgoing.deadline && *outgoing.deadline < until) until = *outgoing.deadline;
  // gRPC takes a system_clock deadline and sends what remains of it as grpc-timeout.
  call.set_deadline(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(until - now));
  if (!outgoing.request_id.empty()) call.AddMetadata("x-request-id", std::string(outgoing.request_id));
  if (!outgoing.traceparent.empty()) call.AddMetadata("traceparent", std::string(outgoing.traceparent));
  if (!outgoing.authorization.empty()) call.AddMetadata("authorization", std::string(outgoing.authorization));
}

void LocalServers::add(std::uint16_t port, Server& server) { by_port_[port] = &server; }

Server* LocalServers::find(const http::Endpoint& to) const {
  if (to.host != "127.0.0.1" && to.host != "localhost" && to.host != "::1") return nullptr;
  auto it = by_port_.find(to.port);
  return it == by_port_.end() ? nullptr : it->second;
}

std::shared_ptr<grpc::Channel> Channels::get(const http::Endpoint& to) {
  auto address = to.to_string();
  std::lock_guard lock(mutex_);
  if (auto it = by_address_.find(address); it != by_address_.end()) return it->second;
  if (by_address_.size() >= kMaxChannels) by_address_.clear();
  std::shared_ptr<grpc::Channel> channel;
  std::vector<std::unique_ptr<gx::ClientInterceptorFactoryInterface>> interceptors;
  if (tracer_ != nullptr) interceptors.push_back(std::make_unique<TracingInterceptorFactory>(*tracer_, to));
  if (auto* server = local_ != nullptr ? local_->find(to) : nullptr; server != nullptr) {
    channel = server->in_process_channel(std::move(interceptors));
  } else {
    grpc::ChannelArguments args;
    // Each instance is one address: no DNS re-resolution, no load balancing inside gRPC (the
    // resilience::Upstream picks the instance). A refused connection is tried again soon.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel = interceptors.empty()
                  ? grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)
                  : gx::CreateCustomChannelWithInterceptors(address, grpc::InsecureChannelCredentials(), args,
                                                            std::move(interceptors));
  }
  by_address_.emplace(address, channel);
  return channel;
}

}  // namespace mercato::rpc
