// The events the payment service publishes, version 1 of each:
//   payment.processed  {payment_id, order_id, customer_id, amount_cents, status ("captured" |
//                       "declined"), decline_reason (only when declined: "card_declined" |
//                       "insufficient_funds"), created_at}
//                      once per charge attempt recorded — never for an Idempotency-Key replay, a
//                      refused request (400/422) or an order already paid (409): none records a payment.
//   payment.refunded   {payment_id, order_id, refund_id, amount_cents, refunded_at}
//                      once per payment, when it moves captured → refunded (a repeated refund is a no-op).
// The order saga's commands are answered with the same two types (app/saga_handlers.hpp, docs/saga.md).
// Answers that reflect the current state rather than a change are appended with the command's inbox
// record instead of by the repository, and may differ in these ways:
//   payment.processed  from the order's existing payment: status may also be "refunded" (the payment's
//                      status now). A charge refused before any payment was recorded has no payment_id,
//                      and decline_reason "invalid_token" (the processor does not know the token) or
//                      "invalid_request" (the charge breaks the domain rules, e.g. amount_cents 0).
//   payment.refunded   for an order with nothing captured: {order_id, amount_cents 0, refunded_at} — no
//                      payment_id, no refund_id. For an order already refunded: the refund as published
//                      the first time (refund_id is derived from the payment, domain refund_id_of).
// Subject = the ORDER id, not the payment id: the order saga consumes a payment's events beside the
// order's own, and the subject is the ordering (partition) key, so one order's events stay in order.
// The event data is a contract of its own, written here rather than reusing the REST representation, so
// the two can evolve separately. Amounts in cents, times RFC 3339 UTC.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "domain/payment.hpp"
#include "mercato/events/event.hpp"

namespace mercato::payment {

// `saga`, when given, is passed on in the data: the order saga's mode of the event the charge answers
// (shipping creates the shipment on it in choreography).
events::CloudEvent payment_processed_event(const Payment& payment, std::string traceparent,
                                           std::string_view saga = {});
// `refund_id` names this refund: refunds are full, so a payment has at most one; the id lets a consumer
// tell a refund apart from the charge it undoes.
events::CloudEvent payment_refunded_event(const Payment& payment, std::string refund_id,
                                          std::string traceparent);

// payment.processed for a charge refused before a payment was recorded (`reason`: "invalid_token" or
// "invalid_request"): the request's order, customer and amount, status "declined", created_at = `now`.
events::CloudEvent charge_refused_event(const ChargeRequest& request, std::string_view reason, SystemTime now,
                                        std::string traceparent, std::string_view saga = {});
// payment.refunded for an order with nothing to refund: amount_cents 0, refunded_at = `now`.
events::CloudEvent nothing_refunded_event(std::string_view order_id, SystemTime now, std::string traceparent);

}  // namespace mercato::payment
