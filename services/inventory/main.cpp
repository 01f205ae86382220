// The inventory service: stock per product and reservations per order in the service's own SQLite
// database, or on PostgreSQL or Redis when database.url says so, behind the REST API in api/; every
// change published as an event through the transactional outbox.
#include "adapters/postgres_inventory_repository.hpp"
#include "adapters/redis_event_store.hpp"
#include "adapters/redis_inventory_repository.hpp"
#include "adapters/sqlite_inventory_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/storage.hpp"

namespace {

using namespace mercato;

// On Redis the outbox lives in Redis itself, written by the repository's scripts (redis_event_store.hpp),
// not in the SQLite side file open_repository_with_events gives a Redis service: only a store the
// change's own script writes to makes the change and its events atomic.
storage::WithEvents<inventory::InventoryRepository> open_on_redis(service::Context& ctx,
                                                                  const storage::Settings& settings) {
  auto& client = ctx.own(redis::Client::open({.url = settings.url, .connections = settings.connections}));
  auto& repository =
      ctx.own(std::make_unique<inventory::RedisInventoryRepository>(client, settings.key_prefix));
  ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
  inventory::RedisEventStoreSettings store_settings;
  // Inbox records expire after the retention the bus purges SQL inboxes with (events.retention).
  store_settings.retention = ctx.config().section("events").duration("retention", std::chrono::hours(24));
  auto& store =
      ctx.own(std::make_unique<inventory::RedisEventStore>(client, settings.key_prefix, store_settings));
  return {repository, store};
}

}  // namespace

int main(int argc, char** argv) {
  return service::run(argc, argv, "inventory", [](service::Context& ctx) {
    const std::string default_prefix(inventory::kDefaultRedisKeyPrefix);
    auto settings = storage::read_settings(ctx, true, true, default_prefix);
    auto [repository, event_store] =
        settings.engine == storage::Engine::kRedis
            ? open_on_redis(ctx, settings)
            : storage::open_repository_with_events<inventory::InventoryRepository>(
                  ctx, {.sqlite =
                            [](sqlite::Database& db) {
                              return std::make_unique<inventory::SqliteInventoryRepository>(db);
                            },
                        .postgres =
                            [](postgres::Database& db) {
                              return std::make_unique<inventory::PostgresInventoryRepository>(db);
                            },
                        .default_key_prefix = default_prefix});
    auto& stock = ctx.own(std::make_unique<inventory::InventoryService>(repository));
    inventory::register_routes(ctx.router(), stock);
    // Publishes inventory.reserved / committed / released / product_updated (app/inventory_events.hpp).
    auto& bus = events::attach(ctx, event_store);
    // Seen and recorded once; reserving stock on it is the saga's step (docs/events.md).
    bus.record_only("order.created");
    if (auto r = bus.start(); !r)
      throw std::runtime_error("cannot start the event bus: " + r.error().message);
  });
}
