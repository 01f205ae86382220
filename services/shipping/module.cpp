// The shipping service: one shipment per order in the service's own SQLite database, behind the REST
// API in api/ (contract: api/shipping.yaml); every change published as an event through the
// transactional outbox; the order saga's create and cancel commands handled and answered.
#include "module.hpp"

#include "adapters/sql_shipment_repository.hpp"
#include "api/handlers.hpp"
#include "app/saga_handlers.hpp"
#include "app/shipping_settings.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/service/saga.hpp"
#include "mercato/storage/storage.hpp"

namespace mercato::shipping {

void set_up(service::Context& ctx) {
  // SQLite, or PostgreSQL with database.url; the outbox in the same database (lib/storage).
  auto [repository, event_store] = storage::open_repository_with_events<shipping::ShipmentRepository>(
      ctx, {.sql = [](sql::Database& db) { return std::make_unique<shipping::SqlShipmentRepository>(db); }});
  auto& shipments = ctx.own(std::make_unique<shipping::ShippingService>(
      repository, shipping::read_settings(ctx.config().section("shipping"))));
  shipping::register_routes(ctx.router(), shipments, service::attach_identity(ctx));
  // Publishes shipment.created / shipment.cancelled from the outbox, and answers the order saga's
  // commands through it (app/saga_handlers.hpp).
  auto& bus = events::attach(ctx, event_store);
  auto& saga = ctx.own(std::make_unique<shipping::SagaHandlers>(shipments, event_store, ctx.name()));
  bus.on("shipment.create_requested",
         [&saga](const events::CloudEvent& e) { return saga.on_create_requested(e); });
  bus.on("shipment.cancel_requested",
         [&saga](const events::CloudEvent& e) { return saga.on_cancel_requested(e); });
  // Choreography (only when this system's sagas are choreographed: mercato/service/saga.hpp): a
  // choreographed order ships once both of these have come, in either order.
  if (service::read_saga_mode(ctx.config().section("saga")) == service::SagaMode::kChoreography) {
    bus.on("order.created", [&saga](const events::CloudEvent& e) { return saga.on_order_created(e); });
    bus.on("payment.processed",
           [&saga](const events::CloudEvent& e) { return saga.on_payment_processed(e); });
    bus.on("order.cancelled", [&saga](const events::CloudEvent& e) { return saga.on_order_cancelled(e); });
  }
  if (auto r = bus.start(); !r) throw std::runtime_error("cannot start the event bus: " + r.error().message);
}

}  // namespace mercato::shipping
