// The order read models (OrderReadModels) in the order service's own SQL database, beside the streams
// they are projected from — SQLite or PostgreSQL, one implementation over lib/sql.
//
//   order_summaries  one row per order: the customer's order list (filters, newest first, cursors)
//   sales_daily      units, cents and orders per product per day of confirmation (the sales report),
//                    with sales_pending holding a placed order's lines until it is confirmed or cancelled
//   projections      per projection: the generation queries read, the position it has applied, and a
//                    rebuild's generation and position while one runs
//
// Every row carries its projection's generation: a rebuild fills generation N+1 while the live
// projector keeps N current, then switches in one transaction. A batch's changes and its checkpoint
// commit together (a crash loses or doubles nothing), and each change is idempotent on its own (a
// summary moves only to a newer stream version; a sale is counted by deleting its pending row), so
// replaying events changes nothing.
//
// Thread-safety: thread-safe. Batches of one projection are serialised by a lock on its projections row
// (several instances on one PostgreSQL database share the work).
#pragma once

#include <atomic>
#include <mutex>
#include <set>

#include "app/ports.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::order {

class SqlReadModels final : public OrderReadModels {
 public:
  // The streams' database: append_stream raises the signal with it (events/streams.cpp).
  const void* change_signal() const noexcept override { return &db_; }
  // Creates the tables (migrations of the order database) and the projections' rows. `metrics`
  // (optional) gets mercato_projection_lag_events and _lag_seconds per projection, set by catch_up.
  explicit SqlReadModels(sql::Database& db, obs::Registry* metrics = nullptr);

  Result<std::size_t> catch_up(std::size_t batch) override;
  Result<std::int64_t> position(std::string_view projection) override;
  Result<std::int64_t> head() override;
  Result<SummaryPage> summaries(const SummaryQuery& query) override;
  Result<std::vector<SalesRow>> sales(const std::string& from_day, const std::string& to_day) override;
  Result<std::vector<ProjectionStatus>> status() override;
  Result<ProjectionStatus> rebuild(std::string_view projection) override;

  // Sets `projection` back to `position`, so the events after it are applied again (tests: replaying
  // must change nothing; operators: after restoring a read model from a backup).
  Result<void> rewind(std::string_view projection, std::int64_t position);

 private:
  Result<std::size_t> advance(std::string_view projection, std::size_t batch, bool rebuilding,
                              bool* switched);
  Result<std::size_t> advance_in(sql::Connection& c, std::string_view projection, std::size_t batch,
                                 bool rebuilding, bool* switched);
  void record_lag(const ProjectionStatus& s);

  sql::Database& db_;
  obs::Registry* metrics_;
  std::chrono::steady_clock::time_point last_lag_{};  // catch_up's caller only (the projector thread)
  std::mutex rebuilding_mutex_;
  std::set<std::string, std::less<>> rebuilding_;  // guarded by rebuilding_mutex_
};

}  // namespace mercato::order
