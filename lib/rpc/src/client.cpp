#include "mercato/rpc/client.hpp"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "mercato/rpc/server.hpp"

namespace mercato::rpc {

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
  if (auto* server = local_ != nullptr ? local_->find(to) : nullptr; server != nullptr) {
    channel = server->in_process_channel();
  } else {
    grpc::ChannelArguments args;
    // Each instance is one address: no DNS re-resolution, no load balancing inside gRPC (the
    // resilience::Upstream picks the instance). A refused connection is tried again soon.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  by_address_.emplace(address, channel);
  return channel;
}

}  // namespace mercato::rpc
