// The order service: orders in its own database (SQLite, or PostgreSQL with database.url); customers
// checked against the user service and prices taken from the inventory service when an order is placed;
// every change published as an event through the transactional outbox.
#include "module.hpp"

#include "adapters/http_directory.hpp"
#include "adapters/sql_order_repository.hpp"
#include "api/handlers.hpp"
#include "app/saga_coordinator.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/storage/storage.hpp"

namespace mercato::order {

void set_up(service::Context& ctx) {
  auto [repository, event_store] = storage::open_repository_with_events<order::OrderRepository>(
      ctx, {.sql = [](sql::Database& db) { return std::make_unique<order::SqlOrderRepository>(db); }});
  // The user and inventory services, each behind a circuit breaker (order.user, order.inventory).
  auto calls = ctx.config().section("order");
  auto upstream = [&](const std::string& name) -> resilience::Upstream& {
    return ctx.own(std::make_unique<resilience::Upstream>(
        resilience::read_upstream_settings(calls.section(name), name), std::vector{ctx.upstream(name)},
        ctx.client(), ctx.metrics(), ctx.logger()));
  };
  auto& identity = service::attach_identity(ctx);
  auto& customers = ctx.own(std::make_unique<order::HttpCustomerDirectory>(upstream("user"), identity));
  auto& catalog = ctx.own(std::make_unique<order::HttpCatalog>(upstream("inventory")));
  auto saga = ctx.config().section("saga");
  auto mode = saga.choice("mode", "orchestration", {"orchestration", "choreography", "none"});
  order::SagaTimeouts timeouts{.step = saga.duration("step_timeout", std::chrono::seconds(30)),
                               .order = saga.duration("order_deadline", std::chrono::minutes(15))};
  auto tick = saga.duration("tick", std::chrono::milliseconds(250));
  // Read whatever the mode: with `none` the keys are still validated (a typo is refused the same way)
  // and the shipped file, which sets them, starts in every mode.
  auto breaker = saga.section("payment_circuit_breaker");
  resilience::BreakerSettings payment_circuit{
      .failure_threshold = static_cast<int>(breaker.integer("failure_threshold", 3, 1, 1'000'000)),
      .recovery_timeout = breaker.duration("recovery_timeout", std::chrono::seconds(30)),
      .success_threshold = 1};
  order::SagaCoordinator* sagas = nullptr;
  if (mode != "none") {
    sagas = &ctx.own(std::make_unique<order::SagaCoordinator>(
        repository, timeouts, &ctx.metrics(), *order::parse_coordination(mode), payment_circuit));
  }
  auto& orders = ctx.own(std::make_unique<order::OrderService>(repository, customers, catalog, sagas));
  order::register_routes(ctx.router(), orders, identity);
  // Publishes the order's events and the saga's commands from the outbox; consumes the answers.
  auto& bus = events::attach(ctx, event_store);
  if (sagas != nullptr) {
    for (const auto& type : order::SagaCoordinator::answer_types()) {
      bus.on(type, [sagas](const events::CloudEvent& e) { return sagas->on_event(e); });
    }
  }
  if (auto r = bus.start(); !r) throw std::runtime_error("cannot start the event bus: " + r.error().message);
  if (sagas != nullptr) {
    const auto& logger = ctx.logger();
    ctx.own(std::make_unique<order::SagaTicker>(*sagas, tick, [&logger](const Error& e) {
      logger.warn("saga deadlines could not be applied; retrying", {{"error", e.message}});
    }));
  }
}

}  // namespace mercato::order
