#include "domain/payment.hpp"

#include <openssl/evp.h>

#include <array>
#include <boost/json/object.hpp>
#include <stdexcept>

#include "mercato/core/enum_names.hpp"
#include "mercato/json/json.hpp"
namespace mercato::payment {
namespace {

Result<void> check_text(std::string_view field, std::string_view value, std::size_t max) {
  if (value.empty()) return Error::validation(std::string(field), std::string(field) + ": must not be empty");
  if (value.size() > max) {
    return Error::validation(std::string(field),
                             std::string(field) + ": must be at most " + std::to_string(max) + " bytes");
  }
  return {};
}

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0x0f]);
  }
  return out;
}

constexpr auto kPaymentStatusNames = enum_names<PaymentStatus>({{PaymentStatus::kCaptured, "captured"},
                                                                {PaymentStatus::kDeclined, "declined"},
                                                                {PaymentStatus::kRefunded, "refunded"}});

}  // namespace

std::string_view to_string(PaymentStatus status) noexcept {
  return kPaymentStatusNames.name(status, "declined");
}

std::optional<PaymentStatus> parse_status(std::string_view text) noexcept {
  return kPaymentStatusNames.parse(text);
}

Result<void> validate_order_id(std::string_view order_id) {
  return check_text("order_id", order_id, kMaxIdBytes);
}

Result<void> validate(const ChargeRequest& request) {
  if (auto r = validate_order_id(request.order_id); !r) return r;
  if (auto r = check_text("customer_id", request.customer_id, kMaxIdBytes); !r) return r;
  if (request.amount_cents < kMinAmountCents || request.amount_cents > kMaxAmountCents) {
    return Error::validation("amount_cents", "amount_cents: must be between " +
                                                 std::to_string(kMinAmountCents) + " and " +
                                                 std::to_string(kMaxAmountCents));
  }
  return check_text("payment_token", request.payment_token, kMaxTokenBytes);
}

Result<CardDecision> decide(std::string_view payment_token) {
  if (payment_token == "tok_visa" || payment_token == "tok_mastercard") return CardDecision{true, {}};
  if (payment_token == "tok_chargeDeclined") return CardDecision{false, "card_declined"};
  if (payment_token == "tok_insufficientFunds") return CardDecision{false, "insufficient_funds"};
  return Error::unprocessable("payment_token: the card processor does not know this token", "payment_token");
}

Payment new_payment(const ChargeRequest& request, const CardDecision& decision, std::string id,
                    SystemTime now) {
  Payment p;
  p.id = std::move(id);
  p.order_id = request.order_id;
  p.customer_id = request.customer_id;
  p.amount_cents = request.amount_cents;
  p.status = decision.approved ? PaymentStatus::kCaptured : PaymentStatus::kDeclined;
  if (!decision.approved) p.decline_reason = decision.decline_reason;
  p.created_at = now;
  p.updated_at = now;
  return p;
}

ChargeTerms terms_of(const ChargeRequest& request) {
  return {request.order_id, request.customer_id, request.amount_cents};
}

bool is_charge_of(const Payment& payment, const ChargeTerms& terms) noexcept {
  return payment.order_id == terms.order_id && payment.customer_id == terms.customer_id &&
         payment.amount_cents == terms.amount_cents;
}

Result<bool> refund(Payment& payment, SystemTime now) {
  switch (payment.status) {
    case PaymentStatus::kCaptured:
      payment.status = PaymentStatus::kRefunded;
      payment.updated_at = now;
      return true;
    case PaymentStatus::kRefunded:
      return false;
    case PaymentStatus::kDeclined:
      break;
  }
  return Error::unprocessable("payment " + payment.id + " was declined; there is nothing to refund");
}

std::string refund_id_of(std::string_view payment_id) {
  std::string text = "refund:" + std::string(payment_id);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 is unavailable");
  }
  // Version 8 ("custom") and the RFC variant, so the id is a well-formed UUID like every other id here.
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x80);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  auto hex = to_hex(digest.data(), 16);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

std::string fingerprint(const ChargeRequest& request) {
  // Members in name order and Boost.JSON's compact serialization, which escapes strings one way only:
  // the text is a function of the four values and nothing else.
  boost::json::object canonical;
  canonical["amount_cents"] = request.amount_cents;
  canonical["customer_id"] = request.customer_id;
  canonical["order_id"] = request.order_id;
  canonical["payment_token"] = request.payment_token;
  std::string text = json::serialize(canonical);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    // Only an unusable OpenSSL installation gets here; the server turns this into a 500.
    throw std::runtime_error("SHA-256 is unavailable");
  }
  return to_hex(digest.data(), size);
}

}  // namespace mercato::payment
