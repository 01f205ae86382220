#include "api/grpc_service.hpp"

#include "mercato/rpc/status.hpp"

namespace mercato::user {

grpc::ServerUnaryReactor* UsersGrpc::CustomerExists(grpc::CallbackServerContext* call,
                                                    const v1::CustomerExistsRequest* request,
                                                    v1::CustomerExistsReply* reply) {
  return server_.serve(
      call, "mercato.user.v1.Users/CustomerExists",
      [this, request, reply](const rpc::Incoming& in) -> boost::asio::awaitable<grpc::Status> {
        // Whether an account exists is the business of the services that need to know, not of customers.
        if (auto who = identity_.authorize(in.authorization, auth::kServiceOnly); !who)
          co_return rpc::to_status(who.error());
        const auto& id = request->customer_id();
        if (id.empty() || id.size() > 128)
          co_return rpc::to_status(
              Error::validation("customer_id", "customer_id: must be 1..128 characters"));
        auto found = co_await service::run_on_storage(storage_, [&] { return users_.get(id); });
        if (!found) co_return rpc::to_status(service::storage_saturated());
        auto& user = *found;
        if (!user && user.error().code != ErrorCode::kNotFound) co_return rpc::to_status(user.error());
        reply->set_exists(static_cast<bool>(user));
        co_return grpc::Status::OK;
      });
}

}  // namespace mercato::user
