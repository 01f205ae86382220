// CustomerDirectory and Catalog over HTTP (transport: http; grpc_directory.hpp for gRPC): the user service's
// GET /users/{id} and the inventory service's GET /inventory/{product_id}, with the caller's request id,
// trace and deadline passed on, through a resilience::Upstream each (circuit breaker, retries of these
// idempotent GETs, timeouts): a service that keeps failing is refused at once (503 naming it) instead of
// costing every order a timeout.
//
// Thread-safety: thread-safe; calls must be awaited on a worker of the client's IoPool.
#pragma once

#include <chrono>

#include "app/ports.hpp"
#include "mercato/resilience/upstream.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::order {

// Asks with the order service's own identity (a service token): a customer's account is not theirs to
// show to the order service.
class HttpCustomerDirectory final : public CustomerDirectory {
 public:
  HttpCustomerDirectory(resilience::Upstream& users, service::Identity& identity)
      : users_(users), identity_(identity) {}
  boost::asio::awaitable<Result<bool>> exists(const std::string& customer_id,
                                              const CallContext& ctx) override;

 private:
  resilience::Upstream& users_;
  service::Identity& identity_;
};

class HttpCatalog final : public Catalog {
 public:
  explicit HttpCatalog(resilience::Upstream& inventory) : inventory_(inventory) {}
  boost::asio::awaitable<Result<Prices>> prices(std::vector<std::string> product_ids,
                                                const CallContext& ctx) override;

 private:
  resilience::Upstream& inventory_;
};

}  // namespace mercato::order
