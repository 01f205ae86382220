// The payment service: charges (simulated card processor, Idempotency-Key) and refunds in the service's
// own SQLite database, behind the REST API in api/.
#include "adapters/simulated_card_processor.hpp"
#include "adapters/sqlite_payment_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "payment", [](service::Context& ctx) {
    auto db_config = ctx.config().section("database");
    auto& db = ctx.own(sqlite::Database::open({
        .path = db_config.string("path", "var/payment/payment.db"),
        .connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64)),
    }));
    auto settings = ctx.config().section("payment");
    auto retention = settings.duration("idempotency_retention", std::chrono::hours(48));
    auto& processor = ctx.own(
        std::make_unique<payment::SimulatedCardProcessor>(settings.duration("processor_latency", {})));
    auto& repository = ctx.own(std::make_unique<payment::SqlitePaymentRepository>(db));
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
