// The payment service's use cases: validate with the domain rules, ask the card processor, record
// through the repository, and make charges idempotent per Idempotency-Key. Every recorded change is
// published: its event (app/payment_events.hpp) goes to the outbox in the change's own transaction.
// `traceparent` (W3C, may be empty) is the trace of the call that caused the change, carried by its event.
//
// Thread-safety: as thread-safe as the repository and processor it is given.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/card_processor.hpp"
#include "app/payment_repository.hpp"

namespace mercato::payment {

// The refusals of a charge that record no payment, as payment.processed reports them (decline_reason).
inline constexpr std::string_view kInvalidToken = "invalid_token";
inline constexpr std::string_view kInvalidRequest = "invalid_request";
// The order was cancelled before its charge ran: refund_order voided the charge (see there).
inline constexpr std::string_view kOrderCancelled = "order_cancelled";
// The order holds a capture that is not the charge asked for (another amount or customer, made through
// the REST API): it is not adopted, and the order cannot take a second capture.
inline constexpr std::string_view kPaymentConflict = "payment_conflict";

// The idempotency key the order saga's charge of `order_id` runs under. It starts with a control
// character, which validate_idempotency_key refuses in a header, so no REST client can claim it (or be
// replayed the saga's stored outcome, which is not an HTTP body).
std::string order_charge_key(std::string_view order_id);

class PaymentService {
 public:
  PaymentService(PaymentRepository& repository, CardProcessor& processor)
      : repository_(repository), processor_(processor) {}

  // One charge attempt: 400 for bad input, 422 for a token the processor does not know, 409 when the
  // order already has a captured payment; otherwise the recorded payment, captured or declined, and its
  // payment.processed event.
  Result<Payment> charge(const ChargeRequest& request, const std::string& traceparent = {});

  struct KeyedCharge {
    StoredResponse response;  // what to send: status and body
    bool replayed = false;    // true when it is the stored answer to an earlier request
  };
  // The same charge under an Idempotency-Key. The key is claimed (and committed) before the processor is
  // asked, so a concurrent request with the key gets 409 instead of charging again. Errors returned here were
  // decided before processing and are not stored: 400 (bad key or request; the key stays free), 422 (key used
  // for another request), 409 (key still in progress), 500 (storage failed; the key is released). Everything
  // decided while processing is rendered with `render`, stored against the key and returned as the response.
  // A replay publishes nothing: only the request that recorded the payment published payment.processed.
  Result<KeyedCharge> charge(const ChargeRequest& request, std::string_view key, const RenderOutcome& render,
                             const std::string& traceparent = {});

  Result<Payment> get(std::string_view id);
  // 400 naming "order_id" when it breaks the order id rule.
  Result<std::vector<Payment>> list_for_order(std::string_view order_id);
  // Publishes payment.refunded when the payment moved to refunded (not on a repeat).
  Result<Payment> refund(std::string_view id, const std::string& traceparent = {});

  // The order's one charge, for the order saga (app/saga_handlers.hpp). Once per order: when the order
  // already has a payment that is this charge (is_charge_of: the same customer and amount, any status,
  // however it was made), that payment is the outcome and nothing is charged. A capture of the order that
  // is not this charge (another amount or customer) is never adopted: the outcome is the refusal
  // "payment_conflict", and that payment is left as it is. Otherwise the charge runs under an idempotency key
  // derived from the order id (order_charge_key), so a repeat while it is in progress gets kConflict (retry
  // later) instead of asking the processor twice, and a repeat after a refusal replays the refusal. A charge
  // the processor refuses outright (unknown token) or that breaks the domain rules records no payment: the
  // outcome says why. Errors: kValidationFailed naming "order_id" (no outcome can name the order), kConflict
  // while the order's charge is in progress, and storage or processor failures (worth a retry).
  struct OrderCharge {
    std::optional<Payment> payment;  // the order's payment; absent when the charge was refused
    std::string refusal;    // without a payment: "invalid_token", "invalid_request", "order_cancelled" or
                            // "payment_conflict"
    bool recorded = false;  // this call recorded `payment`, and its payment.processed is in the outbox
  };
  // `saga` is passed on in the payment.processed recorded (payment_processed_event).
  Result<OrderCharge> charge_order(const ChargeRequest& request, const std::string& traceparent = {},
                                   std::string_view saga = {});

  // Refunds the order's captured payment, for the order saga. With `charge` (what the saga charged: the
  // order's customer and total), only a payment that is that charge counts: a foreign capture of the order
  // is not the saga's to undo and is left as it is. Without it (a command from an order service that did
  // not send them), any captured payment of the order. An order whose payment is already
  // refunded gets that payment back unchanged; an order with nothing captured (no payment, or only
  // declined ones) gets no payment, and its charge is voided: the order's charge key is completed with
  // the refusal "order_cancelled", so a charge that arrives later (in choreography inventory.reserved
  // and order.cancelled travel on different topics, and may be handled in either order) is refused,
  // not made. A refund while the order's charge is in progress is kConflict (retry: the charge's
  // outcome decides). kValidationFailed naming "order_id" for a bad order id.
  struct OrderRefund {
    std::optional<Payment> payment;  // the order's refunded payment; absent when nothing was captured
    bool recorded = false;           // this call refunded it, and its payment.refunded is in the outbox
  };
  Result<OrderRefund> refund_order(std::string_view order_id, const std::string& traceparent = {},
                                   const std::optional<ChargeTerms>& charge = std::nullopt) {
    return refund_charge(order_id, traceparent, charge, false);
  }

  // Start-up: purges keys older than `retention` (at least kMinKeyRetention, else kValidationFailed)
  // and keys left in progress by a previous process. Returns how many were deleted.
  Result<std::int64_t> recover_keys(std::chrono::milliseconds retention);

 private:
  Result<OrderRefund> refund_charge(std::string_view order_id, const std::string& traceparent,
                                    const std::optional<ChargeTerms>& charge, bool refunding_again);
  // The outcome when the order turned out to be paid while its charge ran: that payment when it is the
  // charge `request` asks for, else the refusal kPaymentConflict.
  Result<OrderCharge> paid_meanwhile(const ChargeRequest& request);

  PaymentRepository& repository_;
  CardProcessor& processor_;
};

}  // namespace mercato::payment
