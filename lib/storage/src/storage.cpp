#include "mercato/storage/storage.hpp"

namespace mercato::storage {

Settings read_settings(const service::Context& ctx, bool supports_postgres, bool supports_redis,
                       const std::string& default_key_prefix) {
  auto section = ctx.config().section("database");
  Settings s;
  s.url = section.string("url", "");
  s.path = section.string("path", "var/" + ctx.name() + "/" + ctx.name() + ".db");
  // Read even on other engines so a configuration may keep it set while switching engines.
  if (supports_redis) s.key_prefix = section.string("key_prefix", default_key_prefix);
  std::string accepted = "no url for SQLite";
  if (supports_postgres) accepted = "postgres://..., " + accepted;
  if (supports_redis) accepted = "redis://..., " + accepted;
  if (s.url.empty()) {
    s.engine = Engine::kSqlite;
    // No service keeps its data in memory only (docs/adr/0010-sql-layer.md): SQLite would give each
    // pooled connection a database of its own, and the data would vanish at every restart.
    if (s.path.empty() || s.path == ":memory:") {
      throw config::ConfigError("config key 'database.path': must name a file (the " + ctx.name() +
                                " service keeps no data in memory only)");
    }
  } else if (supports_postgres && postgres::is_postgres_url(s.url)) {
    s.engine = Engine::kPostgres;
  } else if (supports_redis && redis::is_redis_url(s.url)) {
    s.engine = Engine::kRedis;
  } else {
    throw config::ConfigError("config key 'database.url': the " + ctx.name() + " service accepts " +
                              accepted);
  }
  // SQLite is fastest with one connection holding the file's lock; a PostgreSQL pool of one would make
  // the event consumers' partitions (each on its own thread) wait for each other's commits.
  std::int64_t default_connections = s.engine == Engine::kPostgres ? 4 : 1;
  s.connections = static_cast<std::size_t>(section.integer("connections", default_connections, 1, 64));
  auto offload = section.choice("offload", "auto", {"auto", "on", "off"});
  s.offload = offload == "on" || (offload == "auto" && s.engine != Engine::kSqlite);
  s.max_waiting = static_cast<std::size_t>(section.integer("max_waiting", 256, 1, 100000));
  s.group_commit = static_cast<std::size_t>(section.integer("group_commit", 64, 1, 1000));
  s.page_size = static_cast<std::size_t>(section.integer("page_size", 2048, 512, 65536));
  if (!sqlite::is_page_size(s.page_size))
    throw config::ConfigError(
        "config key 'database.page_size': must be a power of two (512, 1024, ..., 65536)");
  if (s.max_waiting < s.connections)
    throw config::ConfigError("config key 'database.max_waiting': must be at least database.connections (" +
                              std::to_string(s.connections) + ")");
  return s;
}

void offload_to_storage_pool(service::Context& ctx, const Settings& s, sql::Database* db) {
  auto& metrics = ctx.metrics();
  service::BlockingPoolSettings settings{.threads = s.connections, .max_waiting = s.max_waiting};
  if (db != nullptr && s.group_commit > 1) {
    // One connection: the calls queued behind the one running would each wait for it anyway, and a
    // commit each is most of a small write's cost (docs/benchmarks.md, 21).
    settings.max_group = s.group_commit;
    settings.group = [db, &logger = ctx.logger()](const std::function<void()>& fn) -> Result<void> {
      auto kept = db->group(fn);
      if (!kept) logger.error("storage pool: a group's transaction was not kept: " + kept.error().message);
      return kept;
    };
  }
  auto& pool = ctx.own(std::make_unique<service::BlockingPool>(std::move(settings)));
  metrics.gauge("mercato_storage_pool_threads", "Threads of the storage pool HTTP handlers run on")
      .set(static_cast<double>(s.connections));
  pool.meter(
      metrics.gauge("mercato_storage_pool_waiting", "HTTP handlers queued or running on the storage pool"),
      metrics.counter("mercato_storage_pool_refused_total",
                      "HTTP handlers refused with 503 because the storage pool was full"));
  pool.meter_groups(metrics.counter("mercato_storage_pool_groups_total",
                                    "Groups of storage pool calls run as one transaction"),
                    metrics.counter("mercato_storage_pool_grouped_total",
                                    "Storage pool calls run inside a group's transaction"));
  ctx.set_storage_pool(pool);
}

}  // namespace mercato::storage
