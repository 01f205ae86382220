// The order service: orders in its own database (SQLite, or PostgreSQL with database.url); customers
// checked against the user service and prices taken from the inventory service when an order is placed.
#include "adapters/http_directory.hpp"
#include "adapters/postgres_order_repository.hpp"
#include "adapters/sqlite_order_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "order", [](service::Context& ctx) {
    // database.url = postgres://... selects PostgreSQL; otherwise SQLite at database.path.
    auto db_config = ctx.config().section("database");
    auto url = db_config.string("url", "");
    auto connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64));
    auto path = db_config.string("path", "var/order/order.db");
    order::OrderRepository* chosen = nullptr;
    if (postgres::is_postgres_url(url)) {
      auto& db = ctx.own(postgres::Database::open({.url = url, .connections = connections}));
      chosen = &ctx.own(std::make_unique<order::PostgresOrderRepository>(db));
    } else if (url.empty()) {
      auto& db = ctx.own(sqlite::Database::open({.path = path, .connections = connections}));
      chosen = &ctx.own(std::make_unique<order::SqliteOrderRepository>(db));
    } else {
      throw config::ConfigError("config key 'database.url': expected postgres://... (or no url for SQLite)");
    }
    auto& repository = *chosen;
    auto timeout = ctx.config().section("order").duration("upstream_timeout", std::chrono::seconds(2));
    auto& customers =
        ctx.own(std::make_unique<order::HttpCustomerDirectory>(ctx.client(), ctx.upstream("user"), timeout));
    auto& catalog =
        ctx.own(std::make_unique<order::HttpCatalog>(ctx.client(), ctx.upstream("inventory"), timeout));
    auto& orders = ctx.own(std::make_unique<order::OrderService>(repository, customers, catalog));
    ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
    order::register_routes(ctx.router(), orders);
  });
}
