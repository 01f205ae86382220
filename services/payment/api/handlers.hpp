// The payment service's HTTP API (contract: api/payment.yaml): JSON in, JSON out, errors in the one
// shape. Translates between HTTP and the use cases (including the Idempotency-Key and
// Idempotent-Replayed headers); holds no logic of its own.
#pragma once

#include "app/payment_service.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::payment {

// POST /payments, GET /payments?order_id=, GET /payments/{id}, POST /payments/{id}/refund
void register_routes(http::Router& router, PaymentService& service, const service::Identity& identity);

}  // namespace mercato::payment
