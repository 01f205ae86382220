#include "adapters/grpc_directory.hpp"

#include "adapters/upstream_error.hpp"
#include "mercato/api/inventory.grpc.pb.h"
#include "mercato/api/user.grpc.pb.h"
#include "mercato/rpc/status.hpp"

namespace mercato::order {
namespace {

using Invoke =
    std::function<boost::asio::awaitable<grpc::Status>(std::shared_ptr<grpc::Channel>, grpc::ClientContext&)>;

// One unary call under `upstream`'s policy: every try on its own ClientContext (a context serves one
// call) at the instance the policy picked, within the try's timeout and the caller's deadline.
boost::asio::awaitable<Result<void>> call(resilience::Upstream& upstream, rpc::Channels& channels,
                                          std::string_view service, rpc::Outgoing outgoing,
                                          const Invoke& invoke) {
  grpc::Status status;
  auto refusal =
      co_await upstream.call_with({.deadline = outgoing.deadline}, true,
                                  [&](const http::Endpoint& instance, std::chrono::milliseconds timeout,
                                      bool) -> boost::asio::awaitable<bool> {
                                    grpc::ClientContext context;
                                    outgoing.timeout = timeout;
                                    rpc::prepare(context, outgoing);
                                    status = co_await invoke(channels.get(instance), context);
                                    co_return rpc::is_failure(status);
                                  });
  if (refusal.refused != resilience::Refused::kNone) {
    co_return upstream_error(service, resilience::refusal_error(upstream.settings().name, refusal.refused));
  }
  if (status.ok()) co_return Result<void>{};
  if (!rpc::is_failure(status)) {
    // A refusal of ours (a bad token, a bad argument) is not the client's doing: the service that
    // refused is named, the answer kept for the log.
    co_return unexpected_answer(service, std::to_string(status.error_code()) + " " + status.error_message());
  }
  co_return upstream_error(service, rpc::to_error(status));
}

rpc::Outgoing outgoing_of(const CallContext& ctx, std::string_view authorization = {}) {
  return {.request_id = ctx.request_id,
          .traceparent = ctx.traceparent,
          .authorization = authorization,
          .deadline = ctx.deadline};
}

}  // namespace

boost::asio::awaitable<Result<bool>> GrpcCustomerDirectory::exists(const std::string& customer_id,
                                                                   const CallContext& ctx) {
  auto authorization = co_await identity_.authorization();
  if (!authorization) co_return upstream_error("user service", authorization.error());
  user::v1::CustomerExistsRequest request;
  request.set_customer_id(customer_id);
  user::v1::CustomerExistsReply reply;
  auto done =
      co_await call(users_, channels_, "user service", outgoing_of(ctx, *authorization),
                    [&](std::shared_ptr<grpc::Channel> channel,
                        grpc::ClientContext& context) -> boost::asio::awaitable<grpc::Status> {
                      reply.Clear();
                      auto stub = user::v1::Users::NewStub(std::move(channel));
                      co_return co_await rpc::finished([&](auto callback) {
                        stub->async()->CustomerExists(&context, &request, &reply, std::move(callback));
                      });
                    });
  if (!done) co_return std::move(done).error();
  co_return reply.exists();
}

boost::asio::awaitable<Result<Prices>> GrpcCatalog::prices(std::vector<std::string> product_ids,
                                                           const CallContext& ctx) {
  inventory::v1::GetPricesRequest request;
  for (auto& id : product_ids) request.add_product_ids(std::move(id));
  inventory::v1::GetPricesReply reply;
  auto done = co_await call(inventory_, channels_, "inventory service", outgoing_of(ctx),
                            [&](std::shared_ptr<grpc::Channel> channel,
                                grpc::ClientContext& context) -> boost::asio::awaitable<grpc::Status> {
                              reply.Clear();
                              auto stub = inventory::v1::Catalog::NewStub(std::move(channel));
                              co_return co_await rpc::finished([&](auto callback) {
                                stub->async()->GetPrices(&context, &request, &reply, std::move(callback));
                              });
                            });
  if (!done) co_return std::move(done).error();
  Prices out;
  for (const auto& price : reply.prices()) {
    if (price.price_cents() < 0) {
      co_return Error::bad_gateway("inventory service: product " + price.product_id() +
                                   " has a negative price");
    }
    out[price.product_id()] = price.price_cents();
  }
  co_return out;
}

}  // namespace mercato::order
