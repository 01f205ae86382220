// The order service: orders in its own database (SQLite, or PostgreSQL with database.url); customers
// checked against the user service and prices taken from the inventory service when an order is placed;
// every change published as an event through the transactional outbox.
#include "module.hpp"

#include "adapters/grpc_directory.hpp"
#include "adapters/http_directory.hpp"
#include "adapters/sql_order_repository.hpp"
#include "api/handlers.hpp"
#include "app/saga_coordinator.hpp"
#include "app/saga_settings.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/storage/storage.hpp"

namespace mercato::order {

void set_up(service::Context& ctx) {
  auto [repository, event_store] = storage::open_repository_with_events<order::OrderRepository>(
      ctx, {.sql = [](sql::Database& db) { return std::make_unique<order::SqlOrderRepository>(db); }});
  // The user and inventory services, each behind a circuit breaker (order.user, order.inventory), over
  // gRPC (the default) or HTTP: order.<service>.transport.
  auto calls = ctx.config().section("order");
  using Transport = service::Context::Transport;
  auto transport_of = [&](const std::string& name) {
    return calls.section(name).choice("transport", "grpc", {"grpc", "http"}) == "grpc" ? Transport::kGrpc
                                                                                       : Transport::kHttp;
  };
  // Their instances: the configured address, or (discovery.mode etcd) whatever is registered, live.
  auto upstream = [&](const std::string& name, Transport transport) -> resilience::Upstream& {
    auto& u = ctx.own(std::make_unique<resilience::Upstream>(
        resilience::read_upstream_settings(calls.section(name), name), std::vector<http::Endpoint>{},
        ctx.client(), ctx.metrics(), ctx.logger()));
    ctx.watch_upstream(
        name, [&u](std::vector<http::Endpoint> instances) { u.set_instances(std::move(instances)); },
        transport);
    return u;
  };
  auto& identity = service::attach_identity(ctx);
  auto users = transport_of("user");
  auto& customers =
      users == Transport::kGrpc
          ? static_cast<order::CustomerDirectory&>(ctx.own(std::make_unique<order::GrpcCustomerDirectory>(
                upstream("user", users), ctx.grpc_channels(), identity)))
          : ctx.own(std::make_unique<order::HttpCustomerDirectory>(upstream("user", users), identity));
  auto inventory = transport_of("inventory");
  auto& catalog = inventory == Transport::kGrpc
                      ? static_cast<order::Catalog&>(ctx.own(std::make_unique<order::GrpcCatalog>(
                            upstream("inventory", inventory), ctx.grpc_channels())))
                      : ctx.own(std::make_unique<order::HttpCatalog>(upstream("inventory", inventory)));
  auto saga = order::read_saga_settings(ctx.config().section("saga"));
  order::SagaCoordinator* sagas = nullptr;
  if (saga.coordination) {
    sagas = &ctx.own(std::make_unique<order::SagaCoordinator>(repository, saga.timeouts, &ctx.metrics(),
                                                              *saga.coordination, saga.payment_circuit));
  }
  if (sagas != nullptr) {
    // Live configuration: the saga's step timeout and order deadline (read as the file reads them).
    auto live_timeout = [sagas, file = saga.timeouts](std::string key, auto field) -> service::LiveSetting {
      return [sagas, file, key, field](const std::optional<std::string>& value) -> Result<void> {
        auto timeouts = sagas->timeouts();
        if (!value) {
          timeouts.*field = file.*field;
        } else {
          MERCATO_ASSIGN_OR_RETURN(timeouts.*field, service::live_value<std::chrono::milliseconds>(
                                                        key, *value, [&](const config::Section& section) {
                                                          return section.duration(
                                                              key.substr(key.rfind('.') + 1), file.*field);
                                                        }));
        }
        sagas->set_timeouts(timeouts);
        return {};
      };
    };
    ctx.add_live_setting("saga.step_timeout", live_timeout("saga.step_timeout", &order::SagaTimeouts::step));
    ctx.add_live_setting("saga.order_deadline",
                         live_timeout("saga.order_deadline", &order::SagaTimeouts::order));
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
    ctx.own(std::make_unique<order::SagaTicker>(*sagas, saga.tick, [&logger](const Error& e) {
      logger.warn("saga deadlines could not be applied; retrying", {{"error", e.message}});
    }));
  }
}

}  // namespace mercato::order
