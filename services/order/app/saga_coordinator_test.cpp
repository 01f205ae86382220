// The saga coordinator over the real repositories (SQLite and PostgreSQL), orchestrating and
// choreographing: each decision is persisted with the order, the inbox record and the events in the
// outbox — what a restarted order service resumes.
#include "app/saga_coordinator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>

#include "adapters/sql_order_repository.hpp"
#include "app/order_service.hpp"
#include "mercato/core/ids.hpp"
#include "mercato/events/store.hpp"
#include "mercato/testing/backends.hpp"

namespace mercato::order {
namespace {

using namespace std::chrono_literals;

struct Everyone : CustomerDirectory, Catalog {
  bool nobody = false;  // then no customer exists
  boost::asio::awaitable<Result<bool>> exists(const std::string&, const CallContext&) override {
    co_return !nobody;
  }
  boost::asio::awaitable<Result<Prices>> prices(std::vector<std::string> ids, const CallContext&) override {
    Prices out;
    for (const auto& id : ids) out[id] = 500;
    co_return out;
  }
};

class SagaCoordinatorTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / ("mercato-saga-" + random_hex(8));
      sqlite_ = sql::Database::open(sqlite::DatabaseSettings{.path = (dir_ / "order.db").string()});
      repo_ = std::make_unique<SqlOrderRepository>(*sqlite_);
      store_ = events::open_store(*sqlite_);
    } else {
      MERCATO_BACKEND_URL_OR_SKIP(base, "MERCATO_TEST_POSTGRES_URL");
      schema_ = std::make_unique<testing::PostgresSchema>(base, "saga");
      ASSERT_TRUE(schema_->ok()) << schema_->error();
      postgres_ = sql::Database::open(postgres::DatabaseSettings{.url = schema_->url(), .connections = 2});
      repo_ = std::make_unique<SqlOrderRepository>(*postgres_);
      store_ = events::open_store(*postgres_);
    }
    orchestrator_ = std::make_unique<SagaCoordinator>(*repo_, SagaTimeouts{.step = 10s, .order = 60s});
    service_ = std::make_unique<OrderService>(*repo_, everyone_, everyone_, orchestrator_.get());
  }
  void TearDown() override {
    service_.reset();
    orchestrator_.reset();
    store_.reset();
    repo_.reset();
    sqlite_.reset();
    postgres_.reset();
    schema_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Order place() {
    boost::asio::io_context io;
    std::optional<Result<Written>> out;
    NewOrder input{"cust-1",
                   {{"mug", 2, std::nullopt, {}}},
                   "tok_visa",
                   {"Ann", "1 Main St", "", "Berlin", "10115", "DE"}};
    CallContext ctx;  // named: no class-type temporary inside co_await (docs/adr/0003)
    boost::asio::co_spawn(
        io, [&]() -> boost::asio::awaitable<void> { out = co_await service_->create(input, ctx); },
        boost::asio::detached);
    io.run();
    EXPECT_TRUE(*out);
    return (*out)->order;
  }

  // The types of the events appended so far (the outbox in commit order), and marks them sent.
  std::vector<std::string> drain() {
    std::vector<std::string> types;
    auto rows = store_->unsent(1000);
    EXPECT_TRUE(rows);
    std::vector<std::int64_t> seqs;
    for (auto& r : *rows) {
      types.push_back(r.event.type);
      seqs.push_back(r.seq);
    }
    EXPECT_TRUE(store_->mark_sent(seqs));
    return types;
  }

  Result<void> answer(const Order& o, std::string type, std::string data = "{}") {
    return orchestrator_->on_event(events::make_event("test", std::move(type), o.id, std::move(data)));
  }

  Status status(const Order& o) { return repo_->find(o.id)->status; }

  // New sagas from now on start in `mode` (the sagas already running keep theirs).
  void use_mode(Coordination mode) {
    service_.reset();
    orchestrator_ =
        std::make_unique<SagaCoordinator>(*repo_, SagaTimeouts{.step = 10s, .order = 60s}, nullptr, mode);
    service_ = std::make_unique<OrderService>(*repo_, everyone_, everyone_, orchestrator_.get());
  }

  // The outbox's unsent events, marked sent.
  std::vector<events::CloudEvent> drain_events() {
    auto rows = store_->unsent(1000);
    EXPECT_TRUE(rows);
    std::vector<events::CloudEvent> out;
    std::vector<std::int64_t> seqs;
    for (auto& r : *rows) {
      out.push_back(r.event);
      seqs.push_back(r.seq);
    }
    EXPECT_TRUE(store_->mark_sent(seqs));
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<sql::Database> sqlite_;
  std::unique_ptr<testing::PostgresSchema> schema_;
  std::unique_ptr<sql::Database> postgres_;
  std::unique_ptr<OrderRepository> repo_;
  std::unique_ptr<events::EventStore> store_;
  Everyone everyone_;
  std::unique_ptr<SagaCoordinator> orchestrator_;
  std::unique_ptr<OrderService> service_;
};

TEST_P(SagaCoordinatorTest, PlacingAnOrderStartsTheSagaInTheSameTransaction) {
  auto o = place();
  EXPECT_EQ(drain(), (std::vector<std::string>{"order.created", "inventory.reserve_requested"}));
  auto saga = service_->saga(o.id);
  ASSERT_TRUE(saga) << saga.error().message;
  EXPECT_EQ(saga->state, SagaState::kRunning);
  EXPECT_EQ(saga->current, Step::kReserve);
  EXPECT_EQ(service_->saga("nope").error().code, ErrorCode::kNotFound);
}

// What an operator sees of sagas (docs/observability.md): step durations, outcomes, placed → confirmed.
TEST_P(SagaCoordinatorTest, MetricsShowStepDurationsOutcomesAndTheTimeToConfirm) {
  obs::Registry metrics;
  orchestrator_ =
      std::make_unique<SagaCoordinator>(*repo_, SagaTimeouts{.step = 10s, .order = 60s}, &metrics);
  service_ = std::make_unique<OrderService>(*repo_, everyone_, everyone_, orchestrator_.get());
  auto o = place();
  for (const char* a :
       {"inventory.reserved", "payment.processed", "shipment.created", "inventory.committed"}) {
    ASSERT_TRUE(answer(o, a, std::string_view(a) == "payment.processed" ? R"({"status":"captured"})" : "{}"));
  }
  auto declined = place();
  ASSERT_TRUE(answer(declined, "inventory.reserved"));
  ASSERT_TRUE(answer(declined, "payment.processed", R"({"status":"declined"})"));
  ASSERT_TRUE(answer(declined, "inventory.released"));
  auto text = metrics.render();
  for (const char* line : {
           R"(mercato_saga_outcomes_total{outcome="confirmed"} 1)",
           R"(mercato_saga_outcomes_total{outcome="cancelled"} 1)",
           "mercato_order_confirmation_seconds_count 1",
           R"(mercato_saga_step_duration_seconds_count{status="succeeded",step="reserve"} 2)",
           R"(mercato_saga_step_duration_seconds_count{status="failed",step="charge"} 1)",
           R"(mercato_saga_step_duration_seconds_count{status="succeeded",step="commit"} 1)",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST_P(SagaCoordinatorTest, AnswersDriveTheOrderToConfirmed) {
  auto o = place();
  drain();
  ASSERT_TRUE(answer(o, "inventory.reserved"));
  EXPECT_EQ(drain(), std::vector<std::string>{"payment.charge_requested"});
  ASSERT_TRUE(answer(o, "payment.processed", R"({"status":"captured"})"));
  EXPECT_EQ(drain(), std::vector<std::string>{"shipment.create_requested"});
  ASSERT_TRUE(answer(o, "shipment.created"));
  EXPECT_EQ(drain(), std::vector<std::string>{"inventory.commit_requested"});
  ASSERT_TRUE(answer(o, "inventory.committed"));
  EXPECT_EQ(drain(), std::vector<std::string>{"order.confirmed"});
  EXPECT_EQ(status(o), Status::kConfirmed);
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kCompleted);
}

TEST_P(SagaCoordinatorTest, ADeclinedPaymentReleasesTheStockAndCancelsTheOrder) {
  auto o = place();
  drain();
  ASSERT_TRUE(answer(o, "inventory.reserved"));
  ASSERT_TRUE(answer(o, "payment.processed", R"({"status":"declined","decline_reason":"card_declined"})"));
  EXPECT_EQ(drain(), (std::vector<std::string>{"payment.charge_requested", "inventory.release_requested"}));
  EXPECT_EQ(status(o), Status::kPending) << "cancelled once the stock is back";
  ASSERT_TRUE(answer(o, "inventory.released"));
  EXPECT_EQ(drain(), std::vector<std::string>{"order.cancelled"});
  auto order = repo_->find(o.id);
  EXPECT_EQ(order->status, Status::kCancelled);
  EXPECT_EQ(order->reason, "charge failed: card_declined");
}

// Admission control (ADR 0018): a saga holds its place in the backlog from its placement to its end,
// whichever way it ends, exactly once; the database's count agrees; an order not placed takes no place.
TEST_P(SagaCoordinatorTest, AdmissionCountsEachSagaFromPlacementToItsEnd) {
  AdmissionSettings settings;
  settings.limits = {.max_backlog_time = 1s, .min_backlog = 2, .max_backlog = 2};
  auto running = repo_->count_running_sagas();
  ASSERT_TRUE(running) << running.error().message;
  Admission admission(settings, *running);
  service_.reset();
  orchestrator_ = std::make_unique<SagaCoordinator>(*repo_, SagaTimeouts{.step = 10s, .order = 60s}, nullptr,
                                                    Coordination::kOrchestration, std::nullopt,
                                                    resilience::Clock::now, &admission);
  service_ = std::make_unique<OrderService>(*repo_, everyone_, everyone_, orchestrator_.get(), &admission);
  auto place_admitted = [&](std::string product) -> Result<Written> {
    auto admitted = service_->admit();
    if (auto* refused = std::get_if<Admission::Refusal>(&admitted)) return refused->error();
    boost::asio::io_context io;
    std::optional<Result<Written>> out;
    NewOrder input{"cust-1",
                   {{std::move(product), 1, std::nullopt, {}}},
                   "tok_visa",
                   {"Ann", "1 Main St", "", "Berlin", "10115", "DE"}};
    CallContext ctx;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          out = co_await service_->create(input, ctx, std::get<Admission::Ticket>(std::move(admitted)));
        },
        boost::asio::detached);
    io.run();
    return std::move(*out);
  };
  auto confirmed = place_admitted("mug");
  ASSERT_TRUE(confirmed) << confirmed.error().message;
  auto declined = place_admitted("mug");
  ASSERT_TRUE(declined) << declined.error().message;
  EXPECT_EQ(admission.backlog(), 2);
  EXPECT_EQ(*repo_->count_running_sagas(), 2);
  auto refused = place_admitted("mug");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);

  const auto& c = confirmed->order;
  ASSERT_TRUE(answer(c, "inventory.reserved"));
  ASSERT_TRUE(answer(c, "payment.processed", R"({"status":"captured"})"));
  ASSERT_TRUE(answer(c, "shipment.created"));
  ASSERT_TRUE(answer(c, "inventory.committed"));
  ASSERT_TRUE(answer(c, "inventory.committed"));  // a late repeat ends nothing a second time
  EXPECT_EQ(status(c), Status::kConfirmed);
  EXPECT_EQ(admission.backlog(), 1);
  EXPECT_EQ(*repo_->count_running_sagas(), 1);

  const auto& d = declined->order;
  ASSERT_TRUE(answer(d, "inventory.reserved"));
  ASSERT_TRUE(answer(d, "payment.processed", R"({"status":"declined","decline_reason":"card_declined"})"));
  EXPECT_EQ(admission.backlog(), 1) << "compensating: still in flight";
  ASSERT_TRUE(answer(d, "inventory.released"));
  EXPECT_EQ(status(d), Status::kCancelled);
  EXPECT_EQ(admission.backlog(), 0);
  EXPECT_EQ(*repo_->count_running_sagas(), 0);

  // The place of an order that is not placed (here: an unknown customer) is given back.
  everyone_.nobody = true;
  EXPECT_FALSE(place_admitted("mug"));
  EXPECT_EQ(admission.backlog(), 0);
  service_.reset();
  orchestrator_.reset();
}

// Issue 15, item 1: whatever a payment service answers, the order is not confirmed on a capture of
// another amount than its total (1 cent): the charge has failed, in both styles.
TEST_P(SagaCoordinatorTest, ACaptureOfAnotherAmountThanTheTotalIsNotTheOrdersCharge) {
  for (auto mode : {Coordination::kOrchestration, Coordination::kChoreography}) {
    use_mode(mode);
    auto o = place();
    drain();
    ASSERT_TRUE(answer(o, "inventory.reserved"));
    ASSERT_TRUE(
        answer(o, "payment.processed", R"({"status":"captured","customer_id":"cust-1","amount_cents":1})"));
    ASSERT_TRUE(answer(o, "shipment.created", R"({"customer_id":"cust-1"})"));
    auto saga = service_->saga(o.id);
    ASSERT_TRUE(saga);
    EXPECT_EQ(saga->failure, "charge failed: payment_mismatch") << to_string(mode);
    EXPECT_EQ(std::count(saga->done.begin(), saga->done.end(), Step::kCharge), 0) << to_string(mode);
    EXPECT_NE(status(o), Status::kConfirmed) << to_string(mode);
    // The command that undoes the saga's charge names it, so payment refunds that charge only.
    for (const auto& e : drain_events()) {
      if (e.type != "payment.refund_requested" && e.type != "order.cancelled") continue;
      auto data = boost::json::parse(e.data).as_object();
      EXPECT_EQ(data.at("customer_id").as_string(), "cust-1") << e.type;
      EXPECT_EQ(data.at(e.type == "order.cancelled" ? "total_cents" : "amount_cents").as_int64(),
                o.total_cents)
          << e.type;
    }
  }
}

TEST_P(SagaCoordinatorTest, ADuplicateDeliveryIsHandledOnceAndForeignAnswersAreIgnored) {
  auto o = place();
  drain();
  auto reserved = events::make_event("inventory", "inventory.reserved", o.id, "{}");
  ASSERT_TRUE(orchestrator_->on_event(reserved));
  ASSERT_TRUE(orchestrator_->on_event(reserved));
  EXPECT_EQ(drain(), std::vector<std::string>{"payment.charge_requested"}) << "one charge for two deliveries";
  ASSERT_TRUE(answer(o, "inventory.reserved")) << "the same answer again, new id";
  EXPECT_TRUE(drain().empty());
  EXPECT_TRUE(
      orchestrator_->on_event(events::make_event("inventory", "inventory.reserved", "no-such-order", "{}")))
      << "an answer for an order without a saga is not an error";
}

// Replies duplicated and reordered (a copy of each answer arriving after the next step's answer, the
// copies with ids of their own): every step's command goes out once and the order is confirmed once.
TEST_P(SagaCoordinatorTest, DuplicatedAndReorderedRepliesChangeNothing) {
  auto o = place();
  drain();
  auto reserved = events::make_event("inventory", "inventory.reserved", o.id, "{}");
  auto captured = events::make_event("payment", "payment.processed", o.id, R"({"status":"captured"})");
  auto shipped = events::make_event("shipping", "shipment.created", o.id, "{}");
  auto committed = events::make_event("inventory", "inventory.committed", o.id, "{}");
  auto copy = [](events::CloudEvent e) {
    e.id = new_uuid();
    return e;
  };
  // Too early: answers to steps not yet asked for are ignored.
  ASSERT_TRUE(orchestrator_->on_event(copy(shipped)));
  ASSERT_TRUE(orchestrator_->on_event(copy(committed)));
  EXPECT_TRUE(drain().empty());
  for (const auto& e : {reserved, copy(reserved), captured, copy(reserved), copy(captured), shipped,
                        copy(captured), copy(shipped), committed, copy(committed), copy(shipped), reserved}) {
    ASSERT_TRUE(orchestrator_->on_event(e));
  }
  EXPECT_EQ(drain(), (std::vector<std::string>{"payment.charge_requested", "shipment.create_requested",
                                               "inventory.commit_requested", "order.confirmed"}));
  EXPECT_EQ(status(o), Status::kConfirmed);
  auto saga = service_->saga(o.id);
  ASSERT_TRUE(saga);
  EXPECT_EQ(saga->timeline.size(), 8u) << "every step started and succeeded once";
}

TEST_P(SagaCoordinatorTest, TimeoutsWaitForPaymentThenCompensateAtTheDeadline) {
  auto o = place();
  drain();
  ASSERT_TRUE(answer(o, "inventory.reserved"));
  drain();
  auto now = now_utc();
  auto advanced = orchestrator_->tick(now + 11s);
  ASSERT_TRUE(advanced);
  EXPECT_EQ(*advanced, 1u);
  EXPECT_EQ(status(o), Status::kPendingPayment);
  // The order's own event (its stream is what the bus carries); no command: the charge stays queued.
  EXPECT_EQ(drain(), std::vector<std::string>{"order.payment_pending"});
  ASSERT_TRUE(orchestrator_->tick(now + 61s));
  EXPECT_EQ(drain(), std::vector<std::string>{"payment.refund_requested"});
  ASSERT_TRUE(answer(o, "payment.refunded"));
  ASSERT_TRUE(answer(o, "inventory.released"));
  EXPECT_EQ(drain(), (std::vector<std::string>{"inventory.release_requested", "order.cancelled"}));
  EXPECT_EQ(repo_->find(o.id)->reason, "not completed before the order's deadline");
  EXPECT_EQ(*orchestrator_->tick(now + 1h), 0u) << "a finished saga has no deadline";
}

TEST_P(SagaCoordinatorTest, ACustomerCancelCompensatesAndRefusesOnceCommitting) {
  auto o = place();
  drain();
  ASSERT_TRUE(answer(o, "inventory.reserved"));
  drain();
  auto cancelled = service_->cancel(o.id, "changed my mind");
  ASSERT_TRUE(cancelled) << cancelled.error().message;
  EXPECT_EQ(cancelled->order.status, Status::kCancelled);
  EXPECT_EQ(cancelled->order.cancelled_by, CancelledBy::kCustomer);
  EXPECT_EQ(drain(), (std::vector<std::string>{"payment.refund_requested", "order.cancelled"}));
  EXPECT_EQ(service_->cancel(o.id, "again")->order.reason, "changed my mind");

  auto late = place();
  drain();
  ASSERT_TRUE(answer(late, "inventory.reserved"));
  ASSERT_TRUE(answer(late, "payment.processed", R"({"status":"captured"})"));
  ASSERT_TRUE(answer(late, "shipment.created"));
  EXPECT_EQ(service_->cancel(late.id, "too late").error().code, ErrorCode::kConflict);
}

// --- Choreography: the participants act on the order's events; the coordinator watches ----------------

TEST_P(SagaCoordinatorTest, AChoreographedOrderSendsNoCommandsAndIsConfirmedOnItsShipment) {
  use_mode(Coordination::kChoreography);
  auto o = place();
  auto created = drain_events();
  ASSERT_EQ(created.size(), 1u) << "order.created alone: inventory reserves on it";
  EXPECT_EQ(created[0].type, "order.created");
  EXPECT_NE(created[0].data.find(R"("saga":"choreography")"), std::string::npos) << created[0].data;
  ASSERT_TRUE(answer(o, "inventory.reserved"));
  ASSERT_TRUE(answer(o, "payment.processed", R"({"status":"captured"})"));
  EXPECT_TRUE(drain().empty());
  ASSERT_TRUE(answer(o, "shipment.created"));
  auto confirmed = drain_events();
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].type, "order.confirmed");
  EXPECT_NE(confirmed[0].data.find(R"("saga":"choreography")"), std::string::npos)
      << "inventory commits on it";
  EXPECT_EQ(status(o), Status::kConfirmed);
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kRunning) << "until inventory has committed";
  ASSERT_TRUE(answer(o, "inventory.committed"));
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kCompleted);
  EXPECT_EQ(service_->saga(o.id)->mode, Coordination::kChoreography);
}

// The participants' events travel on their own topics: the charge may come before the reservation,
// copies come with ids of their own. The order is confirmed once.
TEST_P(SagaCoordinatorTest, ChoreographedEventsInAnyOrderAndRepeatedConfirmOnce) {
  use_mode(Coordination::kChoreography);
  auto o = place();
  drain();
  auto copy = [&](std::string type, std::string data = "{}") {
    return events::make_event("test", std::move(type), o.id, std::move(data));
  };
  for (const auto& e : {copy("payment.processed", R"({"status":"captured"})"), copy("shipment.created"),
                        copy("payment.processed", R"({"status":"captured"})"), copy("inventory.reserved"),
                        copy("shipment.created"), copy("inventory.reserved")}) {
    ASSERT_TRUE(orchestrator_->on_event(e));
  }
  EXPECT_EQ(drain(), std::vector<std::string>{"order.confirmed"});
  ASSERT_TRUE(answer(o, "inventory.committed"));
  ASSERT_TRUE(answer(o, "shipment.created"));
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kCompleted);
}

TEST_P(SagaCoordinatorTest, AChoreographedFailureCancelsAtOnceAndALateEffectAnnouncesItAgain) {
  use_mode(Coordination::kChoreography);
  auto o = place();
  drain();
  ASSERT_TRUE(answer(o, "inventory.reserved"));
  ASSERT_TRUE(answer(o, "payment.processed", R"({"status":"declined","decline_reason":"card_declined"})"));
  EXPECT_EQ(drain(), std::vector<std::string>{"order.cancelled"}) << "the participants undo on it";
  EXPECT_EQ(repo_->find(o.id)->reason, "charge failed: card_declined");
  for (const char* undone : {"inventory.released", "payment.refunded"}) ASSERT_TRUE(answer(o, undone));
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kCompensating) << "shipping has not answered";
  // Unanswered past the step timeout: order.cancelled goes out again.
  auto now = now_utc();
  ASSERT_TRUE(orchestrator_->tick(now + 11s));
  EXPECT_EQ(drain(), std::vector<std::string>{"order.cancelled"});
  ASSERT_TRUE(answer(o, "shipment.cancelled"));
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kCompensated);
  // A shipment made after all that (its order.cancelled overtaken): announced again, so it is undone.
  ASSERT_TRUE(answer(o, "shipment.created"));
  EXPECT_EQ(drain(), std::vector<std::string>{"order.cancelled"});
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kCompensating);
  ASSERT_TRUE(answer(o, "shipment.cancelled"));
  EXPECT_EQ(service_->saga(o.id)->state, SagaState::kCompensated);
  EXPECT_EQ(status(o), Status::kCancelled);
}

// Switching saga.mode strands nothing: a saga finishes in the mode it started in.
TEST_P(SagaCoordinatorTest, ASagaKeepsTheModeItStartedIn) {
  auto orchestrated = place();
  drain();
  use_mode(Coordination::kChoreography);
  ASSERT_TRUE(answer(orchestrated, "inventory.reserved"));
  EXPECT_EQ(drain(), std::vector<std::string>{"payment.charge_requested"}) << "still orchestrated";
  auto choreographed = place();
  drain();
  use_mode(Coordination::kOrchestration);
  ASSERT_TRUE(answer(choreographed, "inventory.reserved"));
  EXPECT_TRUE(drain().empty()) << "still choreographed: payment charges by itself";
}

// The payment step's circuit breaker: charges that time out open it; while open, a reservation sends
// the charge (queued) but puts the order in pending_payment at once; a trial after the recovery timeout
// that the payment service answers closes it.
TEST_P(SagaCoordinatorTest, APaymentCircuitOpenedByTimeoutsDefersChargesAtOnce) {
  for (auto mode : {Coordination::kOrchestration, Coordination::kChoreography}) {
    service_.reset();
    auto circuit_now = resilience::Clock::now();
    orchestrator_ = std::make_unique<SagaCoordinator>(
        *repo_, SagaTimeouts{.step = 10s, .order = 60s}, nullptr, mode,
        resilience::BreakerSettings{
            .failure_threshold = 1, .recovery_timeout = 200ms, .success_threshold = 1},
        [&circuit_now] { return circuit_now; });
    service_ = std::make_unique<OrderService>(*repo_, everyone_, everyone_, orchestrator_.get());
    auto first = place();
    drain();
    ASSERT_TRUE(answer(first, "inventory.reserved"));
    EXPECT_EQ(status(first), Status::kPending);
    ASSERT_TRUE(orchestrator_->tick(now_utc() + 11s));
    EXPECT_EQ(status(first), Status::kPendingPayment) << "the charge timed out: the circuit opens";
    drain();

    auto second = place();
    drain();
    ASSERT_TRUE(answer(second, "inventory.reserved"));
    EXPECT_EQ(status(second), Status::kPendingPayment) << "deferred at once, no step timeout";
    auto sent = drain();
    if (mode == Coordination::kOrchestration) {
      EXPECT_EQ(sent, (std::vector<std::string>{"payment.charge_requested", "order.payment_pending"}))
          << "the charge is still queued";
    } else {
      EXPECT_EQ(sent, std::vector<std::string>{"order.payment_pending"});
    }
    EXPECT_EQ(service_->saga(second.id)->timeline.back().status, StepStatus::kDeferred);

    // The payment service is back: the queued charges are answered, the orders go on.
    ASSERT_TRUE(answer(second, "payment.processed", R"({"status":"captured"})"));
    EXPECT_EQ(service_->saga(second.id)->current, Step::kShip);
    circuit_now += 199ms;
    auto early = place();
    drain();
    ASSERT_TRUE(answer(early, "inventory.reserved"));
    EXPECT_EQ(status(early), Status::kPendingPayment) << "still open 1ms before the recovery timeout";
    drain();
    circuit_now += 1ms;  // the recovery timeout is up
    auto third = place();
    drain();
    ASSERT_TRUE(answer(third, "inventory.reserved"));
    EXPECT_EQ(status(third), Status::kPending) << "half-open: a trial charge goes through normally";
    ASSERT_TRUE(answer(third, "payment.processed", R"({"status":"captured"})"));
    auto fourth = place();
    drain();
    ASSERT_TRUE(answer(fourth, "inventory.reserved"));
    EXPECT_EQ(status(fourth), Status::kPending) << "closed again";
    drain();
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, SagaCoordinatorTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& test_info) { return test_info.param; });

}  // namespace
}  // namespace mercato::order
