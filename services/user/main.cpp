// The user service: users in the service's own SQLite database, behind the REST API in api/.
#include "adapters/postgres_user_repository.hpp"
#include "adapters/sqlite_user_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"
#include "mercato/storage/storage.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "user", [](service::Context& ctx) {
    auto& repository = storage::open_repository<user::UserRepository>(
        ctx, {.sqlite = [](sqlite::Database& db) { return std::make_unique<user::SqliteUserRepository>(db); },
              .postgres =
                  [](postgres::Database& db) { return std::make_unique<user::PostgresUserRepository>(db); }});
    auto& users = ctx.own(std::make_unique<user::UserService>(repository));
    user::register_routes(ctx.router(), users);
  });
}
