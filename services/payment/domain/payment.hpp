// The payment aggregate, the (simulated) card processor and the charge rules. Pure logic: no I/O, no
// HTTP, no SQL.
//
//   auto decision = decide("tok_visa");                  // approved; unknown tokens are 422
//   Payment p = new_payment(request, *decision, new_uuid(), now_utc());
//   auto changed = refund(p, now_utc());                 // captured → refunded; declined → 422
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::payment {

// Error::not_found for a payment: the same answer whether it is missing or hidden from the caller.
inline Error payment_not_found(std::string_view id) { return Error::not_found("payment", id); }

inline constexpr std::size_t kMaxIdBytes = 64;     // order_id, customer_id
inline constexpr std::size_t kMaxTokenBytes = 64;  // payment_token
inline constexpr std::int64_t kMinAmountCents = 1;
inline constexpr std::int64_t kMaxAmountCents = 10'000'000'000;

// captured: approved and charged. declined: refused by the processor (final). refunded: was captured,
// then refunded in full (final). There is no other way between them than refund().
enum class PaymentStatus { kCaptured, kDeclined, kRefunded };

// The wire and storage name: "captured", "declined", "refunded".
std::string_view to_string(PaymentStatus status) noexcept;
std::optional<PaymentStatus> parse_status(std::string_view text) noexcept;

// What a client asks to charge.
struct ChargeRequest {
  std::string order_id;
  std::string customer_id;
  std::int64_t amount_cents = 0;
  std::string payment_token;

  friend bool operator==(const ChargeRequest&, const ChargeRequest&) = default;
};

// Field by field: ids and token 1..64 bytes, amount 1..1e10. A kValidationFailed error names the field.
Result<void> validate(const ChargeRequest& request);
// The order id rule alone (for lookups by order): 1..64 bytes.
Result<void> validate_order_id(std::string_view order_id);

// The processor's answer to a token it knows.
struct CardDecision {
  bool approved = false;
  std::string decline_reason;  // "card_declined" / "insufficient_funds" when declined, else empty

  friend bool operator==(const CardDecision&, const CardDecision&) = default;
};

// The simulated card processor: tok_visa and tok_mastercard are approved, tok_chargeDeclined
// (card_declined) and tok_insufficientFunds (insufficient_funds) are declined, and any other token is
// kUnprocessable naming "payment_token". Tokens compare exactly (case-sensitive), as real ones do.
Result<CardDecision> decide(std::string_view payment_token);

struct Payment {
  std::string id;
  std::string order_id;
  std::string customer_id;
  std::int64_t amount_cents = 0;
  PaymentStatus status = PaymentStatus::kDeclined;
  std::optional<std::string> decline_reason;  // only when declined
  SystemTime created_at{};
  SystemTime updated_at{};

  friend bool operator==(const Payment&, const Payment&) = default;
};

// The payment recording one charge attempt: captured when approved, declined with its reason otherwise.
Payment new_payment(const ChargeRequest& request, const CardDecision& decision, std::string id,
                    SystemTime now);

// What an order's charge is: the order, who pays and how much. The token is not kept with a payment,
// and the shop has one currency, so these are all a payment can be compared on.
struct ChargeTerms {
  std::string order_id;
  std::string customer_id;
  std::int64_t amount_cents = 0;

  friend bool operator==(const ChargeTerms&, const ChargeTerms&) = default;
};
ChargeTerms terms_of(const ChargeRequest& request);

// Whether `payment` is the charge `terms` describe: the same order, customer and amount. The saga takes
// an existing payment for its order's charge (or refunds it as that charge) only when it is; a payment of
// another amount or customer for the same order is someone else's object, never the order's charge.
bool is_charge_of(const Payment& payment, const ChargeTerms& terms) noexcept;

// Refunds `payment` in full: captured → refunded (updated_at = now), returns true. Refunding a refunded
// payment changes nothing and returns false (refunds are idempotent). A declined payment was never
// charged: kUnprocessable, and the payment is left as it was.
Result<bool> refund(Payment& payment, SystemTime now);

// The id of a payment's refund: a UUID derived from the payment id (the SHA-256 of "refund:" + id,
// shaped as an RFC 9562 version 8 UUID). Refunds are full, so a payment has at most one refund, and
// deriving its id lets a repeated refund request answer with the same refund id the first one published.
std::string refund_id_of(std::string_view payment_id);

// A stable fingerprint of a charge request, for Idempotency-Key reuse checks: the SHA-256 (lowercase
// hex) of the request's canonical JSON (members sorted by name, no whitespace). Equal requests give equal
// fingerprints whatever the JSON whitespace or member order they arrived in; the token itself is not kept.
std::string fingerprint(const ChargeRequest& request);

}  // namespace mercato::payment
