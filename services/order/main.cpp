// The order service: orders in its own database (SQLite, or PostgreSQL with database.url); customers
// checked against the user service and prices taken from the inventory service when an order is placed;
// every change published as an event through the transactional outbox.
#include "adapters/http_directory.hpp"
#include "adapters/postgres_order_repository.hpp"
#include "adapters/sqlite_order_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/storage.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "order", [](service::Context& ctx) {
    auto [repository, event_store] = storage::open_repository_with_events<order::OrderRepository>(
        ctx,
        {.sqlite = [](sqlite::Database& db) { return std::make_unique<order::SqliteOrderRepository>(db); },
         .postgres =
             [](postgres::Database& db) { return std::make_unique<order::PostgresOrderRepository>(db); }});
    auto timeout = ctx.config().section("order").duration("upstream_timeout", std::chrono::seconds(2));
    auto& customers =
        ctx.own(std::make_unique<order::HttpCustomerDirectory>(ctx.client(), ctx.upstream("user"), timeout));
    auto& catalog =
        ctx.own(std::make_unique<order::HttpCatalog>(ctx.client(), ctx.upstream("inventory"), timeout));
    auto& orders = ctx.own(std::make_unique<order::OrderService>(repository, customers, catalog));
    order::register_routes(ctx.router(), orders);
    // Publishes order.created / order.cancelled from the outbox; consumes nothing yet.
    auto& bus = events::attach(ctx, event_store);
    if (auto r = bus.start(); !r)
      throw std::runtime_error("cannot start the event bus: " + r.error().message);
  });
}
