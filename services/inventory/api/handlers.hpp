// The inventory service's HTTP API (contract: api/inventory.yaml): JSON in, JSON out, errors in the one
// shape. Translates between HTTP and the use cases; holds no logic of its own.
//
// Thread-safety: the handlers keep no state; they are as thread-safe as the service they are given.
#pragma once

#include "app/inventory_service.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::inventory {

// GET/PUT /inventory/{product_id}, POST /inventory/reservations,
// GET /inventory/reservations/{order_id}, POST /inventory/reservations/{order_id}/commit and /release.
void register_routes(http::Router& router, InventoryService& service, const service::Identity& identity);

}  // namespace mercato::inventory
