#include "adapters/sql_order_repository.hpp"

#include <array>
#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "adapters/schema.hpp"
#include "app/json_codec.hpp"
#include "app/order_events.hpp"
#include "mercato/events/store.hpp"
#include "mercato/events/streams.hpp"

namespace mercato::order {
namespace {

// JSON columns are read as their text (PostgreSQL's jsonb prints itself) and written as text.
constexpr std::string_view kColumns =
    "SELECT id, customer_id, status, reason, total_cents, payment_token, shipping_address, lines,"
    " created_at_ms, updated_at_ms, cancelled_by, saga, version FROM orders ";

Result<Order> read_row(const sql::Row& row) {
  Order o;
  o.id = row.text(0);
  o.customer_id = row.text(1);
  auto status = parse_status(row.text(2));
  if (!status) return Error::internal("order " + o.id + " has an unknown stored status");
  o.status = *status;
  o.reason = row.text(3);
  o.total_cents = row.integer(4);
  o.payment_token = row.text(5);
  MERCATO_ASSIGN_OR_RETURN(auto address, address_from_json(row.text(6)));
  o.shipping_address = std::move(address);
  MERCATO_ASSIGN_OR_RETURN(auto lines, lines_from_json(row.text(7)));
  o.lines = std::move(lines);
  o.created_at = row.time(8);
  o.updated_at = row.time(9);
  auto by = parse_cancelled_by(row.text(10));
  if (!by) return Error::internal("order " + o.id + " has an unknown stored cancelled_by");
  o.cancelled_by = *by;
  o.saga = row.text(11);
  o.version = row.integer(12);
  return o;
}

// `lock` reads for update: the read of a read-modify-write, so a concurrent update waits for this one.
Result<Order> select_order(sql::Connection& c, std::string_view id, bool lock = false) {
  static const std::string kSql = std::string(kColumns) + "WHERE id = $1";
  MERCATO_ASSIGN_OR_RETURN(auto rows, c.select(kSql, {id}, lock));
  if (rows.empty()) return order_not_found(id);
  return read_row(rows[0]);
}

// A snapshot of `o` at its version (only what events change; the rest is fixed at placement).
Result<void> write_snapshot(sql::Connection& c, const Order& o) {
  return c.run(
      "UPDATE orders SET status = $2, reason = $3, updated_at_ms = $4, cancelled_by = $5, version = $6"
      " WHERE id = $1",
      {o.id, to_string(o.status), o.reason, o.updated_at, to_string(o.cancelled_by), o.version});
}

Result<void> insert_snapshot(sql::Connection& c, const Order& o) {
  return c.run(
      "INSERT INTO orders(id, customer_id, status, reason, total_cents, payment_token, shipping_address,"
      " lines, created_at_ms, updated_at_ms, cancelled_by, saga, version)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
      {o.id, o.customer_id, to_string(o.status), o.reason, o.total_cents, o.payment_token,
       boost::json::serialize(to_json(o.shipping_address)), boost::json::serialize(to_json(o.lines)),
       o.created_at, o.updated_at, to_string(o.cancelled_by), o.saga, o.version});
}

struct Loaded {
  Order order;
  std::int64_t snapshot_version = 0;
};

// The order now: its snapshot and the events after it.
Result<Loaded> load(sql::Connection& c, std::string_view id) {
  MERCATO_ASSIGN_OR_RETURN(auto snapshot, select_order(c, id));
  Loaded loaded{snapshot, snapshot.version};
  MERCATO_ASSIGN_OR_RETURN(auto stored, events::read_stream(c, id, snapshot.version));
  for (const auto& s : stored) {
    MERCATO_ASSIGN_OR_RETURN(auto e, order_event_from(s.event));
    MERCATO_RETURN_IF_ERROR(evolve(loaded.order, e));
  }
  return loaded;
}

// A write's transaction, run again from the start when another change of the order came first.
template <typename F>
auto retrying(int retries, std::string_view id, F&& attempt) -> decltype(attempt()) {
  for (int i = 0;; ++i) {
    auto r = attempt();
    if (r || !events::is_version_conflict(r.error())) return r;
    if (i >= retries) {
      return Error::unavailable("order " + std::string(id) + " is changing too often to update; try again");
    }
  }
}

Result<void> write_saga(sql::Connection& c, const Saga& saga) {
  static constexpr std::array<std::string_view, 3> kUpdated = {"state", "next_deadline_ms", "saga"};
  static const std::string kSql =
      "INSERT INTO order_sagas(order_id, state, next_deadline_ms, saga) VALUES ($1, $2, $3, $4) " +
      sql::upsert("order_id", kUpdated);
  return c.run(kSql, {saga.order_id, to_string(saga.state), saga.next_deadline(),
                      boost::json::serialize(to_json(saga))});
}

Result<std::optional<Saga>> read_saga(sql::Connection& c, std::string_view order_id, bool lock) {
  MERCATO_ASSIGN_OR_RETURN(auto rows,
                           c.select("SELECT saga FROM order_sagas WHERE order_id = $1", {order_id}, lock));
  if (rows.empty()) return std::optional<Saga>();
  MERCATO_ASSIGN_OR_RETURN(auto saga, saga_from_json(rows[0].text(0)));
  return std::optional<Saga>(std::move(saga));
}

}  // namespace

SqlOrderRepository::SqlOrderRepository(sql::Database& db, RepositorySettings settings)
    : db_(db),
      settings_(settings),
      insertion_order_(db.dialect() == sql::Dialect::kSqlite ? "rowid" : "seq") {
  if (settings_.snapshot_every < 1) throw std::invalid_argument("snapshot_every must be at least 1");
  if (auto r = db_.migrate("order", order_schema()); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
  if (auto r = import_legacy_orders(); !r)
    throw std::runtime_error("cannot give the orders of before their streams: " + r.error().message);
}

// Orders stored as rows before streams existed get the stream their row implies: placed, then what
// brought them to their status, at the time of their last change. Recorded as already published (it
// was, when it happened). One order per transaction, so a crash resumes where it stopped.
Result<void> SqlOrderRepository::import_legacy_orders() {
  static const std::string kSql = std::string(kColumns) + "WHERE version = 0 LIMIT 100";
  for (;;) {
    MERCATO_ASSIGN_OR_RETURN(
        auto batch, db_.with([&](sql::Connection& c) { return sql::read_all(c.query(kSql), read_row); }));
    if (batch.empty()) return {};
    for (auto& legacy : batch) {
      MERCATO_RETURN_IF_ERROR(db_.with([&](sql::Connection& c) -> Result<void> {
        MERCATO_RETURN_IF_ERROR(c.begin());
        MERCATO_ASSIGN_OR_RETURN(auto saga, read_saga(c, legacy.id, false));
        legacy.saga = saga ? std::string(to_string(saga->mode)) : "none";
        std::vector<OrderEvent> past{OrderPlaced{legacy}};
        auto status =
            legacy.status == Status::kCancelled
                ? OrderEvent{OrderCancelled{legacy.reason, CancelledBy::kUnknown, legacy.updated_at}}
                : OrderEvent{OrderConfirmed{legacy.updated_at}};
        if (legacy.status == Status::kPendingPayment) past.emplace_back(PaymentPending{legacy.updated_at});
        if (legacy.status == Status::kConfirmed || legacy.status == Status::kCancelled)
          past.push_back(status);
        Order order;
        std::vector<events::CloudEvent> wire;
        for (const auto& e : past) {
          MERCATO_RETURN_IF_ERROR(evolve(order, e));
          wire.push_back(to_cloud_event(e, order));
        }
        MERCATO_RETURN_IF_ERROR(events::record_past(c, order.id, wire));
        MERCATO_RETURN_IF_ERROR(write_snapshot(c, order));
        return c.commit();
      }));
    }
  }
}

Result<std::int64_t> SqlOrderRepository::append(sql::Connection& c, Order& order,
                                                std::int64_t snapshot_version,
                                                const std::vector<OrderEvent>& added,
                                                const std::string& traceparent) {
  auto expected = order.version;
  std::vector<events::CloudEvent> wire;
  wire.reserve(added.size());
  for (const auto& e : added) {
    MERCATO_RETURN_IF_ERROR(evolve(order, e));
    wire.push_back(to_cloud_event(e, order, traceparent));
  }
  MERCATO_ASSIGN_OR_RETURN(auto position, events::append_stream(c, order.id, expected, wire));
  if (order.version - snapshot_version >= settings_.snapshot_every) {
    MERCATO_RETURN_IF_ERROR(write_snapshot(c, order));
  }
  return position;
}

Result<Written> SqlOrderRepository::place(const OrderPlaced& placed, const std::string& traceparent,
                                          std::span<const events::CloudEvent> outgoing, const Saga* saga) {
  return db_.with([&](sql::Connection& c) -> Result<Written> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    Written w;
    auto first = to_cloud_event(placed, placed.order, traceparent);
    MERCATO_RETURN_IF_ERROR(evolve(w.order, placed));
    // The snapshot first: a taken id fails here, before the stream is touched.
    MERCATO_RETURN_IF_ERROR(insert_snapshot(c, w.order));
    MERCATO_ASSIGN_OR_RETURN(w.position, events::append_stream(c, w.order.id, 0, std::span(&first, 1)));
    if (saga != nullptr) MERCATO_RETURN_IF_ERROR(write_saga(c, *saga));
    MERCATO_RETURN_IF_ERROR(events::append_outbox(c, outgoing));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return w;
  });
}

Result<std::optional<Saga>> SqlOrderRepository::find_saga(std::string_view order_id) {
  return db_.with([&](sql::Connection& c) { return read_saga(c, order_id, false); });
}

Result<bool> SqlOrderRepository::with_saga(std::string_view order_id, const std::optional<Handled>& handled,
                                           const SagaStep& step) {
  return retrying(settings_.conflict_retries, order_id, [&] {
    return db_.with([&](sql::Connection& c) -> Result<bool> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      if (handled) {
        MERCATO_ASSIGN_OR_RETURN(auto first, events::record_handled(c, handled->consumer, handled->event_id));
        if (!first) return false;
      }
      // For update: an answer and a timeout for one saga are applied one after the other.
      MERCATO_ASSIGN_OR_RETURN(auto saga, read_saga(c, order_id, true));
      if (!saga) {
        // Keep the inbox record: an answer for an order without a saga is handled (by ignoring it).
        MERCATO_RETURN_IF_ERROR(c.commit());
        return Error::not_found("order " + std::string(order_id) + " has no saga");
      }
      MERCATO_ASSIGN_OR_RETURN(auto loaded, load(c, order_id));
      MERCATO_ASSIGN_OR_RETURN(auto change, step(loaded.order, *saga));
      if (change.saga_changed) MERCATO_RETURN_IF_ERROR(write_saga(c, *saga));
      // Commands first, then the order's events: the order they were decided in, and the stream's
      // append lock (PostgreSQL) is taken last, so it is held the shortest time.
      MERCATO_RETURN_IF_ERROR(events::append_outbox(c, change.events));
      if (!change.history.empty()) {
        MERCATO_RETURN_IF_ERROR(
            append(c, loaded.order, loaded.snapshot_version, change.history, change.traceparent));
      }
      MERCATO_RETURN_IF_ERROR(c.commit());
      return true;
    });
  });
}

Result<std::vector<std::string>> SqlOrderRepository::sagas_due(SystemTime now, std::size_t limit) {
  return db_.with([&](sql::Connection& c) -> Result<std::vector<std::string>> {
    MERCATO_ASSIGN_OR_RETURN(
        auto rows,
        c.query(
            "SELECT order_id FROM order_sagas WHERE next_deadline_ms IS NOT NULL AND next_deadline_ms <= $1"
            " ORDER BY next_deadline_ms LIMIT $2",
            {now, limit}));
    std::vector<std::string> ids;
    for (auto row : rows) ids.push_back(row.text(0));
    return ids;
  });
}

// Every saga not finished has a deadline (Saga::next_deadline), so the partial index order_sagas_due
// holds exactly them.
Result<std::int64_t> SqlOrderRepository::count_running_sagas() {
  return db_.with([&](sql::Connection& c) -> Result<std::int64_t> {
    MERCATO_ASSIGN_OR_RETURN(
        auto rows, c.query("SELECT COUNT(*) FROM order_sagas WHERE next_deadline_ms IS NOT NULL", {}));
    return rows.empty() ? std::int64_t{0} : rows[0].integer(0);
  });
}

Result<Order> SqlOrderRepository::find(std::string_view id, std::optional<std::int64_t> at_version) {
  return db_.with([&](sql::Connection& c) -> Result<Order> {
    if (!at_version) {
      MERCATO_ASSIGN_OR_RETURN(auto loaded, load(c, id));
      return std::move(loaded.order);
    }
    MERCATO_ASSIGN_OR_RETURN(auto snapshot, select_order(c, id));
    // From the snapshot when it is not past the version asked for, else from the stream's start.
    Order from = snapshot.version <= *at_version ? snapshot : Order{};
    MERCATO_ASSIGN_OR_RETURN(auto stored, events::read_stream(c, id, from.version, *at_version));
    for (const auto& s : stored) {
      MERCATO_ASSIGN_OR_RETURN(auto e, order_event_from(s.event));
      MERCATO_RETURN_IF_ERROR(evolve(from, e));
    }
    if (from.version != *at_version) {
      return Error::not_found("order " + std::string(id) + " has no version " + std::to_string(*at_version));
    }
    return from;
  });
}

Result<std::vector<HistoryEntry>> SqlOrderRepository::history(std::string_view id) {
  return db_.with([&](sql::Connection& c) -> Result<std::vector<HistoryEntry>> {
    MERCATO_ASSIGN_OR_RETURN(auto stored, events::read_stream(c, id));
    if (stored.empty()) return order_not_found(id);
    std::vector<HistoryEntry> out;
    out.reserve(stored.size());
    for (auto& s : stored) {
      MERCATO_ASSIGN_OR_RETURN(auto current, upcast(std::move(s.event)));
      out.push_back(HistoryEntry{s.version, s.position, s.recorded_at, std::move(current)});
    }
    return out;
  });
}

Result<Page> SqlOrderRepository::page(std::string_view where_and_order, const sql::Params& params,
                                      std::int64_t limit) {
  return db_.with([&](sql::Connection& c) -> Result<Page> {
    // One row more than asked tells whether another page exists, without a COUNT(*). The rows are
    // snapshots: only their fixed columns (id, customer, creation time) choose and order the page; each
    // order is then read as it is now.
    MERCATO_ASSIGN_OR_RETURN(auto rows,
                             c.query("SELECT id FROM orders " + std::string(where_and_order), params));
    Page page;
    page.has_more = static_cast<std::int64_t>(rows.size()) > limit;
    for (auto row : rows) {
      if (static_cast<std::int64_t>(page.orders.size()) == limit) break;
      MERCATO_ASSIGN_OR_RETURN(auto loaded, load(c, row.text(0)));
      page.orders.push_back(std::move(loaded.order));
    }
    return page;
  });
}

Result<Page> SqlOrderRepository::list_all(std::int64_t offset, std::int64_t limit) {
  return page("ORDER BY created_at_ms, " + insertion_order_ + " LIMIT $1 OFFSET $2", {limit + 1, offset},
              limit);
}

Result<Written> SqlOrderRepository::update(std::string_view id, const Decide& decide,
                                           const std::string& traceparent) {
  return retrying(settings_.conflict_retries, id, [&] {
    return db_.with([&](sql::Connection& c) -> Result<Written> {
      MERCATO_RETURN_IF_ERROR(c.begin());
      MERCATO_ASSIGN_OR_RETURN(auto loaded, load(c, id));
      MERCATO_ASSIGN_OR_RETURN(auto added, decide(loaded.order));
      Written w;
      if (!added.empty()) {
        MERCATO_ASSIGN_OR_RETURN(w.position,
                                 append(c, loaded.order, loaded.snapshot_version, added, traceparent));
        MERCATO_RETURN_IF_ERROR(c.commit());
      }
      w.order = std::move(loaded.order);
      return w;
    });
  });
}

}  // namespace mercato::order
