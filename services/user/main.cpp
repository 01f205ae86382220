// The user service: users in the service's own SQLite database, behind the REST API in api/.
#include "adapters/postgres_user_repository.hpp"
#include "adapters/sqlite_user_repository.hpp"
#include "api/handlers.hpp"
#include "mercato/service/service.hpp"

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "user", [](service::Context& ctx) {
    // database.url = postgres://... selects PostgreSQL; otherwise SQLite at database.path.
    auto db_config = ctx.config().section("database");
    auto url = db_config.string("url", "");
    auto connections = static_cast<std::size_t>(db_config.integer("connections", 1, 1, 64));
    auto path = db_config.string("path", "var/user/user.db");
    user::UserRepository* chosen = nullptr;
    if (postgres::is_postgres_url(url)) {
      auto& db = ctx.own(postgres::Database::open({.url = url, .connections = connections}));
      chosen = &ctx.own(std::make_unique<user::PostgresUserRepository>(db));
    } else if (url.empty()) {
      auto& db = ctx.own(sqlite::Database::open({.path = path, .connections = connections}));
      chosen = &ctx.own(std::make_unique<user::SqliteUserRepository>(db));
    } else {
      throw config::ConfigError("config key 'database.url': expected postgres://... (or no url for SQLite)");
    }
    auto& repository = *chosen;
    auto& users = ctx.own(std::make_unique<user::UserService>(repository));
    ctx.add_readiness_check("database", [&repository] { return repository.ping(); });
    user::register_routes(ctx.router(), users);
  });
}
