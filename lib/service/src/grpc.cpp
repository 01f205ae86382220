#include "mercato/service/grpc.hpp"

#include "mercato/http/server.hpp"
#include "mercato/service/blocking.hpp"

namespace mercato::service {
namespace {

// The health protocol's readiness: the /health/ready checks, on the storage pool when there is one (they
// ask the database; service.hpp, Context::storage_pool). A full pool answers not serving.
boost::asio::awaitable<bool> ready_on_storage(Context* ctx) {
  auto ready = co_await run_on_storage(ctx->storage_pool(), [ctx] { return ctx->ready(); });
  co_return ready.value_or(false);
}

// The context's GrpcSide: a server when the service serves gRPC, channels when it calls it.
class Side final : public Context::GrpcSide {
 public:
  explicit Side(Context& ctx) : ctx_(ctx) {}

  rpc::Server& server() {
    if (!server_) {
      server_ = std::make_unique<rpc::Server>(
          ctx_.name(), ctx_.io(), [ctx = &ctx_] { return ready_on_storage(ctx); }, ctx_.logger(),
          ctx_.metrics(), ctx_.tracer());
    }
    return *server_;
  }
  rpc::Channels& channels() {
    if (!channels_) channels_ = std::make_unique<rpc::Channels>(ctx_.local_grpc(), ctx_.tracer());
    return *channels_;
  }

  bool serving() const noexcept override { return server_ != nullptr; }
  void start(const http::ServerSettings& limits) override {
    server_->set_limits({.max_message_bytes = limits.max_body_bytes,
                         .max_metadata_bytes = limits.max_header_bytes,
                         .idle_timeout = limits.idle_timeout});
    server_->start();
  }
  void adopt(int fd) override { server_->adopt(fd); }
  void shutdown(std::chrono::milliseconds grace) override { server_->shutdown(grace); }
  void release_server() noexcept override { server_.reset(); }

 private:
  Context& ctx_;
  std::unique_ptr<rpc::Channels> channels_;
  std::unique_ptr<rpc::Server> server_;
};

Side& side_of(Context& ctx) {
  if (auto* side = dynamic_cast<Side*>(ctx.grpc_side())) return *side;
  auto side = std::make_unique<Side>(ctx);
  auto& ref = *side;
  ctx.set_grpc_side(std::move(side));
  return ref;
}

}  // namespace

rpc::Server& grpc_server(Context& ctx) { return side_of(ctx).server(); }
rpc::Channels& grpc_channels(Context& ctx) { return side_of(ctx).channels(); }

}  // namespace mercato::service
