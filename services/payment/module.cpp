// The payment service: charges (simulated card processor, Idempotency-Key) and refunds in the service's
// own database (SQLite, or PostgreSQL with database.url), behind the REST API in api/; every recorded
// charge and refund published as an event through the transactional outbox; the order saga's charge and
// refund commands handled and answered (app/saga_handlers.hpp).
#include "module.hpp"

#include "adapters/simulated_card_processor.hpp"
#include "adapters/sql_payment_repository.hpp"
#include "api/handlers.hpp"
#include "app/payment_settings.hpp"
#include "app/saga_handlers.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/service/saga.hpp"
#include "mercato/storage/storage.hpp"

namespace mercato::payment {

void set_up(service::Context& ctx) {
  auto [repository, event_store] = storage::open_repository_with_events<payment::PaymentRepository>(
      ctx, {.sql = [](sql::Database& db) { return std::make_unique<payment::SqlPaymentRepository>(db); }});
  auto settings = payment::read_settings(ctx.config().section("payment"));
  auto& processor = ctx.own(std::make_unique<payment::SimulatedCardProcessor>(settings.processor_latency));
  auto& payments = ctx.own(std::make_unique<payment::PaymentService>(repository, processor));
  if (auto purged = payments.recover_keys(settings.idempotency_retention); !purged) {
    const auto& e = purged.error();
    if (e.code == ErrorCode::kValidationFailed) throw config::ConfigError(e.field + ": " + e.message);
    throw std::runtime_error("cannot purge idempotency keys: " + e.message);
  }
  payment::register_routes(ctx.router(), payments, service::attach_identity(ctx));
  // Publishes payment.processed / payment.refunded from the outbox (app/payment_events.hpp).
  auto& bus = events::attach(ctx, event_store);
  // The order saga's commands (docs/saga.md), answered through the same outbox.
  auto& saga = ctx.own(std::make_unique<payment::SagaHandlers>(payments, event_store, ctx.name()));
  // Choreography (only when this system's sagas are choreographed: mercato/service/saga.hpp): a
  // choreographed order is charged once both of these have come, in either order.
  if (service::read_saga_mode(ctx.config().section("saga")) == service::SagaMode::kChoreography) {
    bus.on("order.created", [&saga](const events::CloudEvent& e) { return saga.on_order_created(e); });
    bus.on("inventory.reserved",
           [&saga](const events::CloudEvent& e) { return saga.on_inventory_reserved(e); });
    bus.on("order.cancelled", [&saga](const events::CloudEvent& e) { return saga.on_order_cancelled(e); });
  }
  bus.on("payment.charge_requested",
         [&saga](const events::CloudEvent& e) { return saga.on_charge_requested(e); });
  bus.on("payment.refund_requested",
         [&saga](const events::CloudEvent& e) { return saga.on_refund_requested(e); });
  if (auto r = bus.start(); !r) throw std::runtime_error("cannot start the event bus: " + r.error().message);
}

}  // namespace mercato::payment
