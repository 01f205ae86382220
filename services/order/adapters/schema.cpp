#include "adapters/schema.hpp"

#include <string>

namespace mercato::order {
namespace {

// The orders table of migration 1. PostgreSQL's has `seq`, standing in for SQLite's rowid.
std::string create_orders(std::string_view seq_column, std::string_view index_tail) {
  return "CREATE TABLE orders (" + std::string(seq_column) +
         " id TEXT PRIMARY KEY,"
         " customer_id TEXT NOT NULL,"
         " status TEXT NOT NULL,"
         " reason TEXT NOT NULL DEFAULT '',"
         " total_cents {int64} NOT NULL CHECK (total_cents >= 0),"
         " payment_token TEXT NOT NULL,"
         " shipping_address {json} NOT NULL,"
         " lines {json} NOT NULL,"
         " created_at_ms {int64} NOT NULL,"
         " updated_at_ms {int64} NOT NULL);"
         "CREATE INDEX orders_by_customer ON orders(customer_id, created_at_ms DESC" +
         std::string(index_tail) + ");";
}

}  // namespace

// Versioned and append-only: a released migration is never edited, a change is a new entry.
const std::vector<sql::Migration>& order_schema() {
  static const std::vector<sql::Migration> kMigrations = {
      {.version = 1,
       .name = "create orders",
       .sql = create_orders("", ""),
       .postgres = create_orders(" seq BIGINT GENERATED ALWAYS AS IDENTITY,", ", seq DESC")},
      {2, "create order_sagas",
       "CREATE TABLE order_sagas ("
       " order_id TEXT PRIMARY KEY REFERENCES orders(id),"
       " state TEXT NOT NULL,"
       " next_deadline_ms {int64},"  // NULL once finished
       " saga {json} NOT NULL);"
       "CREATE INDEX order_sagas_due ON order_sagas(next_deadline_ms) WHERE next_deadline_ms IS NOT NULL;"},
      // Event sourcing (ADR 0015): a row is now the order's snapshot at `version`; the rows of before have
      // version 0 until import_legacy_orders gives them their streams.
      {3, "orders as snapshots",
       "ALTER TABLE orders ADD COLUMN version {int64} NOT NULL DEFAULT 0;"
       "ALTER TABLE orders ADD COLUMN cancelled_by TEXT NOT NULL DEFAULT 'unknown';"
       "ALTER TABLE orders ADD COLUMN saga TEXT NOT NULL DEFAULT 'none';"
       "CREATE INDEX orders_unversioned ON orders(version) WHERE version = 0;"},
      // The read models (adapters/sql_read_models.hpp): every row carries its projection's generation.
      {4, "read models",
       "CREATE TABLE projections ("
       " name TEXT PRIMARY KEY,"
       " generation {int64} NOT NULL,"
       " position {int64} NOT NULL,"
       " rebuild_generation {int64},"
       " rebuild_position {int64},"
       " updated_at_ms {int64} NOT NULL);"
       "CREATE TABLE order_summaries ("
       " generation {int64} NOT NULL,"
       " order_id TEXT NOT NULL,"
       " customer_id TEXT NOT NULL,"
       " status TEXT NOT NULL,"
       " total_cents {int64} NOT NULL,"
       " item_count {int64} NOT NULL,"
       " reason TEXT NOT NULL,"
       " cancelled_by TEXT NOT NULL,"
       " created_at_ms {int64} NOT NULL,"
       " updated_at_ms {int64} NOT NULL,"
       " placed_position {int64} NOT NULL,"
       " version {int64} NOT NULL,"
       " PRIMARY KEY (generation, order_id));"
       "CREATE INDEX order_summaries_by_customer"
       " ON order_summaries(generation, customer_id, created_at_ms DESC, placed_position DESC);"
       "CREATE TABLE sales_pending ("
       " generation {int64} NOT NULL,"
       " order_id TEXT NOT NULL,"
       " lines {json} NOT NULL,"
       " PRIMARY KEY (generation, order_id));"
       "CREATE TABLE sales_daily ("
       " generation {int64} NOT NULL,"
       " day TEXT NOT NULL,"
       " product_id TEXT NOT NULL,"
       " units {int64} NOT NULL,"
       " cents {int64} NOT NULL,"
       " orders {int64} NOT NULL,"
       " PRIMARY KEY (generation, day, product_id));"},
      // An admin's list of every customer's orders, newest first (the dashboard's recent orders).
      {5, "order list across customers",
       "CREATE INDEX order_summaries_by_time ON order_summaries(generation, created_at_ms DESC, "
       "placed_position DESC);"},
  };
  return kMigrations;
}

}  // namespace mercato::order
