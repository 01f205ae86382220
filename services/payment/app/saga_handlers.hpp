// The payment service's part in the order saga (docs/saga.md): the commands the order service sends,
// each turned into a use case and exactly one answer.
//
//   payment.charge_requested {order_id, customer_id, amount_cents, payment_token}
//     → PaymentService::charge_order, once per order. Answer: payment.processed —
//       the charge recorded now: captured or declined, appended by the repository with the payment;
//       the order already had a payment that is this charge (same customer and amount, any status): that
//       payment, again;
//       the order holds a capture that is not this charge (another amount or customer, made through the
//       REST API): declined with decline_reason "payment_conflict", no payment_id, that capture untouched;
//       refused before any payment was recorded: declined with decline_reason "invalid_token" (the
//       processor does not know the token) or "invalid_request" (e.g. amount_cents 0), no payment_id.
//   payment.refund_requested {order_id, customer_id, amount_cents, reason}
//     → PaymentService::refund_order of the charge those name (a foreign capture of the order, of another
//       amount or customer, is not the saga's to refund; without customer_id and amount_cents, as an older
//       order service sends it, any capture of the order). Answer: payment.refunded —
//       the refund made now, appended by the repository with it;
//       the payment already refunded: that refund again (same refund_id);
//       nothing captured (no payment, or only declined ones): amount_cents 0, no payment_id or refund_id.
// Every answer is keyed (subject) by the order and carries the command's trace context.
//
// Once per command id: an answer that reflects the current state is appended together with the
// command's inbox record (EventStore::handle_once), so a redelivered command appends nothing. When the
// command changed something, the repository appended the answer in the change's transaction and the
// inbox record follows in its own; a crash between the two makes the redelivered command answer again
// from the current state — a duplicate answer, which the orchestrator ignores — never a second charge.
//
// Choreography (docs/saga.md): a choreographed order's events stand in for the commands. The charge
// needs two of them, which travel on different topics and arrive in either order: the order.created that
// says what to charge (total_cents, payment_token) and the inventory.reserved (naming the choreography)
// that says the stock is held. Each is kept as it comes (EventStore::join); the second charges, and its
// payment.processed names the choreography for shipping. order.cancelled refunds — or voids the charge
// if it has not run (PaymentService::refund_order). Other orders' events are recorded in the inbox and
// change nothing.
//
// Data is read tolerantly: unknown fields are ignored; a missing or mistyped field is kValidationFailed
// naming it, data that is not a JSON object kMalformedRequest, a newer dataschema version than v1
// kUnprocessable — errors, so the bus retries the command and then dead-letters it, as it does a
// storage failure. A business refusal is an answer, never an error.
//
// Thread-safety: as thread-safe as the PaymentService and EventStore it is given.
#pragma once

#include <optional>
#include <string>

#include "app/payment_service.hpp"
#include "mercato/events/event.hpp"
#include "mercato/events/store.hpp"

namespace mercato::payment {

class SagaHandlers {
 public:
  // `consumer`: the name the inbox records commands under, the service's name ("payment").
  SagaHandlers(PaymentService& payments, events::EventStore& store, std::string consumer)
      : payments_(payments), store_(store), consumer_(std::move(consumer)) {}

  Result<void> on_charge_requested(const events::CloudEvent& command);
  Result<void> on_refund_requested(const events::CloudEvent& command);
  Result<void> on_order_created(const events::CloudEvent& event);
  Result<void> on_inventory_reserved(const events::CloudEvent& event);
  Result<void> on_order_cancelled(const events::CloudEvent& event);

 private:
  // The order's charge, answered to `command` (passing `saga` on in the answer).
  Result<void> charge(const events::CloudEvent& command, const ChargeRequest& request, std::string_view saga);
  // The order's refund, answered to `command`, which names the saga's charge with customer_id and
  // `amount_key` (PaymentService::refund_order refunds only that charge).
  Result<void> refund(const events::CloudEvent& command, std::string_view amount_key);

  PaymentService& payments_;
  events::EventStore& store_;
  std::string consumer_;
};

}  // namespace mercato::payment
