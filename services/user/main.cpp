// The user service: users in the service's own database (SQLite, or PostgreSQL with database.url),
// behind the REST API in api/; every change published as an event through the transactional outbox.
#include "adapters/postgres_user_repository.hpp"
#include "adapters/sqlite_user_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/events/bus.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/storage.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "user", [](service::Context& ctx) {
    auto [repository, event_store] = storage::open_repository_with_events<user::UserRepository>(
        ctx, {.sqlite = [](sqlite::Database& db) { return std::make_unique<user::SqliteUserRepository>(db); },
              .postgres =
                  [](postgres::Database& db) { return std::make_unique<user::PostgresUserRepository>(db); }});
    auto& users = ctx.own(std::make_unique<user::UserService>(repository));
    user::register_routes(ctx.router(), users);
    // Publishes user.registered / user.updated from the outbox; consumes nothing yet.
    auto& bus = events::attach(ctx, event_store);
    if (auto r = bus.start(); !r)
      throw std::runtime_error("cannot start the event bus: " + r.error().message);
  });
}
