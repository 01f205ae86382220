// The user service: users in the service's own SQLite database, behind the REST API in api/.
#include "adapters/sqlite_user_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "user", [](service::Context& ctx) {
    auto db_config = ctx.config().section("database");
    auto& db = ctx.own(sqlite::Database::open({
        .path = db_config.string("path", "var/user/user.db"),
        .connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64)),
    }));
    auto& repository = ctx.own(std::make_unique<user::SqliteUserRepository>(db));
    auto& users = ctx.own(std::make_unique<user::UserService>(repository));
    ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
    user::register_routes(ctx.router(), users);
  });
}
