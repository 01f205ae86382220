// The inventory service over gRPC (api/inventory.proto): the catalog's prices for other services (the
// order service prices all of an order's lines in one call), on the service's own port beside the REST
// API (lib/rpc). The catalog is public, as over HTTP; a token that is sent must verify.
//
// Thread-safety: calls run on the service's I/O threads, as HTTP handlers do.
#pragma once

#include "app/inventory_service.hpp"
#include "mercato/api/inventory.grpc.pb.h"
#include "mercato/rpc/server.hpp"
#include "mercato/service/blocking.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::inventory {

class CatalogGrpc final : public mercato::inventory::v1::Catalog::CallbackService {
 public:
  // At most this many products per GetPrices (an order has at most 100 lines).
  static constexpr int kMaxProducts = 100;

  // `storage`: where the price lookups run (the context's storage pool; nullptr: on the I/O thread).
  CatalogGrpc(rpc::Server& server, InventoryService& stock, const service::Identity& identity,
              service::BlockingPool* storage = nullptr)
      : server_(server), stock_(stock), identity_(identity), storage_(storage) {}

  grpc::ServerUnaryReactor* GetPrices(grpc::CallbackServerContext* call, const v1::GetPricesRequest* request,
                                      v1::GetPricesReply* reply) override;

 private:
  rpc::Server& server_;
  InventoryService& stock_;
  const service::Identity& identity_;
  service::BlockingPool* storage_;
};

}  // namespace mercato::inventory
