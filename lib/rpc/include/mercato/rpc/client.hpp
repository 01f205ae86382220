// Calling a gRPC service from a coroutine: the channels (one per instance, kept), the metadata a call
// carries, and the wait for gRPC's callback API as an awaitable.
//
//   auto channel = channels.get(instance);                       // "127.0.0.1:8081": its HTTP port too
//   grpc::ClientContext call;
//   rpc::prepare(call, {.request_id = id, .traceparent = tp, .authorization = bearer,
//                       .deadline = deadline, .timeout = per_try});
//   v1::CustomerExistsRequest request; v1::CustomerExistsReply reply;
//   auto stub = v1::Users::NewStub(channel);
//   grpc::Status status = co_await rpc::finished([&](auto done) {
//     stub->async()->CustomerExists(&call, &request, &reply, std::move(done));
//   });
//
// The call, request and reply must outlive the wait (locals of the awaiting coroutine do). gRPC calls
// `done` on its own thread; the coroutine resumes on its own executor.
//
// Thread-safety: Channels and LocalServers::find are thread-safe; LocalServers::add happens before the
// servers' threads start.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mercato/http/client.hpp"

namespace mercato::rpc {

class Server;

// What a call carries besides its message (metadata: x-request-id, traceparent, authorization) and how
// long it may take: the sooner of now + `timeout` and the caller's `deadline`, sent as grpc-timeout.
struct Outgoing {
  std::string_view request_id;
  std::string_view traceparent;
  std::string_view authorization;  // "Bearer <token>"
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::chrono::milliseconds timeout{5000};
};
void prepare(grpc::ClientContext& call, const Outgoing& outgoing);

// Awaits one call of gRPC's callback API: `start(done)` starts it, gRPC calls done(status) once.
template <typename Start>
boost::asio::awaitable<grpc::Status> finished(Start start) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(grpc::Status)>(
      [start = std::move(start)](auto handler) mutable {
        auto executor = boost::asio::get_associated_executor(handler);
        // std::function needs a copyable callable; the coroutine's handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start(std::function<void(grpc::Status)>([shared, executor](grpc::Status status) {
          boost::asio::post(executor,
                            [shared, status = std::move(status)]() mutable { (*shared)(std::move(status)); });
        }));
      },
      boost::asio::use_awaitable);
}

// The gRPC servers of this process (the monolith's modules), by the port they share with HTTP: a call
// to a loopback address on one of them goes in-process (Server::in_process_channel), like http::Client's
// local routing.
class LocalServers {
 public:
  void add(std::uint16_t port, Server& server);
  Server* find(const http::Endpoint& to) const;

 private:
  std::map<std::uint16_t, Server*> by_port_;
};

// One channel per instance, made on first use and kept (a channel keeps its HTTP/2 connection and
// reconnects by itself). At most kMaxChannels are kept: instances come and go with discovery, so past
// that the map starts afresh (calls under way keep their channel).
class Channels {
 public:
  // `tracer` (nullptr: tracing off): every call that carries a traceparent gets a CLIENT span.
  explicit Channels(const LocalServers* local = nullptr, const obs::Tracer* tracer = nullptr)
      : local_(local), tracer_(tracer) {}
  std::shared_ptr<grpc::Channel> get(const http::Endpoint& to);

  static constexpr std::size_t kMaxChannels = 256;

 private:
  const LocalServers* local_;
  const obs::Tracer* tracer_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<grpc::Channel>> by_address_;
};

}  // namespace mercato::rpc
