// A database's connection pool as Prometheus gauges, so an operator sees a pool too small for its load
// (callers queueing) before requests time out:
//   mercato_db_pool_connections{<labels>}  the pool's size (database.connections)
//   mercato_db_pool_in_use{<labels>}       connections lent to a caller now
//   mercato_db_pool_waiting{<labels>}      callers waiting for a connection now
//
//   auto db = sql::Database::open(sqlite::DatabaseSettings{.path = "var/payment/payment.db"});
//   sql::export_pool_metrics(*db, ctx.metrics(), {{"database", "payment"}});
//
// The database counts lends itself (every Database does, exported or not); this registers the gauges and
// a collect callback that copies the counts at each scrape. The callback shares the counts, not the
// database, so a scrape after the database is gone reads the last values rather than freed memory.
// Tested in src/pool_metrics_test.cpp. Thread-safety: call at start-up; scrapes may run on any thread.
#pragma once

#include "mercato/observability/metrics.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::sql {

// Registers the three gauges with `labels` on `registry`. A Database that is not one of lib/sql's own
// engines (a test double) is left out.
void export_pool_metrics(Database& db, obs::Registry& registry, const obs::Labels& labels = {});

}  // namespace mercato::sql
