// OrderRepository on the order service's own SQL database — SQLite (the default) or PostgreSQL, chosen by
// database.url (lib/storage) — written once over lib/sql and held to one contract test
// (order_repository_test.cpp).
//
// Each order is a stream of events in the outbox table (mercato/events/streams.hpp), so the order's
// history and what the bus carries are one row each. The `orders` table holds snapshots: the order as
// of some version, written when it is placed and again every `snapshot_every` events, so that loading
// reads the snapshot and the few events after it. Nothing else writes order state (ADR 0015).
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/ports.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::order {

struct RepositorySettings {
  // A new snapshot once an order's stream is this many events past its last one (≥ 1).
  std::int64_t snapshot_every = 8;
  // How many times update() re-reads and decides again after a version conflict.
  int conflict_retries = 8;
};

class SqlOrderRepository final : public OrderRepository {
 public:
  // Applies the schema migrations and turns orders stored before streams existed into streams; throws
  // std::runtime_error if either fails (start-up only).
  explicit SqlOrderRepository(sql::Database& db, RepositorySettings settings = {});

  Result<Written> place(const OrderPlaced& placed, const std::string& traceparent,
                        std::span<const events::CloudEvent> outgoing = {},
                        const Saga* saga = nullptr) override;
  Result<Order> find(std::string_view id, std::optional<std::int64_t> at_version = std::nullopt) override;
  Result<std::vector<HistoryEntry>> history(std::string_view id) override;
  Result<Page> list_all(std::int64_t offset, std::int64_t limit) override;
  Result<Written> update(std::string_view id, const Decide& decide,
                         const std::string& traceparent = {}) override;
  Result<void> ping() override { return db_.ping(); }
  Result<std::optional<Saga>> find_saga(std::string_view order_id) override;
  Result<bool> with_saga(std::string_view order_id, const std::optional<Handled>& handled,
                         const SagaStep& step) override;
  Result<std::vector<std::string>> sagas_due(SystemTime now, std::size_t limit) override;
  Result<std::int64_t> count_running_sagas() override;

 private:
  // Appends `added` to the order's stream at `order.version`, applies it to `order`, and writes a
  // snapshot when due; inside the caller's transaction. Returns the position reached.
  Result<std::int64_t> append(sql::Connection& c, Order& order, std::int64_t snapshot_version,
                              const std::vector<OrderEvent>& added, const std::string& traceparent);
  Result<Page> page(std::string_view where_and_order, const sql::Params& params, std::int64_t limit);
  Result<void> import_legacy_orders();

  sql::Database& db_;
  RepositorySettings settings_;
  // What orders a customer's orders placed in the same millisecond: SQLite's table has its rowid,
  // PostgreSQL's a `seq` column (migration 1 of each).
  std::string insertion_order_;
};

}  // namespace mercato::order
