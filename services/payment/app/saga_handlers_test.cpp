// The saga handlers over the real stores (SQLite, and PostgreSQL when there is a server): each command
// is answered once, in the outbox the relay publishes from, and a repeat never charges or refunds twice.
#include "app/saga_handlers.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <memory>

#include "adapters/sql_payment_repository.hpp"
#include "app/payment_events.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/testing/backends.hpp"
#include "mercato/testing/testing.hpp"

namespace mercato::payment {
namespace {

constexpr std::string_view kTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

// The simulated processor, counting how often it is asked: "no second charge" is no second ask.
class CountingProcessor final : public CardProcessor {
 public:
  Result<CardDecision> authorize(const ChargeRequest& request) override {
    ++asked;
    return decide(request.payment_token);
  }
  std::atomic<int> asked{0};
};

// The repository and the event store on one database, as main.cpp opens them.
struct Stores {
  virtual ~Stores() = default;
  virtual PaymentRepository& repo() = 0;
  virtual events::EventStore& store() = 0;
};

struct SqliteStores : Stores {
  SqliteStores()
      : dir(std::filesystem::temp_directory_path() / ("mercato-payment-saga-" + random_hex(8))),
        db(sql::Database::open(
            sqlite::DatabaseSettings{.path = (dir / "payment.db").string(), .connections = 2})),
        r(*db),
        s(events::open_store(*db)) {}
  ~SqliteStores() override { std::filesystem::remove_all(dir); }
  PaymentRepository& repo() override { return r; }
  events::EventStore& store() override { return *s; }
  std::filesystem::path dir;
  std::unique_ptr<sql::Database> db;
  SqlPaymentRepository r;
  std::unique_ptr<events::EventStore> s;
};

struct PostgresStores : Stores {
  explicit PostgresStores(const std::string& url) : schema(url) {
    if (!schema.ok()) throw std::runtime_error("cannot create a test schema: " + schema.error());
    db = sql::Database::open(postgres::DatabaseSettings{.url = schema.url(), .connections = 2});
    r = std::make_unique<SqlPaymentRepository>(*db);
    s = events::open_store(*db);
  }
  PaymentRepository& repo() override { return *r; }
  events::EventStore& store() override { return *s; }
  mercato::testing::PostgresSchema schema;  // first member: dropped after everything else has closed
  std::unique_ptr<sql::Database> db;
  std::unique_ptr<SqlPaymentRepository> r;
  std::unique_ptr<events::EventStore> s;
};

class PaymentSagaHandlers : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      stores_ = std::make_unique<SqliteStores>();
    } else {
      auto url = mercato::testing::backend_url("MERCATO_TEST_POSTGRES_URL");
      if (url.empty()) {
        if (mercato::testing::backends_required()) FAIL() << "MERCATO_TEST_POSTGRES_URL is not set";
        GTEST_SKIP() << "no PostgreSQL server (run through ./mercato test)";
      }
      stores_ = std::make_unique<PostgresStores>(url);
    }
    service_ = std::make_unique<PaymentService>(stores_->repo(), processor_);
    handlers_ = std::make_unique<SagaHandlers>(*service_, stores_->store(), "payment");
  }

  static events::CloudEvent command(std::string type, const std::string& order_id,
                                    const boost::json::object& data) {
    return events::make_event("order", std::move(type), order_id, boost::json::serialize(data),
                              std::string(kTraceparent));
  }
  static events::CloudEvent charge(const std::string& order_id, const std::string& token = "tok_visa",
                                   std::int64_t amount = 2500) {
    return command("payment.charge_requested", order_id,
                   {{"order_id", order_id},
                    {"customer_id", "cust-1"},
                    {"amount_cents", amount},
                    {"payment_token", token},
                    {"a_field_from_the_future", true}});
  }
  // The refund of the order's charge: what `charge` asks for by default.
  static events::CloudEvent refund(const std::string& order_id) {
    return command("payment.refund_requested", order_id,
                   {{"order_id", order_id},
                    {"customer_id", "cust-1"},
                    {"amount_cents", 2500},
                    {"reason", "out of stock"}});
  }
  // The unsent events in the outbox, oldest first.
  std::vector<events::CloudEvent> outbox() {
    auto rows = stores_->store().unsent(1000);
    EXPECT_TRUE(rows) << rows.error().message;
    std::vector<events::CloudEvent> out;
    if (rows) {
      for (auto& row : *rows) out.push_back(std::move(row.event));
    }
    return out;
  }
  static boost::json::object data_of(const events::CloudEvent& e) {
    return boost::json::parse(e.data).as_object();
  }
  std::vector<Payment> payments_of(const std::string& order_id) {
    auto payments = service_->list_for_order(order_id);
    EXPECT_TRUE(payments) << payments.error().message;
    return payments ? *payments : std::vector<Payment>{};
  }
  // Whether the inbox has `command` recorded (it is recorded by asking: a test's last check only).
  bool recorded(const events::CloudEvent& command) {
    auto first = stores_->store().handle_once("payment", command.id);
    EXPECT_TRUE(first) << first.error().message;
    return first && !*first;
  }

  std::unique_ptr<Stores> stores_;
  CountingProcessor processor_;
  std::unique_ptr<PaymentService> service_;
  std::unique_ptr<SagaHandlers> handlers_;
};

TEST_P(PaymentSagaHandlers, ACaptureIsAnsweredByTheRepositoryWithThePayment) {
  auto cmd = charge("o-cap");
  ASSERT_TRUE(handlers_->on_charge_requested(cmd));
  auto payments = payments_of("o-cap");
  ASSERT_EQ(payments.size(), 1U);
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].type, "payment.processed");
  EXPECT_EQ(sent[0].subject, "o-cap");
  EXPECT_EQ(sent[0].source, "/mercato/payment");
  EXPECT_EQ(sent[0].traceparent, kTraceparent) << "the command's trace goes on";
  auto data = data_of(sent[0]);
  EXPECT_EQ(data.at("payment_id").as_string(), payments[0].id);
  EXPECT_EQ(data.at("order_id").as_string(), "o-cap");
  EXPECT_EQ(data.at("customer_id").as_string(), "cust-1");
  EXPECT_EQ(data.at("amount_cents").as_int64(), 2500);
  EXPECT_EQ(data.at("status").as_string(), "captured");
  EXPECT_FALSE(data.contains("decline_reason"));
  EXPECT_TRUE(recorded(cmd));
}

TEST_P(PaymentSagaHandlers, TheSameCommandAgainAppendsNothing) {
  auto cmd = charge("o-dup");
  ASSERT_TRUE(handlers_->on_charge_requested(cmd));
  ASSERT_TRUE(handlers_->on_charge_requested(cmd));
  EXPECT_EQ(outbox().size(), 1U);
  EXPECT_EQ(payments_of("o-dup").size(), 1U);
  EXPECT_EQ(processor_.asked, 1);
}

TEST_P(PaymentSagaHandlers, ADeclinedCardIsAnAnswerNotAnError) {
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-dec", "tok_insufficientFunds")));
  auto payments = payments_of("o-dec");
  ASSERT_EQ(payments.size(), 1U);
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 1U);
  auto data = data_of(sent[0]);
  EXPECT_EQ(data.at("payment_id").as_string(), payments[0].id);
  EXPECT_EQ(data.at("status").as_string(), "declined");
  EXPECT_EQ(data.at("decline_reason").as_string(), "insufficient_funds");
}

TEST_P(PaymentSagaHandlers, ARepeatWithANewIdAnswersFromTheExistingPaymentWithoutChargingAgain) {
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-rep")));
  // Even with another token: the order is charged once, and its charge was captured.
  auto repeat = charge("o-rep", "tok_chargeDeclined");
  ASSERT_TRUE(handlers_->on_charge_requested(repeat));
  EXPECT_EQ(processor_.asked, 1);
  EXPECT_EQ(payments_of("o-rep").size(), 1U);
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[1].type, "payment.processed");
  EXPECT_EQ(sent[1].traceparent, kTraceparent);
  EXPECT_EQ(sent[1].data, sent[0].data) << "the same payment, reported again";
  EXPECT_NE(sent[1].id, sent[0].id);
  EXPECT_TRUE(recorded(repeat));
  ASSERT_TRUE(handlers_->on_charge_requested(repeat));
  EXPECT_EQ(outbox().size(), 2U) << "that answer went out with the inbox record";
}

TEST_P(PaymentSagaHandlers, ARepeatAfterADeclineAnswersTheDeclineAgain) {
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-dec2", "tok_chargeDeclined")));
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-dec2", "tok_visa")));
  EXPECT_EQ(processor_.asked, 1);
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[1].data, sent[0].data);
  EXPECT_EQ(data_of(sent[1]).at("decline_reason").as_string(), "card_declined");
}

TEST_P(PaymentSagaHandlers, AnOrderPaidThroughTheApiIsAnsweredWithThatPayment) {
  auto paid = service_->charge({"o-rest", "cust-1", 2500, "tok_mastercard"});
  ASSERT_TRUE(paid);
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-rest")));
  EXPECT_EQ(processor_.asked, 1);
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U) << "the REST charge's event and the answer";
  EXPECT_EQ(data_of(sent[1]).at("payment_id").as_string(), paid->id);
  EXPECT_EQ(data_of(sent[1]).at("status").as_string(), "captured");
}

// Issue 15, item 1: a capture of 1 cent made through the API for the order before its charge is not
// adopted as the order's charge (which would confirm the order with 1 cent paid): the charge is declined
// as a conflict, and the foreign payment stays as it is.
TEST_P(PaymentSagaHandlers, AForeignCaptureOfAnotherAmountIsNotAdoptedAndTheChargeIsDeclined) {
  auto foreign = service_->charge({"o-cent", "cust-1", 1, "tok_visa"});
  ASSERT_TRUE(foreign);
  auto cmd = charge("o-cent");
  ASSERT_TRUE(handlers_->on_charge_requested(cmd));
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U) << "the REST charge's event and the answer";
  auto data = data_of(sent[1]);
  EXPECT_EQ(data.at("status").as_string(), "declined");
  EXPECT_EQ(data.at("decline_reason").as_string(), kPaymentConflict);
  EXPECT_FALSE(data.contains("payment_id"));
  EXPECT_EQ(data.at("amount_cents").as_int64(), 2500) << "what the saga asked";
  EXPECT_EQ(processor_.asked, 1) << "only the foreign charge reached the processor";
  auto payments = payments_of("o-cent");
  ASSERT_EQ(payments.size(), 1U);
  EXPECT_EQ(payments[0].id, foreign->id);
  EXPECT_EQ(payments[0].amount_cents, 1);
  EXPECT_EQ(payments[0].status, PaymentStatus::kCaptured);
  EXPECT_TRUE(recorded(cmd));
  // Nor is another customer's capture of the right amount.
  ASSERT_TRUE(service_->charge({"o-other", "cust-2", 2500, "tok_visa"}));
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-other")));
  EXPECT_EQ(data_of(outbox().back()).at("decline_reason").as_string(), kPaymentConflict);
}

// The saga's refund undoes the order's charge only: a foreign capture of the order is left as it is.
TEST_P(PaymentSagaHandlers, ARefundLeavesAForeignCaptureOfTheOrderAsItIs) {
  auto foreign = service_->charge({"o-keep", "cust-1", 1, "tok_visa"});
  ASSERT_TRUE(foreign);
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-keep")));  // declined: a conflict
  ASSERT_TRUE(handlers_->on_refund_requested(refund("o-keep")));
  auto sent = outbox();
  ASSERT_EQ(sent.back().type, "payment.refunded");
  auto data = data_of(sent.back());
  EXPECT_EQ(data.at("amount_cents").as_int64(), 0);
  EXPECT_FALSE(data.contains("payment_id"));
  auto payments = payments_of("o-keep");
  ASSERT_EQ(payments.size(), 1U);
  EXPECT_EQ(payments[0].status, PaymentStatus::kCaptured);
  // The choreographed cancellation names the order's total the same way.
  auto cancelled = command("order.cancelled", "o-keep",
                           {{"order_id", "o-keep"},
                            {"customer_id", "cust-1"},
                            {"total_cents", 2500},
                            {"reason", "charge failed"},
                            {"saga", "choreography"}});
  ASSERT_TRUE(handlers_->on_order_cancelled(cancelled));
  EXPECT_EQ(data_of(outbox().back()).at("amount_cents").as_int64(), 0);
  EXPECT_EQ(payments_of("o-keep")[0].status, PaymentStatus::kCaptured);
}

TEST_P(PaymentSagaHandlers, AnUnknownTokenIsDeclinedAsInvalidTokenAndRefusedOnceForTheOrder) {
  auto cmd = charge("o-tok", "tok_unknown");
  ASSERT_TRUE(handlers_->on_charge_requested(cmd));
  EXPECT_TRUE(payments_of("o-tok").empty()) << "no payment: the processor never took the charge";
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].type, "payment.processed");
  EXPECT_EQ(sent[0].subject, "o-tok");
  EXPECT_EQ(sent[0].traceparent, kTraceparent);
  auto data = data_of(sent[0]);
  EXPECT_FALSE(data.contains("payment_id"));
  EXPECT_EQ(data.at("order_id").as_string(), "o-tok");
  EXPECT_EQ(data.at("customer_id").as_string(), "cust-1");
  EXPECT_EQ(data.at("amount_cents").as_int64(), 2500);
  EXPECT_EQ(data.at("status").as_string(), "declined");
  EXPECT_EQ(data.at("decline_reason").as_string(), "invalid_token");
  EXPECT_TRUE(data.at("created_at").is_string());

  ASSERT_TRUE(handlers_->on_charge_requested(cmd));
  EXPECT_EQ(outbox().size(), 1U) << "a redelivery appends nothing";
  // A repeat with a new id, even with a good token, gets the refusal the order's key keeps.
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-tok", "tok_visa")));
  EXPECT_EQ(processor_.asked, 1);
  EXPECT_TRUE(payments_of("o-tok").empty());
  sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(data_of(sent[1]).at("decline_reason").as_string(), "invalid_token");
}

TEST_P(PaymentSagaHandlers, AChargeBreakingTheRulesIsDeclinedAsInvalidRequest) {
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-zero", "tok_visa", 0)));
  EXPECT_EQ(processor_.asked, 0);
  EXPECT_TRUE(payments_of("o-zero").empty());
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 1U);
  auto data = data_of(sent[0]);
  EXPECT_FALSE(data.contains("payment_id"));
  EXPECT_EQ(data.at("status").as_string(), "declined");
  EXPECT_EQ(data.at("decline_reason").as_string(), "invalid_request");
  EXPECT_EQ(data.at("amount_cents").as_int64(), 0);
}

TEST_P(PaymentSagaHandlers, AChargeInProgressIsAnErrorSoTheBusRetriesIt) {
  // Another delivery of the order's charge holds its key (claimed, processor not yet answered).
  auto claimed = stores_->repo().claim_key({.key = order_charge_key("o-busy"),
                                            .fingerprint = "fp",
                                            .state = KeyState::kInProgress,
                                            .created_at = now_utc()});
  ASSERT_TRUE(claimed && !*claimed);
  auto cmd = charge("o-busy");
  auto r = handlers_->on_charge_requested(cmd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(processor_.asked, 0);
  EXPECT_TRUE(outbox().empty());
  EXPECT_FALSE(recorded(cmd)) << "an error records nothing: the retry is handled afresh";
}

TEST(OrderChargeKey, IsOutOfReachOfTheIdempotencyKeyHeader) {
  EXPECT_FALSE(validate_idempotency_key(order_charge_key("o-1")));
  EXPECT_NE(order_charge_key("o-1"), order_charge_key("o-2"));
}

TEST_P(PaymentSagaHandlers, MalformedChargeDataIsAnErrorNamingTheField) {
  struct Case {
    boost::json::object data;
    std::string field;
  };
  auto good = boost::json::object{
      {"order_id", "o-bad"}, {"customer_id", "c"}, {"amount_cents", 100}, {"payment_token", "tok_visa"}};
  auto without = [&](const char* key) {
    auto d = good;
    d.erase(key);
    return d;
  };
  auto with = [&](const char* key, boost::json::value v) {
    auto d = good;
    d[key] = std::move(v);
    return d;
  };
  std::vector<Case> cases = {
      {without("order_id"), "order_id"},
      {with("order_id", 7), "order_id"},
      {without("customer_id"), "customer_id"},
      {without("amount_cents"), "amount_cents"},
      {with("amount_cents", "100"), "amount_cents"},
      {with("amount_cents", 1.5), "amount_cents"},
      {with("amount_cents", 18446744073709551615ULL), "amount_cents"},
      {without("payment_token"), "payment_token"},
      {with("payment_token", nullptr), "payment_token"},
      {with("order_id", ""), "order_id"},  // no answer could name the order
  };
  for (const auto& c : cases) {
    auto cmd = command("payment.charge_requested", "o-bad", c.data);
    auto r = handlers_->on_charge_requested(cmd);
    ASSERT_FALSE(r) << boost::json::serialize(c.data);
    EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed) << r.error().message;
    EXPECT_EQ(r.error().field, c.field) << r.error().message;
  }
  auto not_an_object = charge("o-bad");
  not_an_object.data = "[1]";
  auto r = handlers_->on_charge_requested(not_an_object);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kMalformedRequest);
  auto newer = charge("o-bad");
  newer.dataschema = "urn:mercato:event:payment.charge_requested:v2";
  r = handlers_->on_charge_requested(newer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(processor_.asked, 0);
  EXPECT_TRUE(outbox().empty());
  EXPECT_FALSE(recorded(newer));
}

TEST_P(PaymentSagaHandlers, ARefundOfTheCapturedPaymentIsAnsweredByTheRepositoryOnce) {
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-ref")));
  auto cmd = refund("o-ref");
  ASSERT_TRUE(handlers_->on_refund_requested(cmd));
  auto payments = payments_of("o-ref");
  ASSERT_EQ(payments.size(), 1U);
  EXPECT_EQ(payments[0].status, PaymentStatus::kRefunded);
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[1].type, "payment.refunded");
  EXPECT_EQ(sent[1].subject, "o-ref");
  EXPECT_EQ(sent[1].traceparent, kTraceparent);
  auto data = data_of(sent[1]);
  EXPECT_EQ(data.at("payment_id").as_string(), payments[0].id);
  EXPECT_EQ(data.at("order_id").as_string(), "o-ref");
  EXPECT_EQ(data.at("refund_id").as_string(), refund_id_of(payments[0].id));
  EXPECT_EQ(data.at("amount_cents").as_int64(), 2500);
  EXPECT_EQ(data.at("refunded_at").as_string(), format_rfc3339(payments[0].updated_at));
  EXPECT_TRUE(recorded(cmd));

  ASSERT_TRUE(handlers_->on_refund_requested(cmd));
  EXPECT_EQ(outbox().size(), 2U) << "a redelivery appends nothing";
  // A repeat with a new id: the refund as it was, nothing refunded twice.
  auto repeat = refund("o-ref");
  ASSERT_TRUE(handlers_->on_refund_requested(repeat));
  sent = outbox();
  ASSERT_EQ(sent.size(), 3U);
  EXPECT_EQ(sent[2].type, "payment.refunded");
  EXPECT_EQ(sent[2].data, sent[1].data);
  EXPECT_EQ(payments_of("o-ref")[0].updated_at, payments[0].updated_at);
  ASSERT_TRUE(handlers_->on_refund_requested(repeat));
  EXPECT_EQ(outbox().size(), 3U);
}

TEST_P(PaymentSagaHandlers, ARefundWithNothingCapturedSucceedsWithNothingRefunded) {
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-declined", "tok_chargeDeclined")));
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-refused", "tok_unknown")));
  for (const char* order : {"o-none", "o-declined", "o-refused"}) {
    auto before = outbox().size();
    auto cmd = refund(order);
    ASSERT_TRUE(handlers_->on_refund_requested(cmd)) << order;
    auto sent = outbox();
    ASSERT_EQ(sent.size(), before + 1) << order;
    EXPECT_EQ(sent.back().type, "payment.refunded");
    EXPECT_EQ(sent.back().subject, order);
    auto data = data_of(sent.back());
    EXPECT_EQ(data.at("order_id").as_string(), order);
    EXPECT_EQ(data.at("amount_cents").as_int64(), 0);
    EXPECT_FALSE(data.contains("payment_id")) << order;
    EXPECT_FALSE(data.contains("refund_id")) << order;
    EXPECT_TRUE(data.at("refunded_at").is_string());
    ASSERT_TRUE(handlers_->on_refund_requested(cmd));
    EXPECT_EQ(outbox().size(), before + 1) << order << ": a redelivery appends nothing";
  }
  EXPECT_EQ(payments_of("o-declined")[0].status, PaymentStatus::kDeclined);
}

// A refund that finds nothing captured voids the order's charge: a charge arriving after it (in
// choreography, inventory.reserved handled after order.cancelled) is refused without asking the processor.
TEST_P(PaymentSagaHandlers, ARefundBeforeTheChargeVoidsIt) {
  ASSERT_TRUE(handlers_->on_refund_requested(refund("o-void")));
  ASSERT_TRUE(handlers_->on_charge_requested(charge("o-void")));
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[1].type, "payment.processed");
  auto data = data_of(sent[1]);
  EXPECT_EQ(data.at("status").as_string(), "declined");
  EXPECT_EQ(data.at("decline_reason").as_string(), kOrderCancelled);
  EXPECT_EQ(processor_.asked.load(), 0) << "no charge was attempted";
  EXPECT_TRUE(payments_of("o-void").empty());
  ASSERT_TRUE(handlers_->on_refund_requested(refund("o-void")));
  EXPECT_EQ(data_of(outbox().back()).at("amount_cents").as_int64(), 0) << "voided again: still nothing";
}

// --- choreography: a choreographed order's events stand in for the commands --------------------------

events::CloudEvent choreographed(const std::string& source, std::string type, const std::string& order_id,
                                 boost::json::object data, std::string_view saga = "choreography") {
  data["order_id"] = order_id;
  data["saga"] = saga;
  return events::make_event(source, std::move(type), order_id, boost::json::serialize(data),
                            std::string(kTraceparent));
}

events::CloudEvent order_created(const std::string& order_id, std::string_view saga = "choreography") {
  return choreographed("order", "order.created", order_id,
                       {{"customer_id", "cust-9"}, {"total_cents", 4200}, {"payment_token", "tok_visa"}},
                       saga);
}

TEST_P(PaymentSagaHandlers, AChoreographedReservationChargesWhatTheKeptOrderCreatedSays) {
  ASSERT_TRUE(handlers_->on_order_created(order_created("o-ch")));
  EXPECT_TRUE(outbox().empty()) << "nothing to charge before the stock is reserved";
  auto reserved = choreographed("inventory", "inventory.reserved", "o-ch", {});
  ASSERT_TRUE(handlers_->on_inventory_reserved(reserved));
  auto payments = payments_of("o-ch");
  ASSERT_EQ(payments.size(), 1U);
  EXPECT_EQ(payments[0].amount_cents, 4200);
  EXPECT_EQ(payments[0].customer_id, "cust-9");
  auto sent = outbox();
  ASSERT_EQ(sent.size(), 1U);
  auto data = data_of(sent[0]);
  EXPECT_EQ(data.at("status").as_string(), "captured");
  EXPECT_EQ(data.at("saga").as_string(), "choreography") << "shipping ships on it";
  ASSERT_TRUE(handlers_->on_inventory_reserved(reserved));
  EXPECT_EQ(outbox().size(), 1U) << "a redelivery charges and answers nothing";
  EXPECT_EQ(processor_.asked.load(), 1);

  ASSERT_TRUE(
      handlers_->on_order_cancelled(choreographed("order", "order.cancelled", "o-ch", {{"reason", "x"}})));
  EXPECT_EQ(payments_of("o-ch")[0].status, PaymentStatus::kRefunded);
  EXPECT_EQ(outbox().back().type, "payment.refunded");
}

TEST_P(PaymentSagaHandlers, AReservationHandledBeforeItsOrderCreatedIsChargedWhenItComes) {
  auto reserved = choreographed("inventory", "inventory.reserved", "o-early", {});
  ASSERT_TRUE(handlers_->on_inventory_reserved(reserved)) << "kept until its order.created comes";
  EXPECT_TRUE(outbox().empty());
  EXPECT_TRUE(payments_of("o-early").empty());
  auto created = order_created("o-early");
  ASSERT_TRUE(handlers_->on_order_created(created));
  auto payments = payments_of("o-early");
  ASSERT_EQ(payments.size(), 1U);
  EXPECT_EQ(payments[0].amount_cents, 4200);
  ASSERT_EQ(outbox().size(), 1U);
  EXPECT_EQ(data_of(outbox()[0]).at("saga").as_string(), "choreography");
  ASSERT_TRUE(handlers_->on_order_created(created));
  ASSERT_TRUE(handlers_->on_inventory_reserved(reserved));
  EXPECT_EQ(outbox().size(), 1U) << "redeliveries of either charge and answer nothing";
  EXPECT_EQ(processor_.asked.load(), 1);
}

TEST_P(PaymentSagaHandlers, ACancellationHandledBeforeTheReservationLeavesNothingCharged) {
  ASSERT_TRUE(handlers_->on_order_created(order_created("o-race")));
  ASSERT_TRUE(
      handlers_->on_order_cancelled(choreographed("order", "order.cancelled", "o-race", {{"reason", "x"}})));
  ASSERT_TRUE(
      handlers_->on_inventory_reserved(choreographed("inventory", "inventory.reserved", "o-race", {})));
  EXPECT_TRUE(payments_of("o-race").empty());
  EXPECT_EQ(processor_.asked.load(), 0);
  auto answer = data_of(outbox().back());
  EXPECT_EQ(answer.at("status").as_string(), "declined");
  EXPECT_EQ(answer.at("decline_reason").as_string(), kOrderCancelled);
}

TEST_P(PaymentSagaHandlers, AnOrchestratedOrdersEventsAreRecordedAndChangeNothing) {
  auto reserved = choreographed("inventory", "inventory.reserved", "o-orch", {}, "orchestration");
  auto untagged = events::make_event("inventory", "inventory.reserved", "o-rest", R"({"order_id":"o-rest"})");
  auto cancelled = choreographed("order", "order.cancelled", "o-orch", {{"reason", "x"}}, "orchestration");
  auto created = order_created("o-orch", "orchestration");
  for (const auto& e : {reserved, untagged}) ASSERT_TRUE(handlers_->on_inventory_reserved(e));
  ASSERT_TRUE(handlers_->on_order_created(created));
  ASSERT_TRUE(handlers_->on_order_cancelled(cancelled));
  EXPECT_TRUE(outbox().empty());
  EXPECT_EQ(processor_.asked.load(), 0);
  for (const auto& e : {reserved, untagged, created, cancelled}) EXPECT_TRUE(recorded(e));
}

TEST_P(PaymentSagaHandlers, MalformedRefundDataIsAnErrorNamingTheField) {
  auto missing = command("payment.refund_requested", "o-x", {{"reason", "r"}});
  auto r = handlers_->on_refund_requested(missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "order_id");
  auto mistyped = command("payment.refund_requested", "o-x", {{"order_id", "o-x"}, {"reason", 3}});
  r = handlers_->on_refund_requested(mistyped);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  EXPECT_EQ(r.error().field, "reason");
  EXPECT_TRUE(outbox().empty());
  // The reason is informative: without it the refund still runs.
  ASSERT_TRUE(
      handlers_->on_refund_requested(command("payment.refund_requested", "o-x", {{"order_id", "o-x"}})));
  EXPECT_EQ(outbox().size(), 1U);
}

INSTANTIATE_TEST_SUITE_P(Stores, PaymentSagaHandlers, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace mercato::payment
