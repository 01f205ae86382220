#include "domain/payment.hpp"

#include <gtest/gtest.h>

#include <array>

namespace mercato::payment {
namespace {

ChargeRequest valid_request() { return {"order-1", "customer-1", 1999, "tok_visa"}; }

SystemTime at(std::int64_t ms) { return SystemTime{std::chrono::milliseconds{ms}}; }

TEST(CardProcessor, ApprovesVisaAndMastercard) {
  for (const char* token : {"tok_visa", "tok_mastercard"}) {
    auto d = decide(token);
    ASSERT_TRUE(d) << token;
    EXPECT_TRUE(d->approved) << token;
    EXPECT_EQ(d->decline_reason, "") << token;
  }
}

TEST(CardProcessor, DeclinesWithTheReason) {
  auto declined = decide("tok_chargeDeclined");
  ASSERT_TRUE(declined);
  EXPECT_FALSE(declined->approved);
  EXPECT_EQ(declined->decline_reason, "card_declined");
  auto funds = decide("tok_insufficientFunds");
  ASSERT_TRUE(funds);
  EXPECT_FALSE(funds->approved);
  EXPECT_EQ(funds->decline_reason, "insufficient_funds");
}

TEST(CardProcessor, UnknownTokenIsUnprocessableNamingTheField) {
  for (const char* token : {"tok_amex", "TOK_VISA", "tok_visa ", "", "tok_chargedeclined"}) {
    auto d = decide(token);
    ASSERT_FALSE(d) << token;
    EXPECT_EQ(d.error().code, ErrorCode::kUnprocessable) << token;
    EXPECT_EQ(d.error().field, "payment_token") << token;
  }
}

TEST(ChargeRequestRules, AcceptsTheLimits) {
  EXPECT_TRUE(validate(valid_request()));
  auto r = valid_request();
  r.order_id = std::string(64, 'o');
  r.customer_id = std::string(64, 'c');
  r.payment_token = std::string(64, 't');
  r.amount_cents = kMaxAmountCents;
  EXPECT_TRUE(validate(r));
  r.amount_cents = 1;
  EXPECT_TRUE(validate(r));
}

TEST(ChargeRequestRules, RefusesEachFieldOutOfRangeNamingIt) {
  struct Case {
    void (*mutate)(ChargeRequest&);
    const char* field;
  };
  const auto cases = std::to_array<Case>({
      {[](ChargeRequest& r) { r.order_id.clear(); }, "order_id"},
      {[](ChargeRequest& r) { r.order_id = std::string(65, 'o'); }, "order_id"},
      {[](ChargeRequest& r) { r.customer_id.clear(); }, "customer_id"},
      {[](ChargeRequest& r) { r.customer_id = std::string(65, 'c'); }, "customer_id"},
      {[](ChargeRequest& r) { r.amount_cents = 0; }, "amount_cents"},
      {[](ChargeRequest& r) { r.amount_cents = -5; }, "amount_cents"},
      {[](ChargeRequest& r) { r.amount_cents = kMaxAmountCents + 1; }, "amount_cents"},
      {[](ChargeRequest& r) { r.payment_token.clear(); }, "payment_token"},
      {[](ChargeRequest& r) { r.payment_token = std::string(65, 't'); }, "payment_token"},
  });
  for (const auto& c : cases) {
    auto r = valid_request();
    c.mutate(r);
    auto v = validate(r);
    ASSERT_FALSE(v) << c.field;
    EXPECT_EQ(v.error().code, ErrorCode::kValidationFailed) << c.field;
    EXPECT_EQ(v.error().field, c.field);
  }
  EXPECT_FALSE(validate_order_id(""));
  EXPECT_FALSE(validate_order_id(std::string(65, 'x')));
  EXPECT_TRUE(validate_order_id("x"));
}

TEST(NewPayment, ApprovedIsCapturedWithoutReason) {
  auto p = new_payment(valid_request(), {true, {}}, "p1", at(1000));
  EXPECT_EQ(p.id, "p1");
  EXPECT_EQ(p.order_id, "order-1");
  EXPECT_EQ(p.customer_id, "customer-1");
  EXPECT_EQ(p.amount_cents, 1999);
  EXPECT_EQ(p.status, PaymentStatus::kCaptured);
  EXPECT_FALSE(p.decline_reason);
  EXPECT_EQ(p.created_at, at(1000));
  EXPECT_EQ(p.updated_at, at(1000));
}

TEST(NewPayment, DeclinedKeepsTheReason) {
  auto p = new_payment(valid_request(), {false, "insufficient_funds"}, "p1", at(1000));
  EXPECT_EQ(p.status, PaymentStatus::kDeclined);
  EXPECT_EQ(p.decline_reason, "insufficient_funds");
}

TEST(PaymentTransitions, CapturedBecomesRefunded) {
  auto p = new_payment(valid_request(), {true, {}}, "p1", at(1000));
  auto changed = refund(p, at(2000));
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  EXPECT_EQ(p.status, PaymentStatus::kRefunded);
  EXPECT_EQ(p.updated_at, at(2000));
  EXPECT_EQ(p.created_at, at(1000));
}

TEST(PaymentTransitions, RefundingARefundedPaymentChangesNothing) {
  auto p = new_payment(valid_request(), {true, {}}, "p1", at(1000));
  ASSERT_TRUE(refund(p, at(2000)));
  auto before = p;
  auto again = refund(p, at(3000));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(p, before);
}

TEST(PaymentTransitions, DeclinedCannotBeRefunded) {
  auto p = new_payment(valid_request(), {false, "card_declined"}, "p1", at(1000));
  auto before = p;
  auto r = refund(p, at(2000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(p, before);
}

TEST(PaymentStatusNames, RoundTrip) {
  for (auto s : {PaymentStatus::kCaptured, PaymentStatus::kDeclined, PaymentStatus::kRefunded}) {
    EXPECT_EQ(parse_status(to_string(s)), s);
  }
  EXPECT_EQ(to_string(PaymentStatus::kCaptured), "captured");
  EXPECT_EQ(to_string(PaymentStatus::kDeclined), "declined");
  EXPECT_EQ(to_string(PaymentStatus::kRefunded), "refunded");
  EXPECT_FALSE(parse_status("Captured"));
  EXPECT_FALSE(parse_status(""));
}

TEST(Fingerprint, EqualRequestsGiveEqualFingerprints) {
  EXPECT_EQ(fingerprint(valid_request()), fingerprint(valid_request()));
  auto f = fingerprint(valid_request());
  EXPECT_EQ(f.size(), 64U);
  EXPECT_EQ(f.find_first_not_of("0123456789abcdef"), std::string::npos) << f;
}

TEST(Fingerprint, KnownValue) {
  // SHA-256 of
  // {"amount_cents":1999,"customer_id":"customer-1","order_id":"order-1","payment_token":"tok_visa"} (printf
  // '%s' '...' | sha256sum): pins the canonical form, which stored keys depend on.
  EXPECT_EQ(fingerprint(valid_request()), "b4d87a2345d25ad3e34cb077a24499a5ed18d6629de862f135fed47eff746cc6");
}

TEST(Fingerprint, EveryFieldCounts) {
  auto base = fingerprint(valid_request());
  auto r = valid_request();
  r.order_id = "order-2";
  EXPECT_NE(fingerprint(r), base);
  r = valid_request();
  r.customer_id = "customer-2";
  EXPECT_NE(fingerprint(r), base);
  r = valid_request();
  r.amount_cents = 2000;
  EXPECT_NE(fingerprint(r), base);
  r = valid_request();
  r.payment_token = "tok_mastercard";
  EXPECT_NE(fingerprint(r), base);
}

TEST(Fingerprint, FieldBoundariesAreUnambiguous) {
  ChargeRequest a{"ab", "c", 1, "tok_visa"};
  ChargeRequest b{"a", "bc", 1, "tok_visa"};
  EXPECT_NE(fingerprint(a), fingerprint(b));
  ChargeRequest quote_a{R"(a","customer_id":"b)", "c", 1, "t"};
  ChargeRequest quote_b{"a", R"(b","customer_id":"c)", 1, "t"};
  EXPECT_NE(fingerprint(quote_a), fingerprint(quote_b));
}

TEST(RefundId, IsAVersion8UuidDerivedFromThePaymentOnly) {
  auto id = refund_id_of("pay-1");
  EXPECT_EQ(id, refund_id_of("pay-1")) << "a repeated refund names the same refund";
  EXPECT_NE(id, refund_id_of("pay-2"));
  EXPECT_NE(id, "pay-1");
  ASSERT_EQ(id.size(), 36U) << id;
  for (std::size_t i : {8U, 13U, 18U, 23U}) EXPECT_EQ(id[i], '-') << id;
  EXPECT_EQ(id[14], '8') << "version 8: " << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "RFC variant: " << id;
  for (char c : id) EXPECT_NE(std::string("0123456789abcdef-").find(c), std::string::npos) << id;
}

TEST(ChargeTerms, APaymentIsTheChargeOnlyOfItsOwnOrderCustomerAndAmount) {
  ChargeRequest asked{"o1", "c1", 2500, "tok_visa"};
  auto payment = new_payment(asked, {true, ""}, "p1", now_utc());
  EXPECT_TRUE(is_charge_of(payment, terms_of(asked)));
  asked.payment_token = "tok_mastercard";  // not kept: a repeat with another token is the same charge
  EXPECT_TRUE(is_charge_of(payment, terms_of(asked)));
  EXPECT_FALSE(is_charge_of(payment, {"o1", "c1", 1}));
  EXPECT_FALSE(is_charge_of(payment, {"o1", "c2", 2500}));
  EXPECT_FALSE(is_charge_of(payment, {"o2", "c1", 2500}));
}

}  // namespace
}  // namespace mercato::payment
