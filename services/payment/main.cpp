// The payment service: charges (simulated card processor, Idempotency-Key) and refunds in the service's
// own database (SQLite, or PostgreSQL with database.url), behind the REST API in api/.
#include "adapters/postgres_payment_repository.hpp"
#include "adapters/simulated_card_processor.hpp"
#include "adapters/sqlite_payment_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "payment", [](service::Context& ctx) {
    // database.url = postgres://... selects PostgreSQL; otherwise SQLite at database.path.
    auto db_config = ctx.config().section("database");
    auto url = db_config.string("url", "");
    auto connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64));
    auto path = db_config.string("path", "var/payment/payment.db");
    payment::PaymentRepository* chosen = nullptr;
    if (postgres::is_postgres_url(url)) {
      auto& db = ctx.own(postgres::Database::open({.url = url, .connections = connections}));
      chosen = &ctx.own(std::make_unique<payment::PostgresPaymentRepository>(db));
    } else if (url.empty()) {
      auto& db = ctx.own(sqlite::Database::open({.path = path, .connections = connections}));
      chosen = &ctx.own(std::make_unique<payment::SqlitePaymentRepository>(db));
    } else {
      throw config::ConfigError("config key 'database.url': expected postgres://... (or no url for SQLite)");
    }
    auto& repository = *chosen;
    auto settings = ctx.config().section("payment");
    auto retention = settings.duration("idempotency_retention", std::chrono::hours(48));
    auto& processor = ctx.own(
        std::make_unique<payment::SimulatedCardProcessor>(settings.duration("processor_latency", {})));
    auto& payments = ctx.own(std::make_unique<payment::PaymentService>(repository, processor));
    if (auto purged = payments.recover_keys(retention); !purged) {
      const auto& e = purged.error();
      if (e.code == ErrorCode::kValidationFailed) throw config::ConfigError(e.field + ": " + e.message);
      throw std::runtime_error("cannot purge idempotency keys: " + e.message);
    }
    ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
    payment::register_routes(ctx.router(), payments);
  });
}
