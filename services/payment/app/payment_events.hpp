// The events the payment service publishes, version 1 of each:
//   payment.processed  {payment_id, order_id, customer_id, amount_cents, status ("captured" |
//                       "declined"), decline_reason (only when declined: "card_declined" |
//                       "insufficient_funds"), created_at}
//                      once per charge attempt recorded — never for an Idempotency-Key replay, a
//                      refused request (400/422) or an order already paid (409): none records a payment.
//   payment.refunded   {payment_id, order_id, refund_id, amount_cents, refunded_at}
//                      once per payment, when it moves captured → refunded (a repeated refund is a no-op).
// Subject = the ORDER id, not the payment id: the order saga consumes a payment's events beside the
// order's own, and the subject is the ordering (partition) key, so one order's events stay in order.
// The event data is a contract of its own, written here rather than reusing the REST representation, so
// the two can evolve separately. Amounts in cents, times RFC 3339 UTC.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "domain/payment.hpp"
#include "mercato/events/event.hpp"

namespace mercato::payment {

events::CloudEvent payment_processed_event(const Payment& payment, std::string traceparent);
// `refund_id` names this refund: refunds are full, so a payment has at most one; the id lets a consumer
// tell a refund apart from the charge it undoes.
events::CloudEvent payment_refunded_event(const Payment& payment, std::string refund_id,
                                          std::string traceparent);

}  // namespace mercato::payment
