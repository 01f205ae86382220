#include "app/payment_service.hpp"

#include <algorithm>

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

// What the saga's charge stores against its key: the status says which outcome, the body carries what a
// repeat needs (the refusal's reason; the payment id is kept by the key itself). Never sent over HTTP.
constexpr int kRecordedStatus = 201;
constexpr int kPaidMeanwhileStatus = 409;
constexpr int kRefusedStatus = 422;

StoredResponse order_charge_response(const Result<Payment>& outcome) {
  if (outcome) return {kRecordedStatus, outcome->id};
  return {kPaidMeanwhileStatus, outcome.error().message};
}

// The payment that stands for the order's charge: the captured one (at most one), else a refunded one
// (it was captured), else the newest attempt. `payments` are newest first. With `terms`, only payments
// that are that charge (is_charge_of) count: another amount or customer is someone else's payment.
std::optional<Payment> order_payment(std::vector<Payment> payments,
                                     const std::optional<ChargeTerms>& terms = {}) {
  if (terms) std::erase_if(payments, [&](const Payment& p) { return !is_charge_of(p, *terms); });
  for (auto status : {PaymentStatus::kCaptured, PaymentStatus::kRefunded}) {
    for (auto& p : payments) {
      if (p.status == status) return std::move(p);
    }
  }
  if (payments.empty()) return std::nullopt;
  return std::move(payments.front());
}

bool holds_capture(const std::vector<Payment>& payments) {
  return std::ranges::any_of(payments, [](const Payment& p) { return p.status == PaymentStatus::kCaptured; });
}

}  // namespace

std::string order_charge_key(std::string_view order_id) {
  return std::string("\x01") + "order-charge:" + std::string(order_id);
}

Result<Payment> PaymentService::charge(const ChargeRequest& request, const std::string& traceparent) {
  MERCATO_RETURN_IF_ERROR(validate(request));
  MERCATO_ASSIGN_OR_RETURN(auto decision, processor_.authorize(request));
  auto payment = new_payment(request, decision, new_time_ordered_uuid(), now_utc());
  auto processed = payment_processed_event(payment, traceparent);
  return repository_.record(payment, nullptr, std::span(&processed, 1));
}

Result<PaymentService::KeyedCharge> PaymentService::charge(const ChargeRequest& request, std::string_view key,
                                                           const RenderOutcome& render,
                                                           const std::string& traceparent) {
  MERCATO_RETURN_IF_ERROR(validate_idempotency_key(key));
  MERCATO_RETURN_IF_ERROR(validate(request));
  IdempotencyRecord fresh{.key = std::string(key),
                          .fingerprint = fingerprint(request),
                          .state = KeyState::kInProgress,
                          .created_at = now_utc()};
  MERCATO_ASSIGN_OR_RETURN(auto existing, repository_.claim_key(fresh));
  if (existing) {
    MERCATO_ASSIGN_OR_RETURN(auto replay, resume(*existing, fresh.fingerprint));
    return KeyedCharge{std::move(replay), true};
  }

  KeyClaim claim(repository_, key);
  auto decision = processor_.authorize(request);
  if (!decision) {
    // A token the processor refuses is its decision, stored and replayed like any other outcome; any
    // other failure (a real processor out of reach) releases the key, so the client can retry.
    if (decision.error().code != ErrorCode::kUnprocessable) return std::move(decision).error();
    Result<Payment> refused = decision.error();
    auto response = render(refused);
    MERCATO_RETURN_IF_ERROR(repository_.complete_key(key, response));
    claim.settle();
    return KeyedCharge{std::move(response), false};
  }
  KeyCompletion completion{key, render};
  // The payment, its event and the key's completion commit together: a replay finds the key completed
  // and returns before this point, so it can never publish the charge a second time.
  auto payment = new_payment(request, *decision, new_time_ordered_uuid(), now_utc());
  auto processed = payment_processed_event(payment, traceparent);
  auto recorded = repository_.record(payment, &completion, std::span(&processed, 1));
  if (!recorded && recorded.error().code != ErrorCode::kConflict) return std::move(recorded).error();
  claim.settle();
  // The same rendering the repository stored: the outcome and the request are the same.
  return KeyedCharge{render(recorded), false};
}

Result<Payment> PaymentService::get(std::string_view id) { return repository_.find(id); }

Result<std::vector<Payment>> PaymentService::list_for_order(std::string_view order_id) {
  MERCATO_RETURN_IF_ERROR(validate_order_id(order_id));
  return repository_.list_by_order(order_id);
}

Result<Payment> PaymentService::refund(std::string_view id, const std::string& traceparent) {
  return repository_.refund(id, now_utc(), [&traceparent](const Payment& refunded) {
    return std::vector{payment_refunded_event(refunded, refund_id_of(refunded.id), traceparent)};
  });
}

Result<PaymentService::OrderCharge> PaymentService::paid_meanwhile(const ChargeRequest& request) {
  MERCATO_ASSIGN_OR_RETURN(auto payments, repository_.list_by_order(request.order_id));
  if (auto own = order_payment(std::move(payments), terms_of(request))) return OrderCharge{std::move(*own)};
  // The capture that got there first is not this charge (another amount or customer): it is not the
  // order's, and the order cannot take a second one.
  return OrderCharge{std::nullopt, std::string(kPaymentConflict)};
}

Result<PaymentService::OrderCharge> PaymentService::charge_order(const ChargeRequest& request,
                                                                 const std::string& traceparent,
                                                                 std::string_view saga) {
  MERCATO_RETURN_IF_ERROR(validate_order_id(request.order_id));
  // The order's payments first: a repeat of a charge that was made is answered with its payment, whatever
  // token this copy carries. Only a payment of this order, customer and amount is that charge: a capture
  // of 1 cent made through the REST API before the saga's charge must not pay for the order.
  MERCATO_ASSIGN_OR_RETURN(auto payments, repository_.list_by_order(request.order_id));
  if (auto own = order_payment(payments, terms_of(request))) return OrderCharge{std::move(*own)};
  if (auto valid = validate(request); !valid) return OrderCharge{std::nullopt, std::string(kInvalidRequest)};
  // Someone else's capture of the order (declined attempts hold no money and are left alone): not
  // adopted, and not charged past (one capture per order). Nothing is stored against the key: the
  // answer follows from the payments, and a refund_order voids the key as for any refused charge.
  if (holds_capture(payments)) return OrderCharge{std::nullopt, std::string(kPaymentConflict)};

  auto key = order_charge_key(request.order_id);
  MERCATO_ASSIGN_OR_RETURN(auto claimed, repository_.claim_key({.key = key,
                                                                .fingerprint = fingerprint(request),
                                                                .state = KeyState::kInProgress,
                                                                .created_at = now_utc()}));
  if (claimed) {
    // The order's charge ran before (its payment was recorded after the lookup above, or it recorded
    // none) or is running now. Its outcome stands, whatever this request asks: one charge per order.
    const auto& record = *claimed;
    if (record.state == KeyState::kInProgress) {
      return Error::conflict("order_id: the charge of order " + request.order_id + " is in progress",
                             "order_id");
    }
    if (!record.payment_id.empty()) {
      MERCATO_ASSIGN_OR_RETURN(auto payment, repository_.find(record.payment_id));
      return OrderCharge{std::move(payment)};
    }
    if (record.response && record.response->status == kRefusedStatus) {
      return OrderCharge{std::nullopt, record.response->body};
    }
    return paid_meanwhile(request);
  }

  KeyClaim claim(repository_, key);
  auto decision = processor_.authorize(request);
  if (!decision) {
    // An unknown token is the processor's final word on this request: stored, so a repeat gets it
    // without asking again. Anything else (a processor out of reach) releases the key for a retry.
    if (decision.error().code != ErrorCode::kUnprocessable) return std::move(decision).error();
    MERCATO_RETURN_IF_ERROR(repository_.complete_key(key, {kRefusedStatus, std::string(kInvalidToken)}));
    claim.settle();
    return OrderCharge{std::nullopt, std::string(kInvalidToken)};
  }
  RenderOutcome render = order_charge_response;
  KeyCompletion completion{key, render};
  auto payment = new_payment(request, *decision, new_time_ordered_uuid(), now_utc());
  auto processed = payment_processed_event(payment, traceparent, saga);
  auto recorded = repository_.record(payment, &completion, std::span(&processed, 1));
  if (!recorded && recorded.error().code != ErrorCode::kConflict) return std::move(recorded).error();
  claim.settle();
  if (recorded) return OrderCharge{std::move(*recorded), {}, true};
  // Captured meanwhile through the REST API, which knows nothing of this key: the order's charge if it is
  // this charge, else a conflict.
  return paid_meanwhile(request);
}

Result<PaymentService::OrderRefund> PaymentService::refund_charge(std::string_view order_id,
                                                                  const std::string& traceparent,
                                                                  const std::optional<ChargeTerms>& charge,
                                                                  bool refunding_again) {
  MERCATO_RETURN_IF_ERROR(validate_order_id(order_id));
  MERCATO_ASSIGN_OR_RETURN(auto payments, repository_.list_by_order(order_id));
  // Someone else's payment of the order (another amount or customer) was never the saga's charge.
  if (charge) std::erase_if(payments, [&](const Payment& p) { return !is_charge_of(p, *charge); });
  for (const auto& p : payments) {
    if (p.status != PaymentStatus::kCaptured) continue;
    // events_of runs only when the payment moves to refunded, inside the transaction that returns it; a
    // refund that got there first (a REST call) leaves `moved` false and the payment as it refunded it.
    bool moved = false;
    auto refunded = repository_.refund(p.id, now_utc(), [&](const Payment& r) {
      moved = true;
      return std::vector{payment_refunded_event(r, refund_id_of(r.id), traceparent)};
    });
    if (!refunded) return std::move(refunded).error();
    return OrderRefund{std::move(*refunded), moved};
  }
  for (auto& p : payments) {
    if (p.status == PaymentStatus::kRefunded) return OrderRefund{std::move(p)};
  }
  // Nothing captured: void the order's charge. Claiming its key is atomic with the charge's own claim,
  // so exactly one of them wins; the loser sees the winner's outcome.
  auto key = order_charge_key(order_id);
  MERCATO_ASSIGN_OR_RETURN(
      auto claimed,
      repository_.claim_key(
          {.key = key, .fingerprint = "void", .state = KeyState::kInProgress, .created_at = now_utc()}));
  if (!claimed) {
    MERCATO_RETURN_IF_ERROR(repository_.complete_key(key, {kRefusedStatus, std::string(kOrderCancelled)}));
    return OrderRefund{};
  }
  const auto& record = *claimed;
  if (record.state == KeyState::kInProgress) {
    return Error::conflict("order_id: the charge of order " + std::string(order_id) + " is in progress",
                           "order_id");
  }
  // The charge finished after the payments were listed: refund what it made, if anything.
  if (!record.payment_id.empty() && !refunding_again)
    return refund_charge(order_id, traceparent, charge, true);
  return OrderRefund{};
}

Result<std::int64_t> PaymentService::recover_keys(std::chrono::milliseconds retention) {
  if (retention < kMinKeyRetention) {
    return Error::validation("payment.idempotency_retention", "idempotency keys must be kept at least 24h");
  }
  return repository_.recover_keys(now_utc() - retention);
}

}  // namespace mercato::payment
