#include "api/grpc_service.hpp"

#include <set>

#include "mercato/rpc/status.hpp"

namespace mercato::inventory {

grpc::ServerUnaryReactor* CatalogGrpc::GetPrices(grpc::CallbackServerContext* call,
                                                 const v1::GetPricesRequest* request,
                                                 v1::GetPricesReply* reply) {
  return server_.serve(
      call, "mercato.inventory.v1.Catalog/GetPrices",
      [this, request, reply](const rpc::Incoming& in) -> boost::asio::awaitable<grpc::Status> {
        if (auto who = identity_.authorize(in.authorization, auth::kEveryone); !who)
          co_return rpc::to_status(who.error());
        const auto& ids = request->product_ids();
        if (ids.size() > kMaxProducts) {
          co_return rpc::to_status(Error::validation(
              "product_ids", "product_ids: at most " + std::to_string(kMaxProducts) + " per call"));
        }
        // Each product once, whatever the caller repeated; nothing answered until every id is valid.
        std::set<std::string_view> asked;
        for (int i = 0; i < ids.size(); ++i) {
          if (auto valid = check_id(ids[i], "product_ids[" + std::to_string(i) + "]"); !valid)
            co_return rpc::to_status(valid.error());
          asked.insert(ids[i]);
        }
        // The lookups on the storage pool when there is one; the coroutine waits, so `reply` is only
        // ever touched by one thread at a time.
        auto looked_up = co_await service::run_on_storage(storage_, [&]() -> Result<void> {
          for (auto id : asked) {
            auto product = stock_.get_product(id);
            if (!product) {
              if (product.error().code == ErrorCode::kNotFound) continue;  // left out: no such product
              return product.error();
            }
            auto* price = reply->add_prices();
            price->set_product_id(product->product_id);
            price->set_price_cents(product->price_cents);
          }
          return {};
        });
        if (!looked_up) co_return rpc::to_status(service::storage_saturated());
        if (!*looked_up) co_return rpc::to_status(looked_up->error());
        co_return grpc::Status::OK;
      });
}

}  // namespace mercato::inventory
