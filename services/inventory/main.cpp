// The inventory service: stock per product and reservations per order in the service's own SQLite
// database, behind the REST API in api/.
#include "adapters/sqlite_inventory_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "inventory", [](service::Context& ctx) {
    auto db_config = ctx.config().section("database");
    auto& db = ctx.own(sqlite::Database::open({
        .path = db_config.string("path", "var/inventory/inventory.db"),
        .connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64)),
    }));
    auto& repository = ctx.own(std::make_unique<inventory::SqliteInventoryRepository>(db));
    auto& stock = ctx.own(std::make_unique<inventory::InventoryService>(repository));
    ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
    inventory::register_routes(ctx.router(), stock);
  });
}
