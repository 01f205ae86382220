// The inventory service: stock per product and reservations per order in the service's own SQLite
// database, or on PostgreSQL or Redis when database.url says so, behind the REST API in api/.
#include "adapters/postgres_inventory_repository.hpp"
#include "adapters/redis_inventory_repository.hpp"
#include "adapters/sqlite_inventory_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "inventory", [](service::Context& ctx) {
    // database.url = postgres://... selects PostgreSQL, redis://... Redis; otherwise SQLite at database.path.
    auto db_config = ctx.config().section("database");
    auto url = db_config.string("url", "");
    auto connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64));
    auto path = db_config.string("path", "var/inventory/inventory.db");
    auto key_prefix = db_config.string("key_prefix", inventory::kDefaultRedisKeyPrefix);
    inventory::InventoryRepository* chosen = nullptr;
    if (postgres::is_postgres_url(url)) {
      auto& db = ctx.own(postgres::Database::open({.url = url, .connections = connections}));
      chosen = &ctx.own(std::make_unique<inventory::PostgresInventoryRepository>(db));
    } else if (redis::is_redis_url(url)) {
      auto& client = ctx.own(redis::Client::open({.url = url, .connections = connections}));
      chosen = &ctx.own(std::make_unique<inventory::RedisInventoryRepository>(client, key_prefix));
    } else if (url.empty()) {
      auto& db = ctx.own(sqlite::Database::open({.path = path, .connections = connections}));
      chosen = &ctx.own(std::make_unique<inventory::SqliteInventoryRepository>(db));
    } else {
      throw config::ConfigError(
          "config key 'database.url': expected postgres://... or redis://... (or no url for SQLite)");
    }
    auto& repository = *chosen;
    auto& stock = ctx.own(std::make_unique<inventory::InventoryService>(repository));
    ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
    inventory::register_routes(ctx.router(), stock);
  });
}
