// CustomerDirectory and Catalog over HTTP: the user service's GET /users/{id} and the inventory
// service's GET /inventory/{product_id}, with the caller's request id, trace and deadline passed on.
//
// Thread-safety: thread-safe; calls must be awaited on a worker of the client's IoPool.
#pragma once

#include <chrono>

#include "app/ports.hpp"
#include "mercato/http/client.hpp"

namespace mercato::order {

class HttpCustomerDirectory final : public CustomerDirectory {
 public:
  HttpCustomerDirectory(http::Client& client, http::Endpoint users, std::chrono::milliseconds timeout)
      : client_(client), users_(std::move(users)), timeout_(timeout) {}
  boost::asio::awaitable<Result<bool>> exists(const std::string& customer_id,
                                              const CallContext& ctx) override;

 private:
  http::Client& client_;
  http::Endpoint users_;
  std::chrono::milliseconds timeout_;
};

class HttpCatalog final : public Catalog {
 public:
  HttpCatalog(http::Client& client, http::Endpoint inventory, std::chrono::milliseconds timeout)
      : client_(client), inventory_(std::move(inventory)), timeout_(timeout) {}
  boost::asio::awaitable<Result<std::optional<std::int64_t>>> unit_price(const std::string& product_id,
                                                                         const CallContext& ctx) override;

 private:
  http::Client& client_;
  http::Endpoint inventory_;
  std::chrono::milliseconds timeout_;
};

}  // namespace mercato::order
