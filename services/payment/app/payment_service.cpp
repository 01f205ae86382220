#include "app/payment_service.hpp"

#include "app/payment_events.hpp"
#include "mercato/core/ids.hpp"

namespace mercato::payment {
namespace {

// Releases a claimed key unless the request's outcome was stored against it, so a request that fails
// without an answer (storage error, exception) never leaves its key stuck "in progress".
class KeyClaim {
 public:
  KeyClaim(PaymentRepository& repository, std::string_view key) : repository_(repository), key_(key) {}
  ~KeyClaim() {
    if (!settled_) (void)repository_.release_key(key_);
  }
  KeyClaim(const KeyClaim&) = delete;
  KeyClaim& operator=(const KeyClaim&) = delete;
  void settle() noexcept { settled_ = true; }

 private:
  PaymentRepository& repository_;
  std::string_view key_;
  bool settled_ = false;
};

}  // namespace

Result<Payment> PaymentService::charge(const ChargeRequest& request, const std::string& traceparent) {
  if (auto valid = validate(request); !valid) return std::move(valid).error();
  auto decision = processor_.authorize(request);
  if (!decision) return std::move(decision).error();
  auto payment = new_payment(request, *decision, new_uuid(), now_utc());
  auto processed = payment_processed_event(payment, traceparent);
  return repository_.record(payment, nullptr, std::span(&processed, 1));
}

Result<PaymentService::KeyedCharge> PaymentService::charge(const ChargeRequest& request, std::string_view key,
                                                           const RenderOutcome& render,
                                                           const std::string& traceparent) {
  if (auto valid = validate_idempotency_key(key); !valid) return std::move(valid).error();
  if (auto valid = validate(request); !valid) return std::move(valid).error();
  IdempotencyRecord fresh{.key = std::string(key),
                          .fingerprint = fingerprint(request),
                          .state = KeyState::kInProgress,
                          .created_at = now_utc()};
  auto existing = repository_.claim_key(fresh);
  if (!existing) return std::move(existing).error();
  if (*existing) {
    auto replay = resume(**existing, fresh.fingerprint);
    if (!replay) return std::move(replay).error();
    return KeyedCharge{std::move(*replay), true};
  }

  KeyClaim claim(repository_, key);
  auto decision = processor_.authorize(request);
  if (!decision) {
    // A token the processor refuses is its decision, stored and replayed like any other outcome; any
    // other failure (a real processor out of reach) releases the key, so the client can retry.
    if (decision.error().code != ErrorCode::kUnprocessable) return std::move(decision).error();
    Result<Payment> refused = decision.error();
    auto response = render(refused);
    if (auto done = repository_.complete_key(key, response); !done) return std::move(done).error();
    claim.settle();
    return KeyedCharge{std::move(response), false};
  }
  KeyCompletion completion{key, render};
  // The payment, its event and the key's completion commit together: a replay finds the key completed
  // and returns before this point, so it can never publish the charge a second time.
  auto payment = new_payment(request, *decision, new_uuid(), now_utc());
  auto processed = payment_processed_event(payment, traceparent);
  auto recorded = repository_.record(payment, &completion, std::span(&processed, 1));
  if (!recorded && recorded.error().code != ErrorCode::kConflict) return std::move(recorded).error();
  claim.settle();
  // The same rendering the repository stored: the outcome and the request are the same.
  return KeyedCharge{render(recorded), false};
}

Result<Payment> PaymentService::get(std::string_view id) { return repository_.find(id); }

Result<std::vector<Payment>> PaymentService::list_for_order(std::string_view order_id) {
  if (auto valid = validate_order_id(order_id); !valid) return std::move(valid).error();
  return repository_.list_by_order(order_id);
}

Result<Payment> PaymentService::refund(std::string_view id, const std::string& traceparent) {
  return repository_.refund(id, now_utc(), [&traceparent](const Payment& refunded) {
    return std::vector{payment_refunded_event(refunded, new_uuid(), traceparent)};
  });
}

Result<std::int64_t> PaymentService::recover_keys(std::chrono::milliseconds retention) {
  if (retention < kMinKeyRetention) {
    return Error::validation("payment.idempotency_retention", "idempotency keys must be kept at least 24h");
  }
  return repository_.recover_keys(now_utc() - retention);
}

}  // namespace mercato::payment
