// The use cases over the SQL repository on a SQLite file of the test's own: the Idempotency-Key protocol and
// the charge rules.
#include "app/payment_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <latch>
#include <mutex>
#include <thread>

#include "adapters/simulated_card_processor.hpp"
#include "adapters/sql_payment_repository.hpp"
#include "mercato/testing/sqlite_database.hpp"

namespace mercato::payment {
namespace {

class PaymentServiceTest : public ::testing::Test {
 protected:
  // A stand-in for the HTTP layer's rendering: status and something that identifies the outcome.
  RenderOutcome render_ = [this](const Result<Payment>& outcome) {
    ++renders_;
    if (outcome) return StoredResponse{201, "payment " + outcome->id};
    return StoredResponse{outcome.error().code == ErrorCode::kConflict ? 409 : 422, outcome.error().message};
  };
  static ChargeRequest request(std::string order = "o1", std::string token = "tok_visa") {
    return {std::move(order), "c1", 500, std::move(token)};
  }
  std::size_t payments_of(const std::string& order) { return service_.list_for_order(order)->size(); }
  static boost::json::object data_of(const events::CloudEvent& e) {
    return boost::json::parse(e.data).as_object();
  }

  std::atomic<int> renders_{0};
  mercato::testing::SqliteDatabase db_{"payment"};
  SqlPaymentRepository repo_{db_.get()};
  SimulatedCardProcessor processor_;
  PaymentService service_{repo_, processor_};
};

TEST_F(PaymentServiceTest, ChargeWithoutKeyRecordsEachAttempt) {
  auto declined = service_.charge(request("o1", "tok_chargeDeclined"));
  ASSERT_TRUE(declined);
  EXPECT_EQ(declined->status, PaymentStatus::kDeclined);
  auto captured = service_.charge(request("o1", "tok_visa"));
  ASSERT_TRUE(captured);
  EXPECT_EQ(captured->status, PaymentStatus::kCaptured);
  auto again = service_.charge(request("o1", "tok_mastercard"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(payments_of("o1"), 2U);
  auto unknown = service_.charge(request("o2", "tok_nope"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(payments_of("o2"), 0U);
}

TEST_F(PaymentServiceTest, SameKeySameRequestReplaysWithoutChargingAgain) {
  auto first = service_.charge(request(), "key-1", render_);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->response.status, 201);
  auto second = service_.charge(request(), "key-1", render_);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->replayed);
  EXPECT_EQ(second->response, first->response);
  EXPECT_EQ(payments_of("o1"), 1U);
}

TEST_F(PaymentServiceTest, SameKeyDifferentRequestIsUnprocessable) {
  ASSERT_TRUE(service_.charge(request(), "key-1", render_));
  auto other = request();
  other.amount_cents = 501;
  auto r = service_.charge(other, "key-1", render_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().field, "Idempotency-Key");
  EXPECT_EQ(payments_of("o1"), 1U);
}

TEST_F(PaymentServiceTest, BadRequestIsNotStoredAgainstTheKey) {
  auto bad = request();
  bad.amount_cents = 0;
  auto r = service_.charge(bad, "key-1", render_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(renders_, 0);
  // The key is still free: the corrected request is processed, not refused as "another body".
  auto fixed = service_.charge(request(), "key-1", render_);
  ASSERT_TRUE(fixed);
  EXPECT_FALSE(fixed->replayed);
  EXPECT_EQ(fixed->response.status, 201);
}

TEST_F(PaymentServiceTest, BadKeyIsRefusedBeforeAnything) {
  auto r = service_.charge(request(), std::string(256, 'k'), render_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "Idempotency-Key");
  EXPECT_EQ(payments_of("o1"), 0U);
}

TEST_F(PaymentServiceTest, UnknownTokenDecisionIsStoredAndReplayed) {
  auto first = service_.charge(request("o1", "tok_unknown"), "key-1", render_);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->response.status, 422);
  auto again = service_.charge(request("o1", "tok_unknown"), "key-1", render_);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->response, first->response);
  EXPECT_EQ(payments_of("o1"), 0U);
}

TEST_F(PaymentServiceTest, OrderAlreadyPaidConflictIsStoredAndReplayed) {
  ASSERT_TRUE(service_.charge(request()));
  auto first = service_.charge(request(), "key-1", render_);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->response.status, 409);
  auto again = service_.charge(request(), "key-1", render_);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->response, first->response);
}

TEST_F(PaymentServiceTest, ConcurrentRequestsWithOneKeyChargeOnce) {
  constexpr int kThreads = 16;
  std::mutex mutex;
  std::vector<Result<PaymentService::KeyedCharge>> results;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = service_.charge(request(), "same-key", render_);
      std::lock_guard lock(mutex);
      results.push_back(std::move(r));
    });
  }
  for (auto& t : threads) t.join();
  int fresh = 0;
  StoredResponse original;
  for (const auto& r : results) {
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kConflict);
      EXPECT_EQ(r.error().field, "Idempotency-Key");
    } else if (!r->replayed) {
      ++fresh;
      original = r->response;
    }
  }
  EXPECT_EQ(fresh, 1);
  for (const auto& r : results) {
    if (r && r->replayed) {
      EXPECT_EQ(r->response, original);
    }
  }
  EXPECT_EQ(payments_of("o1"), 1U);
}

// The repository, except that recording can be made to fail as a full disk would.
class FailingRecordRepository final : public PaymentRepository {
 public:
  Result<Payment> record(const Payment& p, const KeyCompletion* c,
                         std::span<const events::CloudEvent> events) override {
    if (fail) return Error::internal("disk full");
    return inner.record(p, c, events);
  }
  Result<Payment> find(std::string_view id) override { return inner.find(id); }
  Result<std::vector<Payment>> list_by_order(std::string_view o) override { return inner.list_by_order(o); }
  Result<Payment> refund(std::string_view id, SystemTime now, const EventsOf& events_of) override {
    return inner.refund(id, now, events_of);
  }
  Result<std::optional<IdempotencyRecord>> claim_key(const IdempotencyRecord& r) override {
    return inner.claim_key(r);
  }
  Result<void> complete_key(std::string_view k, const StoredResponse& r) override {
    return inner.complete_key(k, r);
  }
  Result<void> release_key(std::string_view k) override { return inner.release_key(k); }
  Result<std::int64_t> recover_keys(SystemTime t) override { return inner.recover_keys(t); }
  Result<void> ping() override { return {}; }

  bool fail = true;
  mercato::testing::SqliteDatabase db{"payment"};
  SqlPaymentRepository inner{db.get()};
};

TEST_F(PaymentServiceTest, StorageFailureReleasesTheKeySoARetryCanCharge) {
  FailingRecordRepository failing;
  PaymentService on_failing{failing, processor_};
  auto first = on_failing.charge(request(), "key-1", render_);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::kInternal);
  failing.fail = false;
  auto retry = on_failing.charge(request(), "key-1", render_);
  ASSERT_TRUE(retry) << retry.error().message;  // not 409 "in progress" forever
  EXPECT_FALSE(retry->replayed);
  EXPECT_EQ(retry->response.status, 201);
  EXPECT_EQ(failing.db.outbox().size(), 1U) << "only the retry that recorded the payment publishes";
}

// A processor that holds each authorization until the test lets it go, so "in progress" is a state the
// test can observe instead of a race it hopes to win.
class GatedProcessor final : public CardProcessor {
 public:
  Result<CardDecision> authorize(const ChargeRequest& request) override {
    entered.count_down();
    release.wait();
    return decide(request.payment_token);
  }
  std::latch entered{1};
  std::latch release{1};
};

TEST_F(PaymentServiceTest, KeyIsInProgressWhileTheProcessorWorks) {
  GatedProcessor gated;
  PaymentService gated_service{repo_, gated};
  Result<PaymentService::KeyedCharge> first = Error::internal("not run");
  std::thread worker([&] { first = gated_service.charge(request(), "key-1", render_); });
  gated.entered.wait();  // the key is claimed and the processor is working

  auto concurrent = gated_service.charge(request(), "key-1", render_);
  ASSERT_FALSE(concurrent);
  EXPECT_EQ(concurrent.error().code, ErrorCode::kConflict);
  EXPECT_EQ(concurrent.error().field, "Idempotency-Key");
  auto other_body = request("o2");
  auto mismatch = gated_service.charge(other_body, "key-1", render_);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(payments_of("o1"), 0U);  // nothing recorded yet

  gated.release.count_down();
  worker.join();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->replayed);
  auto after = gated_service.charge(request(), "key-1", render_);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->replayed);
  EXPECT_EQ(after->response, first->response);
  EXPECT_EQ(payments_of("o1"), 1U);
}

// --- the order saga's charge (the handlers are tested in app/saga_handlers_test.cpp) -----------------

TEST_F(PaymentServiceTest, AnOrderChargeInProgressIsAConflictAndTheOrderIsChargedOnce) {
  GatedProcessor gated;
  PaymentService gated_service{repo_, gated};
  Result<PaymentService::OrderCharge> first = Error::internal("not run");
  std::thread worker([&] { first = gated_service.charge_order(request()); });
  gated.entered.wait();  // the order's key is claimed and the processor is working

  auto concurrent = gated_service.charge_order(request());
  ASSERT_FALSE(concurrent);
  EXPECT_EQ(concurrent.error().code, ErrorCode::kConflict);
  EXPECT_EQ(concurrent.error().field, "order_id");

  gated.release.count_down();
  worker.join();
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first->payment);
  EXPECT_TRUE(first->recorded);
  auto after = gated_service.charge_order(request());  // answered from the payment
  ASSERT_TRUE(after);
  ASSERT_TRUE(after->payment);
  EXPECT_FALSE(after->recorded);
  EXPECT_EQ(after->payment->id, first->payment->id);
  EXPECT_EQ(payments_of("o1"), 1U);
  EXPECT_EQ(db_.outbox().size(), 1U);
}

TEST_F(PaymentServiceTest, AnOrderPaidThroughTheApiWhileItsChargeRunsKeepsThatPayment) {
  GatedProcessor gated;
  PaymentService gated_service{repo_, gated};
  Result<PaymentService::OrderCharge> saga = Error::internal("not run");
  std::thread worker([&] { saga = gated_service.charge_order(request()); });
  gated.entered.wait();
  auto rest = service_.charge(request("o1", "tok_mastercard"));  // no key: the REST path knows none
  ASSERT_TRUE(rest);
  gated.release.count_down();
  worker.join();
  ASSERT_TRUE(saga) << saga.error().message;
  ASSERT_TRUE(saga->payment);
  EXPECT_FALSE(saga->recorded) << "the order's capture was there first";
  EXPECT_EQ(saga->payment->id, rest->id);
  EXPECT_EQ(payments_of("o1"), 1U);
}

// Issue 15, item 1: a capture of 1 cent lands through the API while the saga's charge of the order's
// total runs. It is not the order's charge: the saga's charge is refused as a conflict (the order can
// hold one capture), and the foreign payment stays what it is.
TEST_F(PaymentServiceTest, AnOrderPaidThroughTheApiWithAnotherAmountWhileItsChargeRunsIsAConflict) {
  GatedProcessor gated;
  PaymentService gated_service{repo_, gated};
  Result<PaymentService::OrderCharge> saga = Error::internal("not run");
  std::thread worker([&] { saga = gated_service.charge_order(request()); });
  gated.entered.wait();
  auto rest = service_.charge({"o1", "c1", 1, "tok_visa"});
  ASSERT_TRUE(rest);
  gated.release.count_down();
  worker.join();
  ASSERT_TRUE(saga) << saga.error().message;
  EXPECT_FALSE(saga->payment) << "a capture of 1 cent stood for the order's charge of 500";
  EXPECT_EQ(saga->refusal, kPaymentConflict);
  EXPECT_FALSE(saga->recorded);
  auto repeat = service_.charge_order(request());  // the key keeps "paid meanwhile": compared again
  ASSERT_TRUE(repeat) << repeat.error().message;
  EXPECT_FALSE(repeat->payment);
  EXPECT_EQ(repeat->refusal, kPaymentConflict);
  auto payments = service_.list_for_order("o1");
  ASSERT_EQ(payments->size(), 1U);
  EXPECT_EQ(payments->front().id, rest->id);
  EXPECT_EQ(payments->front().amount_cents, 1);
  EXPECT_EQ(payments->front().status, PaymentStatus::kCaptured);
}

TEST_F(PaymentServiceTest, AnOrderCaptureOfAnotherCustomerOrAmountIsNeverTheOrdersCharge) {
  for (const ChargeRequest& foreign :
       {ChargeRequest{"o-amount", "c1", 1, "tok_visa"}, ChargeRequest{"o-customer", "c2", 500, "tok_visa"}}) {
    ASSERT_TRUE(service_.charge(foreign));
    auto saga = service_.charge_order(request(foreign.order_id));
    ASSERT_TRUE(saga) << saga.error().message;
    EXPECT_FALSE(saga->payment) << foreign.order_id;
    EXPECT_EQ(saga->refusal, kPaymentConflict) << foreign.order_id;
    EXPECT_EQ(payments_of(foreign.order_id), 1U);
  }
  // The same charge made through the API is the order's charge (a client paying what the saga asks).
  auto same = service_.charge(request("o-same", "tok_mastercard"));
  ASSERT_TRUE(same);
  auto saga = service_.charge_order(request("o-same"));
  ASSERT_TRUE(saga);
  ASSERT_TRUE(saga->payment);
  EXPECT_EQ(saga->payment->id, same->id);
  // A declined attempt of another amount holds no money: it is left alone and the order is charged.
  ASSERT_TRUE(service_.charge({"o-tried", "c1", 1, "tok_chargeDeclined"}));
  saga = service_.charge_order(request("o-tried"));
  ASSERT_TRUE(saga);
  ASSERT_TRUE(saga->payment);
  EXPECT_TRUE(saga->recorded);
  EXPECT_EQ(saga->payment->amount_cents, 500);
  EXPECT_EQ(saga->payment->status, PaymentStatus::kCaptured);
}

TEST_F(PaymentServiceTest, AStorageFailureOfAnOrderChargeReleasesItsKeySoARetryCharges) {
  FailingRecordRepository failing;
  PaymentService on_failing{failing, processor_};
  auto first = on_failing.charge_order(request());
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::kInternal);
  failing.fail = false;
  auto retry = on_failing.charge_order(request());
  ASSERT_TRUE(retry) << retry.error().message;  // not "in progress" forever
  ASSERT_TRUE(retry->payment);
  EXPECT_TRUE(retry->recorded);
  EXPECT_EQ(failing.db.outbox().size(), 1U);
}

// --- events -----------------------------------------------------------------------------------------

TEST_F(PaymentServiceTest, ACaptureAppendsPaymentProcessedKeyedByTheOrder) {
  auto captured =
      service_.charge(request("o1", "tok_visa"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ASSERT_TRUE(captured);
  auto outbox = db_.outbox();
  ASSERT_EQ(outbox.size(), 1U);
  const auto& e = outbox[0];
  EXPECT_EQ(e.type, "payment.processed");
  EXPECT_EQ(e.subject, "o1") << "the order id, so the saga sees one order's events in order";
  EXPECT_EQ(e.source, "/mercato/payment");
  EXPECT_EQ(e.dataschema, "urn:mercato:event:payment.processed:v1");
  EXPECT_EQ(e.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  auto data = data_of(e);
  EXPECT_EQ(data.at("payment_id").as_string(), captured->id);
  EXPECT_EQ(data.at("order_id").as_string(), "o1");
  EXPECT_EQ(data.at("customer_id").as_string(), "c1");
  EXPECT_EQ(data.at("amount_cents").as_int64(), 500);
  EXPECT_EQ(data.at("status").as_string(), "captured");
  EXPECT_FALSE(data.contains("decline_reason"));
  EXPECT_EQ(data.at("created_at").as_string(), format_rfc3339(captured->created_at));
}

TEST_F(PaymentServiceTest, ADeclineAppendsPaymentProcessedWithItsReason) {
  auto declined = service_.charge(request("o1", "tok_insufficientFunds"));
  ASSERT_TRUE(declined);
  auto outbox = db_.outbox();
  ASSERT_EQ(outbox.size(), 1U);
  auto data = data_of(outbox[0]);
  EXPECT_EQ(data.at("status").as_string(), "declined");
  EXPECT_EQ(data.at("decline_reason").as_string(), "insufficient_funds");
  EXPECT_EQ(data.at("payment_id").as_string(), declined->id);
  EXPECT_TRUE(outbox[0].traceparent.empty());
}

TEST_F(PaymentServiceTest, AReplayOfTheSameKeyPublishesNothingMore) {
  auto first = service_.charge(request(), "key-1", render_);
  ASSERT_TRUE(first);
  for (int i = 0; i < 3; ++i) {
    auto again = service_.charge(request(), "key-1", render_);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->replayed);
  }
  auto outbox = db_.outbox();
  ASSERT_EQ(outbox.size(), 1U);
  EXPECT_EQ(outbox[0].type, "payment.processed");
}

TEST_F(PaymentServiceTest, ChargesThatRecordNoPaymentPublishNothing) {
  ASSERT_FALSE(service_.charge(request("o1", "tok_unknown")));                   // 422, no key
  ASSERT_TRUE(service_.charge(request("o2", "tok_unknown"), "key-1", render_));  // 422 stored on the key
  auto bad = request();
  bad.amount_cents = 0;
  ASSERT_FALSE(service_.charge(bad));  // 400
  EXPECT_TRUE(db_.outbox().empty());
  ASSERT_TRUE(service_.charge(request("o3")));
  auto conflict = service_.charge(request("o3"));  // 409: the order is paid
  ASSERT_FALSE(conflict);
  auto keyed_conflict = service_.charge(request("o3"), "key-2", render_);
  ASSERT_TRUE(keyed_conflict);
  EXPECT_EQ(keyed_conflict->response.status, 409);
  EXPECT_EQ(db_.outbox().size(), 1U) << "only the capture of o3";
}

TEST_F(PaymentServiceTest, ARefundAppendsPaymentRefundedOnce) {
  auto captured = service_.charge(request());
  ASSERT_TRUE(captured);
  auto refunded = service_.refund(captured->id);
  ASSERT_TRUE(refunded);
  ASSERT_TRUE(service_.refund(captured->id));  // a repeat: no-op
  auto outbox = db_.outbox();
  ASSERT_EQ(outbox.size(), 2U);
  const auto& e = outbox[1];
  EXPECT_EQ(e.type, "payment.refunded");
  EXPECT_EQ(e.subject, "o1");
  auto data = data_of(e);
  EXPECT_EQ(data.at("payment_id").as_string(), captured->id);
  EXPECT_EQ(data.at("order_id").as_string(), "o1");
  EXPECT_FALSE(data.at("refund_id").as_string().empty());
  EXPECT_NE(data.at("refund_id").as_string(), captured->id);
  EXPECT_EQ(data.at("amount_cents").as_int64(), 500);
  EXPECT_EQ(data.at("refunded_at").as_string(), format_rfc3339(refunded->updated_at));

  auto declined = service_.charge(request("o2", "tok_chargeDeclined"));
  ASSERT_TRUE(declined);
  ASSERT_FALSE(service_.refund(declined->id));  // 422
  ASSERT_FALSE(service_.refund("missing"));     // 404
  EXPECT_EQ(db_.outbox().size(), 3U) << "the decline's payment.processed only";
}

TEST_F(PaymentServiceTest, ListValidatesTheOrderId) {
  auto empty = service_.list_for_order("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().field, "order_id");
  auto long_id = service_.list_for_order(std::string(65, 'o'));
  ASSERT_FALSE(long_id);
  EXPECT_EQ(long_id.error().field, "order_id");
}

TEST_F(PaymentServiceTest, RecoverRefusesRetentionUnderADay) {
  auto r = service_.recover_keys(std::chrono::hours(23));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  ASSERT_TRUE(service_.charge(request(), "key-1", render_));
  auto kept = service_.recover_keys(std::chrono::hours(24));
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, 0);  // a fresh, completed key survives
}

}  // namespace
}  // namespace mercato::payment
