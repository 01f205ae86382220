// The payment service's use cases: validate with the domain rules, ask the card processor, record
// through the repository, and make charges idempotent per Idempotency-Key. Every recorded change is
// published: its event (app/payment_events.hpp) goes to the outbox in the change's own transaction.
// `traceparent` (W3C, may be empty) is the trace of the call that caused the change, carried by its event.
//
// Thread-safety: as thread-safe as the repository and processor it is given.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "app/card_processor.hpp"
#include "app/payment_repository.hpp"

namespace mercato::payment {

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

  // Start-up: purges keys older than `retention` (at least kMinKeyRetention, else kValidationFailed)
  // and keys left in progress by a previous process. Returns how many were deleted.
  Result<std::int64_t> recover_keys(std::chrono::milliseconds retention);

 private:
  PaymentRepository& repository_;
  CardProcessor& processor_;
};

}  // namespace mercato::payment
