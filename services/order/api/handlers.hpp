// The order service's HTTP API (contract: api/order.yaml): JSON in, JSON out, errors in the one shape.
// Translates between HTTP and the use cases; holds no logic of its own.
#pragma once

#include "app/order_service.hpp"
#include "app/projector.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::order {

// The write side: POST /orders, GET /orders/{id}[?at_version=], GET /orders/{id}/events,
// GET /orders/{id}/saga, POST /orders/{id}/cancel, GET /admin/orders. The read side (served from the
// read models): GET /orders (a customer's list: filters, cursors), GET /orders/reports/sales,
// GET /admin/projections, POST /admin/projections/{name}/rebuild.
// `storage`: where the asynchronous routes' reads run (the context's storage pool; nullptr: inline).
void register_routes(http::Router& router, OrderService& service, OrderReadModels& read_models,
                     Projector& projector, const service::Identity& identity,
                     service::BlockingPool* storage = nullptr);

// A list cursor as the API shows it ("<created_at_ms>-<position>") and back; nullopt for text that is
// not one.
std::string format_cursor(const Cursor& cursor);
std::optional<Cursor> parse_cursor(std::string_view text);

// Request parsing, exposed for unit tests.
Result<NewOrder> parse_new_order(std::string_view body);
bool valid_id(std::string_view id) noexcept;

inline constexpr std::int64_t kDefaultPageSize = 20;
inline constexpr std::int64_t kMaxPageSize = 100;

}  // namespace mercato::order
