// The order service: orders in its own database (SQLite, or PostgreSQL with database.url); customers
// checked against the user service and prices taken from the inventory service when an order is placed;
// every change published as an event through the transactional outbox.
#include "module.hpp"

#include "adapters/grpc_directory.hpp"
#include "adapters/http_directory.hpp"
#include "adapters/sql_order_repository.hpp"
#include "adapters/sql_read_models.hpp"
#include "api/handlers.hpp"
#include "app/admission.hpp"
#include "app/cqrs_settings.hpp"
#include "app/projector.hpp"
#include "app/saga_coordinator.hpp"
#include "app/saga_settings.hpp"
#include "mercato/core/periodic.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/grpc.hpp"
#include "mercato/service/identity.hpp"
#include "mercato/storage/storage.hpp"

namespace mercato::order {
namespace {

// Live configuration of the calls to one service (README "Live configuration"): order.<name>.timeout,
// .retries and .circuit_breaker.{failure_threshold, recovery_timeout, success_threshold}, each read by
// the getter the file's value is read with (resilience::read_upstream_settings); a removed key brings
// the file's value back.
void add_live_call_settings(service::Context& ctx, const std::string& name, resilience::Upstream& upstream) {
  const auto file = upstream.settings();
  const std::string prefix = "order." + name + ".";
  ctx.add_live_setting(
      prefix + "timeout",
      [&upstream, file, key = prefix + "timeout"](const std::optional<std::string>& value) -> Result<void> {
        auto timeout = file.timeout;
        if (value) {
          MERCATO_ASSIGN_OR_RETURN(
              timeout, service::live_value<std::chrono::milliseconds>(
                           key, *value, [](const config::Section& s) { return s.duration("timeout", {}); }));
        }
        upstream.set_timeout(timeout);
        return {};
      });
  ctx.add_live_setting(
      prefix + "retries",
      [&upstream, file, key = prefix + "retries"](const std::optional<std::string>& value) -> Result<void> {
        auto attempts = file.retries.attempts;
        if (value) {
          MERCATO_ASSIGN_OR_RETURN(
              auto retries, service::live_value<std::int64_t>(key, *value, [](const config::Section& s) {
                return s.integer("retries", 1, 0, 5);
              }));
          attempts = static_cast<int>(retries) + 1;
        }
        upstream.set_attempts(attempts);
        return {};
      });
  // One breaker threshold: read, put into a copy of the breaker's settings, validated whole.
  using Read = std::function<void(const config::Section&, resilience::BreakerSettings&)>;
  using Restore = std::function<void(const resilience::BreakerSettings& file, resilience::BreakerSettings&)>;
  auto breaker_key = [&](const std::string& leaf, const Read& read, const Restore& restore) {
    auto key = prefix + "circuit_breaker." + leaf;
    ctx.add_live_setting(
        key, [&upstream, file, key, read, restore](const std::optional<std::string>& value) -> Result<void> {
          auto settings = upstream.breaker().settings();
          if (!value) {
            restore(file.breaker, settings);
          } else {
            MERCATO_ASSIGN_OR_RETURN(settings, service::live_value<resilience::BreakerSettings>(
                                                   key, *value, [&](const config::Section& s) {
                                                     auto changed = settings;
                                                     read(s, changed);
                                                     return changed;
                                                   }));
          }
          if (auto valid = settings.validate(); !valid) return Error::validation(key, valid.error().message);
          upstream.breaker().set_settings(settings);
          return {};
        });
  };
  breaker_key(
      "failure_threshold",
      [](const config::Section& s, auto& b) {
        b.failure_threshold = static_cast<int>(s.integer("failure_threshold", 5, 1, 1'000'000));
      },
      [](const auto& f, auto& b) { b.failure_threshold = f.failure_threshold; });
  breaker_key(
      "recovery_timeout",
      [](const config::Section& s, auto& b) {
        b.recovery_timeout = s.duration("recovery_timeout", std::chrono::seconds(10));
      },
      [](const auto& f, auto& b) { b.recovery_timeout = f.recovery_timeout; });
  breaker_key(
      "success_threshold",
      [](const config::Section& s, auto& b) {
        b.success_threshold = static_cast<int>(s.integer("success_threshold", 1, 1, 1'000'000));
      },
      [](const auto& f, auto& b) { b.success_threshold = f.success_threshold; });
}

// Live configuration of admission control's limits: admission.max_backlog_time, .min_backlog and
// .max_backlog, each read by the getter the file's value is read with, the three checked together
// (validate) and max_backlog_time against the step timeout in force, a removed key bringing the file's
// value back.
void add_live_admission_settings(service::Context& ctx, Admission& admission, const AdmissionLimits& file,
                                 const SagaCoordinator& sagas) {
  using Read = std::function<void(const config::Section&, AdmissionLimits&)>;
  using Restore = std::function<void(const AdmissionLimits& file, AdmissionLimits&)>;
  auto limit_key = [&](const std::string& leaf, const Read& read, const Restore& restore) {
    auto key = "admission." + leaf;
    ctx.add_live_setting(
        key,
        [&admission, &sagas, file, key, read,
         restore](const std::optional<std::string>& value) -> Result<void> {
          auto limits = admission.limits();
          if (!value) {
            restore(file, limits);
          } else {
            MERCATO_ASSIGN_OR_RETURN(
                limits, service::live_value<AdmissionLimits>(key, *value, [&](const config::Section& s) {
                  auto changed = limits;
                  read(s, changed);
                  return changed;
                }));
          }
          if (auto valid = validate(limits); !valid) return Error::validation(key, valid.error().message);
          if (limits.max_backlog_time >= sagas.timeouts().step) {
            return Error::validation(key, key + ": must stay below saga.step_timeout (" +
                                              std::to_string(sagas.timeouts().step.count()) + "ms)");
          }
          admission.set_limits(limits);
          return {};
        });
  };
  limit_key(
      "max_backlog_time",
      [](const config::Section& s, auto& l) { l.max_backlog_time = s.duration("max_backlog_time", {}); },
      [](const auto& f, auto& l) { l.max_backlog_time = f.max_backlog_time; });
  limit_key(
      "min_backlog",
      [](const config::Section& s, auto& l) { l.min_backlog = s.integer("min_backlog", 1, 1, 100'000'000); },
      [](const auto& f, auto& l) { l.min_backlog = f.min_backlog; });
  limit_key(
      "max_backlog",
      [](const config::Section& s, auto& l) { l.max_backlog = s.integer("max_backlog", 1, 1, 100'000'000); },
      [](const auto& f, auto& l) { l.max_backlog = f.max_backlog; });
}

}  // namespace

void set_up(service::Context& ctx) {
  auto cqrs = order::read_cqrs_settings(ctx.config().section("cqrs"));
  sql::Database* database = nullptr;
  auto [repository, event_store] = storage::open_repository_with_events<order::OrderRepository>(
      ctx, {.sql = [&](sql::Database& db) {
        database = &db;
        return std::make_unique<order::SqlOrderRepository>(
            db, order::RepositorySettings{.snapshot_every = cqrs.snapshot_every});
      }});
  // The read side: the read models beside the streams, kept current by the projector.
  auto& read_models = ctx.own(std::make_unique<order::SqlReadModels>(*database, &ctx.metrics()));
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
    add_live_call_settings(ctx, name, u);
    return u;
  };
  auto& identity = service::attach_identity(ctx);
  auto users = transport_of("user");
  auto& customers =
      users == Transport::kGrpc
          ? static_cast<order::CustomerDirectory&>(ctx.own(std::make_unique<order::GrpcCustomerDirectory>(
                upstream("user", users), service::grpc_channels(ctx), identity)))
          : ctx.own(std::make_unique<order::HttpCustomerDirectory>(upstream("user", users), identity));
  auto inventory = transport_of("inventory");
  auto& catalog = inventory == Transport::kGrpc
                      ? static_cast<order::Catalog&>(ctx.own(std::make_unique<order::GrpcCatalog>(
                            upstream("inventory", inventory), service::grpc_channels(ctx))))
                      : ctx.own(std::make_unique<order::HttpCatalog>(upstream("inventory", inventory)));
  auto saga = order::read_saga_settings(ctx.config().section("saga"));
  // Admission control (ADR 0018) bounds the sagas in flight, so only with sagas (mode: none has none).
  auto admit = order::read_admission_settings(ctx.config().section("admission"));
  order::Admission* admission = nullptr;
  if (saga.coordination && admit.enabled) {
    if (admit.limits.max_backlog_time >= saga.timeouts.step) {
      // An order admitted behind that much work would see its steps time out in the queue.
      throw config::ConfigError("config key 'admission.max_backlog_time' must be below saga.step_timeout");
    }
    auto running = repository.count_running_sagas();
    if (!running) throw std::runtime_error("cannot count the sagas in flight: " + running.error().message);
    admission = &ctx.own(std::make_unique<order::Admission>(admit, *running, &ctx.metrics()));
  }
  order::SagaCoordinator* sagas = nullptr;
  if (saga.coordination) {
    sagas = &ctx.own(std::make_unique<order::SagaCoordinator>(repository, saga.timeouts, &ctx.metrics(),
                                                              *saga.coordination, saga.payment_circuit,
                                                              resilience::Clock::now, admission));
  }
  if (admission != nullptr) add_live_admission_settings(ctx, *admission, admit.limits, *sagas);
  if (sagas != nullptr) {
    // Live configuration: the saga's step timeout and order deadline (read as the file reads them).
    auto live_timeout = [sagas, admission, file = saga.timeouts](std::string key,
                                                                 auto field) -> service::LiveSetting {
      return [sagas, admission, file, key, field](const std::optional<std::string>& value) -> Result<void> {
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
        if (admission != nullptr && timeouts.step <= admission->limits().max_backlog_time) {
          return Error::validation(key, key + ": must stay above admission.max_backlog_time (" +
                                            std::to_string(admission->limits().max_backlog_time.count()) +
                                            "ms)");
        }
        sagas->set_timeouts(timeouts);
        return {};
      };
    };
    ctx.add_live_setting("saga.step_timeout", live_timeout("saga.step_timeout", &order::SagaTimeouts::step));
    ctx.add_live_setting("saga.order_deadline",
                         live_timeout("saga.order_deadline", &order::SagaTimeouts::order));
  }
  auto& orders = ctx.own(std::make_unique<order::OrderService>(repository, customers, catalog, sagas,
                                                               admission, ctx.tracer(), ctx.storage_pool()));
  const auto& log = ctx.logger();
  // With projector: false this instance serves queries from what other instances project (a shared
  // PostgreSQL database); a rebuild asked of it still runs here.
  auto& projector = ctx.own(std::make_unique<order::Projector>(
      read_models, cqrs.projector ? std::optional(cqrs.projector_poll) : std::nullopt, cqrs.projector_delay,
      [&log](const Error& e) {
        log.warn("the read models could not be brought up to date; retrying", {{"error", e.message}});
      }));
  order::register_routes(ctx.router(), orders, read_models, projector, identity, ctx.storage_pool());
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
  if (admission != nullptr) {
    // The database's count corrects the in-memory backlog for what other instances sharing it placed and
    // finished (and for anything this one missed); between recounts the backlog moves in memory.
    const auto& logger = ctx.logger();
    auto* stored = &repository;  // (a structured binding: captured through a pointer)
    ctx.own(std::make_unique<core::Periodic>(admit.recount, [stored, admission, &logger] {
      auto running = stored->count_running_sagas();
      if (!running) {
        logger.warn("the sagas in flight could not be counted; retrying",
                    {{"error", running.error().message}});
        return;
      }
      admission->recounted(*running);
    }));
  }
}

}  // namespace mercato::order
