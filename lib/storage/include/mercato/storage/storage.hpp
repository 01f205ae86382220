// Choosing a service's storage engine by configuration, never by code. The `database` section says:
//   url = postgres://... → PostgreSQL;  url = redis://... → Redis;  no url → SQLite at `path`
// (default var/<service>/<service>.db), with `connections` pooled connections (default 1 on SQLite and
// Redis, 4 on PostgreSQL). The SQL engines' pool use is exported as mercato_db_pool_* gauges.
// A service gives its one SQL repository (written over lib/sql, it runs on SQLite and PostgreSQL) and,
// where it has one, its Redis repository; open_repository opens the engine, keeps it alive until the
// server has stopped, adds the "database" readiness check, and stops the process with a message naming
// database.url when the engine is one the service does not support.
//
//   auto& orders = storage::open_repository<order::OrderRepository>(ctx, {
//       .sql = [](sql::Database& db) { return std::make_unique<order::SqlOrderRepository>(db); },
//   });
//
// The repository needs a `Result<void> ping()`. Thread-safety: start-up only (inside the setup function).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mercato/events/store.hpp"
#include "mercato/redis/redis.hpp"
#include "mercato/service/blocking.hpp"
#include "mercato/service/service.hpp"
#include "mercato/sql/pool_metrics.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::storage {

enum class Engine { kSqlite, kPostgres, kRedis };

struct Settings {
  Engine engine = Engine::kSqlite;
  std::string url;
  std::string path;
  std::size_t connections = 1;
  std::string key_prefix;  // Redis only: the prefix of every key this service writes
  // database.offload (auto | on | off): whether the service's HTTP handlers run on a storage pool of
  // `connections` threads instead of the I/O thread (service.hpp, Context::storage_pool). auto: on for a
  // network database (PostgreSQL, Redis), whose round trips and lock waits would otherwise stall every
  // connection of the I/O thread; off for SQLite, a local file whose statements take microseconds and
  // would pay two thread hand-offs for nothing (docs/benchmarks.md, 17).
  bool offload = false;
  std::size_t max_waiting = 256;  // database.max_waiting: handlers queued or running; more get 503
  // database.group_commit (SQLite with offload on): the storage pool runs the calls queued for it as one
  // transaction, up to this many (service/blocking.hpp, "Group commit"); 1: each call alone.
  std::size_t group_commit = 64;
  // database.page_size (SQLite): the page size of a database file start-up creates; an existing file
  // keeps its own (sqlite::DatabaseSettings::page_size).
  std::size_t page_size = 2048;
};

// Reads the `database` section. `key_prefix` is read (default `default_key_prefix`) only when the
// service supports Redis; an engine it does not support is a config::ConfigError naming database.url.
Settings read_settings(const service::Context& ctx, bool supports_postgres, bool supports_redis,
                       const std::string& default_key_prefix = {});

// Gives `ctx` its storage pool (database.offload; service.hpp, Context::storage_pool) with its gauges:
//   mercato_storage_pool_threads          the pool's threads (database.connections)
//   mercato_storage_pool_waiting          handlers queued or running on it now
//   mercato_storage_pool_refused_total    handlers refused with 503 because database.max_waiting were in it
//   mercato_storage_pool_groups_total      groups of calls run as one transaction (SQLite, group_commit)
//   mercato_storage_pool_grouped_total     calls run in such a group
// `db`: the SQLite database whose one connection the pool's calls share; with it (and group_commit > 1)
// the pool runs the calls queued meanwhile as one transaction (sql::Database::group).
void offload_to_storage_pool(service::Context& ctx, const Settings& s, sql::Database* db = nullptr);

template <typename Repository>
struct Adapters {
  // SQLite and PostgreSQL: one repository over lib/sql (mercato/sql/sql.hpp).
  std::function<std::unique_ptr<Repository>(sql::Database&)> sql;
  std::function<std::unique_ptr<Repository>(redis::Client&, const std::string& key_prefix)> redis;
  // On Redis, the event store: it must live in Redis too, written by the repository's own scripts,
  // since Redis has no transaction spanning it and anything else (see services/inventory).
  std::function<std::unique_ptr<events::EventStore>(redis::Client&, const std::string& key_prefix)>
      redis_events;
  std::string default_key_prefix;  // for Redis, e.g. "mercato:inventory:"
};

template <typename Repository>
struct WithEvents {
  Repository& repository;
  events::EventStore& events;  // the outbox, inbox and dead letters, in the same database
};

// Opens the engine and builds the repository and the event store on the same database, so a
// repository's transaction can append to the outbox and record the inbox (events/store.hpp). On Redis
// the store comes from `adapters.redis_events` (docs/adr/0006-events.md).
template <typename Repository>
WithEvents<Repository> open_repository_with_events(service::Context& ctx,
                                                   const Adapters<Repository>& adapters) {
  auto s =
      read_settings(ctx, adapters.sql != nullptr, adapters.redis != nullptr, adapters.default_key_prefix);
  std::unique_ptr<Repository> repository;
  std::unique_ptr<events::EventStore> store;
  sql::Database* sql_db = nullptr;
  if (s.engine == Engine::kRedis) {
    auto& client = ctx.own(redis::Client::open({.url = s.url, .connections = s.connections}));
    repository = adapters.redis(client, s.key_prefix);
    if (!adapters.redis_events) {
      throw config::ConfigError("config key 'database.url': the " + ctx.name() +
                                " service keeps no event store on Redis");
    }
    store = adapters.redis_events(client, s.key_prefix);
  } else {
    auto& db = ctx.own(
        s.engine == Engine::kPostgres
            ? sql::Database::open(postgres::DatabaseSettings{.url = s.url, .connections = s.connections})
            : sql::Database::open(sqlite::DatabaseSettings{
                  .path = s.path, .connections = s.connections, .page_size = s.page_size}));
    // The pool's use as gauges, mercato_db_pool_*{database="<service>"} (sql/pool_metrics.hpp).
    sql::export_pool_metrics(db, ctx.metrics(), {{"database", ctx.name()}});
    repository = adapters.sql(db);
    store = events::open_store(db);
    sql_db = &db;
  }
  Repository& chosen = ctx.own(std::move(repository));
  ctx.add_readiness_check("database", [&chosen] { return chosen.ping(); });
  if (s.offload && ctx.storage_pool() == nullptr)
    offload_to_storage_pool(ctx, s, s.engine == Engine::kSqlite ? sql_db : nullptr);
  return {chosen, ctx.own(std::move(store))};
}

// Opens the engine and builds the repository, when the caller needs only the repository.
template <typename Repository>
Repository& open_repository(service::Context& ctx, const Adapters<Repository>& adapters) {
  return open_repository_with_events(ctx, adapters).repository;
}

}  // namespace mercato::storage
