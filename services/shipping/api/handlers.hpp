// The shipping service's HTTP API (contract: api/shipping.yaml): JSON in, JSON out, errors in the one
// shape. Translates between HTTP and the use cases; holds no logic of its own.
//
// Thread-safety: the handlers keep no state; they are as thread-safe as the service they call.
#pragma once

#include "app/shipping_service.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::shipping {

// POST /shipments, GET /shipments?order_id=, GET /shipments/{id}, POST /shipments/{id}/cancel
void register_routes(http::Router& router, ShippingService& service, const service::Identity& identity);

}  // namespace mercato::shipping
