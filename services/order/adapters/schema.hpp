// The order database's schema: one versioned migration list for every table the order service keeps
// (SQLite has one version sequence per database, so the write side's tables and the read models'
// share it). Each adapter that opens the database applies it (idempotent); the event tables are
// lib/events' own (events::ensure_schema).
#pragma once

#include <vector>

#include "mercato/sql/sql.hpp"

namespace mercato::order {

const std::vector<sql::Migration>& order_schema();

}  // namespace mercato::order
