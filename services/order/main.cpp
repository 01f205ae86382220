// The order service: orders in its own SQLite database; customers checked against the user service and
// prices taken from the inventory service when an order is placed.
#include "adapters/http_directory.hpp"
#include "adapters/sqlite_order_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "order", [](service::Context& ctx) {
    auto db_config = ctx.config().section("database");
    auto& db = ctx.own(sqlite::Database::open({
        .path = db_config.string("path", "var/order/order.db"),
        .connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64)),
    }));
    auto timeout = ctx.config().section("order").duration("upstream_timeout", std::chrono::seconds(2));
    auto& repository = ctx.own(std::make_unique<order::SqliteOrderRepository>(db));
    auto& customers =
        ctx.own(std::make_unique<order::HttpCustomerDirectory>(ctx.client(), ctx.upstream("user"), timeout));
    auto& catalog =
        ctx.own(std::make_unique<order::HttpCatalog>(ctx.client(), ctx.upstream("inventory"), timeout));
    auto& orders = ctx.own(std::make_unique<order::OrderService>(repository, customers, catalog));
    ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
    order::register_routes(ctx.router(), orders);
  });
}
