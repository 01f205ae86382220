// CustomerDirectory and Catalog over gRPC (transport: grpc, the default; api/user.proto and
// api/inventory.proto): Users/CustomerExists with the order service's own token, and Catalog/GetPrices
// for all of an order's lines in one call. Each through the same resilience::Upstream policy as over
// HTTP (breaker, retries of these idempotent reads, outlier detection), with the caller's request id,
// trace and deadline in the call's metadata (grpc-timeout from the remaining budget).
//
// Thread-safety: thread-safe; calls must be awaited on a worker of the service's IoPool.
#pragma once

#include "app/ports.hpp"
#include "mercato/resilience/upstream.hpp"
#include "mercato/rpc/client.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::order {

class GrpcCustomerDirectory final : public CustomerDirectory {
 public:
  GrpcCustomerDirectory(resilience::Upstream& users, rpc::Channels& channels, service::Identity& identity)
      : users_(users), channels_(channels), identity_(identity) {}
  boost::asio::awaitable<Result<bool>> exists(const std::string& customer_id,
                                              const CallContext& ctx) override;

 private:
  resilience::Upstream& users_;
  rpc::Channels& channels_;
  service::Identity& identity_;
};

class GrpcCatalog final : public Catalog {
 public:
  GrpcCatalog(resilience::Upstream& inventory, rpc::Channels& channels)
      : inventory_(inventory), channels_(channels) {}
  boost::asio::awaitable<Result<Prices>> prices(std::vector<std::string> product_ids,
                                                const CallContext& ctx) override;

 private:
  resilience::Upstream& inventory_;
  rpc::Channels& channels_;
};

}  // namespace mercato::order
