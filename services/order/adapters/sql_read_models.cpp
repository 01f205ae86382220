#include "adapters/sql_read_models.hpp"

#include <boost/json.hpp>
#include <stdexcept>

#include "adapters/schema.hpp"
#include "app/json_codec.hpp"
#include "app/order_events.hpp"
#include "mercato/events/store.hpp"
#include "mercato/events/streams.hpp"

namespace mercato::order {
namespace {

constexpr std::string_view kSummaries = "order_summaries";

std::string day_of(SystemTime t) { return format_rfc3339(t).substr(0, 10); }

// ---- order_summaries ----

Result<void> apply_summary(sql::Connection& c, std::int64_t generation, const events::StoredEvent& stored,
                           const OrderEvent& event) {
  if (const auto* placed = std::get_if<OrderPlaced>(&event)) {
    const auto& o = placed->order;
    std::int64_t items = 0;
    for (const auto& l : o.lines) items += l.quantity;
    // Placed once per order: a replay finds the row there.
    return c.run(
        "INSERT INTO order_summaries(generation, order_id, customer_id, status, total_cents, item_count,"
        " reason, cancelled_by, created_at_ms, updated_at_ms, placed_position, version)"
        " VALUES ($1, $2, $3, 'pending', $4, $5, '', 'unknown', $6, $6, $7, $8)"
        " ON CONFLICT (generation, order_id) DO NOTHING",
        {generation, o.id, o.customer_id, o.total_cents, items, o.created_at, stored.position,
         stored.version});
  }
  std::string status;
  std::string reason;
  std::string by = "unknown";
  SystemTime at{};
  if (const auto* pending = std::get_if<PaymentPending>(&event)) {
    status = to_string(Status::kPendingPayment);
    at = pending->at;
  } else if (const auto* confirmed = std::get_if<OrderConfirmed>(&event)) {
    status = to_string(Status::kConfirmed);
    at = confirmed->at;
  } else if (const auto* cancelled = std::get_if<OrderCancelled>(&event)) {
    status = to_string(Status::kCancelled);
    reason = cancelled->reason;
    by = to_string(cancelled->by);
    at = cancelled->at;
  }
  // Only forward: an event the row has seen (a replay) changes nothing.
  return c.run(
      "UPDATE order_summaries SET status = $3, reason = $4, cancelled_by = $5, updated_at_ms = $6, version = "
      "$7"
      " WHERE generation = $1 AND order_id = $2 AND version < $7",
      {generation, stored.stream, status, reason, by, at, stored.version});
}

// ---- sales_daily ----

Result<void> apply_sale(sql::Connection& c, std::int64_t generation, const events::StoredEvent& stored,
                        const OrderEvent& event) {
  if (const auto* placed = std::get_if<OrderPlaced>(&event)) {
    return c.run(
        "INSERT INTO sales_pending(generation, order_id, lines) VALUES ($1, $2, $3)"
        " ON CONFLICT (generation, order_id) DO NOTHING",
        {generation, placed->order.id, boost::json::serialize(to_json(placed->order.lines))});
  }
  if (std::holds_alternative<OrderCancelled>(event)) {
    return c.run("DELETE FROM sales_pending WHERE generation = $1 AND order_id = $2",
                 {generation, stored.stream});
  }
  const auto* confirmed = std::get_if<OrderConfirmed>(&event);
  if (confirmed == nullptr) return {};
  // Counted when its pending row goes, in the same transaction: a replay finds none and counts nothing.
  MERCATO_ASSIGN_OR_RETURN(auto pending,
                           c.query("DELETE FROM sales_pending WHERE generation = $1 AND order_id = $2"
                                   " RETURNING lines",
                                   {generation, stored.stream}));
  if (pending.empty()) return {};
  MERCATO_ASSIGN_OR_RETURN(auto lines, lines_from_json(pending[0].text(0)));
  auto day = day_of(confirmed->at);
  for (const auto& l : lines) {
    MERCATO_RETURN_IF_ERROR(c.run(
        "INSERT INTO sales_daily(generation, day, product_id, units, cents, orders) VALUES ($1, $2, $3, $4, "
        "$5, 1)"
        " ON CONFLICT (generation, day, product_id) DO UPDATE SET units = sales_daily.units + excluded.units,"
        " cents = sales_daily.cents + excluded.cents, orders = sales_daily.orders + 1",
        {generation, day, l.product_id, l.quantity, l.quantity * l.unit_price_cents}));
  }
  return {};
}

Result<void> apply(sql::Connection& c, std::string_view projection, std::int64_t generation,
                   const events::StoredEvent& stored) {
  MERCATO_ASSIGN_OR_RETURN(auto event, order_event_from(stored.event));
  if (projection == kSummaries) return apply_summary(c, generation, stored, event);
  return apply_sale(c, generation, stored, event);
}

Result<void> clear(sql::Connection& c, std::string_view projection, std::int64_t generation) {
  if (projection == kSummaries) {
    return c.run("DELETE FROM order_summaries WHERE generation = $1", {generation});
  }
  MERCATO_RETURN_IF_ERROR(c.run("DELETE FROM sales_pending WHERE generation = $1", {generation}));
  return c.run("DELETE FROM sales_daily WHERE generation = $1", {generation});
}

struct Checkpoint {
  std::int64_t generation = 0;
  std::int64_t position = 0;
  std::optional<std::int64_t> rebuild_generation;
  std::optional<std::int64_t> rebuild_position;
};

Result<Checkpoint> read_checkpoint(sql::Connection& c, std::string_view name, bool lock) {
  MERCATO_ASSIGN_OR_RETURN(
      auto rows, c.select("SELECT generation, position, rebuild_generation, rebuild_position FROM projections"
                          " WHERE name = $1",
                          {name}, lock));
  if (rows.empty()) return Error::not_found("projection", name);
  return Checkpoint{rows[0].integer(0), rows[0].integer(1), rows[0].optional_integer(2),
                    rows[0].optional_integer(3)};
}

}  // namespace

SqlReadModels::SqlReadModels(sql::Database& db, obs::Registry* metrics) : db_(db), metrics_(metrics) {
  if (auto r = db_.migrate("order", order_schema()); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
  for (const auto& name : names()) {
    auto r = db_.with([&](sql::Connection& c) {
      return c.run(
          "INSERT INTO projections(name, generation, position, updated_at_ms) VALUES ($1, 1, 0, $2)"
          " ON CONFLICT (name) DO NOTHING",
          {name, now_utc()});
    });
    if (!r) throw std::runtime_error("cannot create the projection " + name + ": " + r.error().message);
  }
}

// One batch of `projection` in the transaction open on `c`, its checkpoint row locked: the live
// generation, or a rebuild's. A rebuild that reaches the head switches queries to its generation in the
// same transaction (`switched`).
Result<std::size_t> SqlReadModels::advance_in(sql::Connection& c, std::string_view projection,
                                              std::size_t batch, bool rebuilding, bool* switched) {
  MERCATO_ASSIGN_OR_RETURN(auto at, read_checkpoint(c, projection, true));
  if (rebuilding && !at.rebuild_generation)
    return Error::conflict("the rebuild of " + std::string(projection) + " was taken over");
  auto generation = rebuilding ? *at.rebuild_generation : at.generation;
  auto position = rebuilding ? *at.rebuild_position : at.position;
  MERCATO_ASSIGN_OR_RETURN(auto stored, events::read_streams(c, position, batch));
  for (const auto& s : stored) {
    MERCATO_RETURN_IF_ERROR(apply(c, projection, generation, s));
    position = s.position;
  }
  if (rebuilding && stored.size() < batch) {
    // Caught up with the head, and the row stays locked until commit: no event can slip between the
    // rebuild's last batch and the switch.
    MERCATO_RETURN_IF_ERROR(
        c.run("UPDATE projections SET generation = $2, position = $3, rebuild_generation = NULL,"
              " rebuild_position = NULL, updated_at_ms = $4 WHERE name = $1",
              {projection, generation, position, now_utc()}));
    *switched = true;
  } else if (!stored.empty()) {
    MERCATO_RETURN_IF_ERROR(
        c.run(rebuilding ? "UPDATE projections SET rebuild_position = $2, updated_at_ms = $3 WHERE name = $1"
                         : "UPDATE projections SET position = $2, updated_at_ms = $3 WHERE name = $1",
              {projection, position, now_utc()}));
  }
  return stored.size();
}

Result<std::size_t> SqlReadModels::advance(std::string_view projection, std::size_t batch, bool rebuilding,
                                           bool* switched) {
  return db_.with([&](sql::Connection& c) -> Result<std::size_t> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_ASSIGN_OR_RETURN(auto n, advance_in(c, projection, batch, rebuilding, switched));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return n;
  });
}

// Every projection that is behind, in one transaction: each round of the projector is one borrow of a
// connection to look and at most one commit, whatever the number of projections (on SQLite each borrow
// waits for the one connection the order writes need).
Result<std::size_t> SqlReadModels::catch_up(std::size_t batch) {
  // Nothing new is the common case when idle: told without a write transaction, which on SQLite would
  // take the one write lock. The checkpoints are read in names() order, as the transaction locks them.
  MERCATO_ASSIGN_OR_RETURN(auto behind, db_.with([&](sql::Connection& c) -> Result<std::vector<std::string>> {
    MERCATO_ASSIGN_OR_RETURN(auto head, events::streams_head(c));
    std::vector<std::string> out;
    for (const auto& name : names()) {
      MERCATO_ASSIGN_OR_RETURN(auto at, read_checkpoint(c, name, false));
      if (head > at.position) out.push_back(name);
    }
    return out;
  }));
  std::size_t applied = 0;
  if (!behind.empty()) {
    MERCATO_ASSIGN_OR_RETURN(applied, db_.with([&](sql::Connection& c) -> Result<std::size_t> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      std::size_t n = 0;
      for (const auto& name : behind) {
        MERCATO_ASSIGN_OR_RETURN(auto one, advance_in(c, name, batch, false, nullptr));
        n += one;
      }
      MERCATO_RETURN_IF_ERROR(c.commit());
      return n;
    }));
  }
  // The lag at most once a second, busy or idle (it grows when another instance writes and none
  // projects): reading it is a query of its own, and a round under load is a few milliseconds.
  auto now = std::chrono::steady_clock::now();
  if (metrics_ != nullptr && now - last_lag_ >= std::chrono::seconds(1)) {
    last_lag_ = now;
    if (auto all = status(); all) {
      for (const auto& s : *all) record_lag(s);
    }
  }
  return applied;
}

void SqlReadModels::record_lag(const ProjectionStatus& s) {
  metrics_
      ->gauge("mercato_projection_lag_events", "Order stream events a projection has not applied yet",
              {{"projection", s.name}})
      .set(static_cast<double>(s.lag_events));
  metrics_
      ->gauge("mercato_projection_lag_seconds",
              "Age of the oldest order stream event a projection has not applied yet",
              {{"projection", s.name}})
      .set(s.lag_seconds);
}

Result<std::int64_t> SqlReadModels::position(std::string_view projection) {
  if (!is_projection(projection)) return unknown_projection(projection);
  return db_.with([&](sql::Connection& c) -> Result<std::int64_t> {
    MERCATO_ASSIGN_OR_RETURN(auto at, read_checkpoint(c, projection, false));
    return at.position;
  });
}

Result<std::int64_t> SqlReadModels::head() {
  return db_.with([](sql::Connection& c) { return events::streams_head(c); });
}

Result<SummaryPage> SqlReadModels::summaries(const SummaryQuery& q) {
  std::string sql =
      "SELECT order_id, customer_id, status, total_cents, item_count, reason, cancelled_by, created_at_ms,"
      " updated_at_ms, version, placed_position FROM order_summaries"
      " WHERE generation = (SELECT generation FROM projections WHERE name = 'order_summaries')";
  sql::Params params;
  auto next = [&](sql::Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  };
  if (!q.customer_id.empty()) sql += " AND customer_id = " + next(q.customer_id);
  if (q.status) sql += " AND status = " + next(std::string(to_string(*q.status)));
  if (q.from) sql += " AND created_at_ms >= " + next(*q.from);
  if (q.to) sql += " AND created_at_ms < " + next(*q.to);
  if (q.after) {
    auto ms = next(q.after->created_at_ms);
    auto pos = next(q.after->position);
    sql +=
        " AND (created_at_ms < " + ms + " OR (created_at_ms = " + ms + " AND placed_position < " + pos + "))";
  }
  sql += " ORDER BY created_at_ms DESC, placed_position DESC LIMIT " + next(q.limit + 1);
  return db_.with([&](sql::Connection& c) -> Result<SummaryPage> {
    MERCATO_ASSIGN_OR_RETURN(auto rows, c.query(sql, params));
    SummaryPage page;
    for (auto row : rows) {
      if (static_cast<std::int64_t>(page.orders.size()) == q.limit) {
        // One row more than asked: another page exists, and it starts after the last row shown.
        const auto& last = page.orders.back();
        page.next = Cursor{to_unix_ms(last.created_at), rows[page.orders.size() - 1].integer(10)};
        break;
      }
      OrderSummary s;
      s.id = row.text(0);
      s.customer_id = row.text(1);
      auto status = parse_status(row.text(2));
      auto by = parse_cancelled_by(row.text(6));
      if (!status || !by) return Error::internal("order summary " + s.id + " holds an unknown status");
      s.status = *status;
      s.total_cents = row.integer(3);
      s.item_count = row.integer(4);
      s.reason = row.text(5);
      s.cancelled_by = *by;
      s.created_at = row.time(7);
      s.updated_at = row.time(8);
      s.version = row.integer(9);
      page.orders.push_back(std::move(s));
    }
    return page;
  });
}

Result<std::vector<SalesRow>> SqlReadModels::sales(const std::string& from_day, const std::string& to_day) {
  return db_.with([&](sql::Connection& c) -> Result<std::vector<SalesRow>> {
    return sql::read_all(
        c.query("SELECT day, product_id, units, cents, orders FROM sales_daily"
                " WHERE generation = (SELECT generation FROM projections WHERE name = 'sales_daily')"
                " AND day >= $1 AND day <= $2 ORDER BY day, product_id",
                {from_day, to_day}),
        [](const sql::Row& row) -> Result<SalesRow> {
          return SalesRow{row.text(0), row.text(1), row.integer(2), row.integer(3), row.integer(4)};
        });
  });
}

Result<std::vector<ProjectionStatus>> SqlReadModels::status() {
  return db_.with([&](sql::Connection& c) -> Result<std::vector<ProjectionStatus>> {
    MERCATO_ASSIGN_OR_RETURN(auto head, events::streams_head(c));
    std::vector<ProjectionStatus> out;
    for (const auto& name : names()) {
      MERCATO_ASSIGN_OR_RETURN(auto at, read_checkpoint(c, name, false));
      MERCATO_ASSIGN_OR_RETURN(auto backlog, events::streams_after(c, at.position));
      ProjectionStatus s{name, at.generation, at.position, head, backlog.events, 0, at.rebuild_position};
      if (backlog.oldest) {
        s.lag_seconds = std::max(0.0, std::chrono::duration<double>(now_utc() - *backlog.oldest).count());
      }
      out.push_back(std::move(s));
    }
    return out;
  });
}

Result<ProjectionStatus> SqlReadModels::rebuild(std::string_view projection) {
  if (!is_projection(projection)) return unknown_projection(projection);
  {
    std::lock_guard lock(rebuilding_mutex_);
    if (!rebuilding_.insert(std::string(projection)).second) {
      return Error::conflict(std::string(projection) + " is being rebuilt already");
    }
  }
  struct Done {
    SqlReadModels* self;
    std::string name;
    ~Done() {
      std::lock_guard lock(self->rebuilding_mutex_);
      self->rebuilding_.erase(name);
    }
  } done{this, std::string(projection)};

  // A fresh generation past every one in use (a rebuild that died left its rows behind: cleared here).
  MERCATO_ASSIGN_OR_RETURN(auto old_generation, db_.with([&](sql::Connection& c) -> Result<std::int64_t> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_ASSIGN_OR_RETURN(auto at, read_checkpoint(c, projection, true));
    auto fresh = std::max(at.generation, at.rebuild_generation.value_or(0)) + 1;
    if (at.rebuild_generation) MERCATO_RETURN_IF_ERROR(clear(c, projection, *at.rebuild_generation));
    MERCATO_RETURN_IF_ERROR(clear(c, projection, fresh));
    MERCATO_RETURN_IF_ERROR(
        c.run("UPDATE projections SET rebuild_generation = $2, rebuild_position = 0, updated_at_ms = $3 "
              "WHERE name = $1",
              {projection, fresh, now_utc()}));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return at.generation;
  }));
  constexpr std::size_t kBatch = 1000;
  for (bool switched = false; !switched;) {
    MERCATO_RETURN_IF_ERROR(advance(projection, kBatch, true, &switched));
  }
  MERCATO_RETURN_IF_ERROR(db_.with([&](sql::Connection& c) -> Result<void> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_RETURN_IF_ERROR(clear(c, projection, old_generation));
    return c.commit();
  }));
  MERCATO_ASSIGN_OR_RETURN(auto all, status());
  for (auto& s : all) {
    if (s.name == projection) return s;
  }
  return unknown_projection(projection);
}

Result<void> SqlReadModels::rewind(std::string_view projection, std::int64_t position) {
  if (!is_projection(projection)) return unknown_projection(projection);
  return db_.with([&](sql::Connection& c) {
    return c.run("UPDATE projections SET position = $2, updated_at_ms = $3 WHERE name = $1",
                 {projection, position, now_utc()});
  });
}

}  // namespace mercato::order
