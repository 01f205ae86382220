// The order service's HTTP API (contract: api/order.yaml): JSON in, JSON out, errors in the one shape.
// Translates between HTTP and the use cases; holds no logic of its own.
#pragma once

#include "app/order_service.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::order {

// POST /orders, GET /orders/{id}, GET /orders?customer_id=&page=&limit=, POST /orders/{id}/cancel
void register_routes(http::Router& router, OrderService& service, const service::Identity& identity);

// Request parsing, exposed for unit tests.
Result<NewOrder> parse_new_order(std::string_view body);
bool valid_id(std::string_view id) noexcept;

inline constexpr std::int64_t kDefaultPageSize = 20;
inline constexpr std::int64_t kMaxPageSize = 100;

}  // namespace mercato::order
