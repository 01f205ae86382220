// The inventory service: stock per product and reservations per order in the service's own SQLite
// database, or on PostgreSQL or Redis when database.url says so, behind the REST API in api/; every
// change published as an event through the transactional outbox, and the order saga's commands answered
// (docs/saga.md).
#include "module.hpp"

#include "adapters/redis_event_store.hpp"
#include "adapters/redis_inventory_repository.hpp"
#include "adapters/sql_inventory_repository.hpp"
#include "api/grpc_service.hpp"
#include "api/handlers.hpp"
#include "app/saga_handlers.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/grpc.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/service/saga.hpp"
#include "mercato/storage/storage.hpp"

namespace mercato::inventory {

void set_up(service::Context& ctx) {
  // Inbox records on Redis expire after the retention the bus purges SQL inboxes with.
  inventory::RedisEventStoreSettings redis_events;
  redis_events.retention = ctx.config().section("events").duration("retention", std::chrono::hours(24));
  auto [repository, event_store] = storage::open_repository_with_events<inventory::InventoryRepository>(
      ctx, {.sql = [](sql::Database& db) { return std::make_unique<inventory::SqlInventoryRepository>(db); },
            .redis =
                [](redis::Client& client, const std::string& prefix) {
                  return std::make_unique<inventory::RedisInventoryRepository>(client, prefix);
                },
            // On Redis the outbox lives in Redis itself, written by the repository's scripts: only a store
            // the change's own script writes to makes the change and its events atomic.
            .redis_events =
                [redis_events](redis::Client& client, const std::string& prefix) {
                  return std::make_unique<inventory::RedisEventStore>(client, prefix, redis_events);
                },
            .default_key_prefix = std::string(inventory::kDefaultRedisKeyPrefix)});
  auto& stock = ctx.own(std::make_unique<inventory::InventoryService>(repository));
  auto& identity = service::attach_identity(ctx);
  inventory::register_routes(ctx.router(), stock, identity);
  // The catalog's prices for other services over gRPC (api/inventory.proto), on the same port.
  service::grpc_server(ctx).add(ctx.own(std::make_unique<inventory::CatalogGrpc>(
      service::grpc_server(ctx), stock, identity, ctx.storage_pool())));
  // Publishes inventory.reserved / committed / released / product_updated (app/inventory_events.hpp).
  // Owned before the bus is attached, so it outlives the bus's consumers (ctx destroys in reverse).
  auto& saga = ctx.own(std::make_unique<inventory::SagaHandlers>(stock, event_store, ctx.name()));
  auto& bus = events::attach(ctx, event_store);
  // Choreography (docs/saga.md), only when this system's sagas are choreographed
  // (mercato/service/saga.hpp): a choreographed order's own events are its commands.
  if (service::read_saga_mode(ctx.config().section("saga")) == service::SagaMode::kChoreography) {
    bus.on("order.created", [&saga](const events::CloudEvent& e) { return saga.on_order_created(e); });
    bus.on("order.confirmed", [&saga](const events::CloudEvent& e) { return saga.on_order_confirmed(e); });
    bus.on("order.cancelled", [&saga](const events::CloudEvent& e) { return saga.on_order_cancelled(e); });
  }
  // The order saga's commands, each answered once on the outbox (app/saga_handlers.hpp).
  bus.on("inventory.reserve_requested",
         [&saga](const events::CloudEvent& e) { return saga.on_reserve_requested(e); });
  bus.on("inventory.commit_requested",
         [&saga](const events::CloudEvent& e) { return saga.on_commit_requested(e); });
  bus.on("inventory.release_requested",
         [&saga](const events::CloudEvent& e) { return saga.on_release_requested(e); });
  if (auto r = bus.start(); !r) throw std::runtime_error("cannot start the event bus: " + r.error().message);
}

}  // namespace mercato::inventory
