#include "adapters/sql_order_repository.hpp"

#include <array>
#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "app/json_codec.hpp"
#include "mercato/events/store.hpp"

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

// Versioned and append-only: a released migration is never edited, a change is a new entry.
const std::vector<sql::Migration> kMigrations = {
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
};

// JSON columns are read as their text (PostgreSQL's jsonb prints itself) and written as text.
constexpr std::string_view kColumns =
    "SELECT id, customer_id, status, reason, total_cents, payment_token, shipping_address, lines,"
    " created_at_ms, updated_at_ms FROM orders ";

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
  return o;
}

// `lock` reads for update: the read of a read-modify-write, so a concurrent update waits for this one.
Result<Order> select_order(sql::Connection& c, std::string_view id, bool lock = false) {
  static const std::string kSql = std::string(kColumns) + "WHERE id = $1";
  MERCATO_ASSIGN_OR_RETURN(auto rows, c.select(kSql, {id}, lock));
  if (rows.empty()) return order_not_found(id);
  return read_row(rows[0]);
}

Result<void> update_order(sql::Connection& c, const Order& o) {
  return c.run("UPDATE orders SET status = $2, reason = $3, updated_at_ms = $4 WHERE id = $1",
               {o.id, to_string(o.status), o.reason, o.updated_at});
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

SqlOrderRepository::SqlOrderRepository(sql::Database& db)
    : db_(db), insertion_order_(db.dialect() == sql::Dialect::kSqlite ? "rowid" : "seq") {
  if (auto r = db_.migrate("order", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> SqlOrderRepository::insert(const Order& o, std::span<const events::CloudEvent> events,
                                        const Saga* saga) {
  return db_.with([&](sql::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    auto r = c.run(
        "INSERT INTO orders(id, customer_id, status, reason, total_cents, payment_token, shipping_address,"
        " lines, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        {o.id, o.customer_id, to_string(o.status), o.reason, o.total_cents, o.payment_token,
         boost::json::serialize(to_json(o.shipping_address)), boost::json::serialize(to_json(o.lines)),
         o.created_at, o.updated_at});
    if (!r) return r;
    if (saga != nullptr) {
      if (auto written = write_saga(c, *saga); !written) return written;
    }
    if (auto appended = events::append_outbox(c, events); !appended) return appended;
    return c.commit();
  });
}

Result<std::optional<Saga>> SqlOrderRepository::find_saga(std::string_view order_id) {
  return db_.with([&](sql::Connection& c) { return read_saga(c, order_id, false); });
}

Result<bool> SqlOrderRepository::with_saga(std::string_view order_id, const std::optional<Handled>& handled,
                                           const SagaStep& step) {
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
    MERCATO_ASSIGN_OR_RETURN(auto order, select_order(c, order_id, true));
    MERCATO_ASSIGN_OR_RETURN(auto change, step(order, *saga));
    if (change.order_changed) {
      MERCATO_RETURN_IF_ERROR(update_order(c, order));
    }
    if (change.saga_changed) {
      MERCATO_RETURN_IF_ERROR(write_saga(c, *saga));
    }
    MERCATO_RETURN_IF_ERROR(events::append_outbox(c, change.events));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return true;
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

Result<Order> SqlOrderRepository::find(std::string_view id) {
  return db_.with([&](sql::Connection& c) { return select_order(c, id); });
}

Result<Page> SqlOrderRepository::page(std::string_view where_and_order, const sql::Params& params,
                                      std::int64_t limit) {
  return db_.with([&](sql::Connection& c) -> Result<Page> {
    // One row more than asked tells whether another page exists, without a COUNT(*).
    MERCATO_ASSIGN_OR_RETURN(
        auto orders,
        sql::read_all(c.query(std::string(kColumns) + std::string(where_and_order), params), read_row));
    Page page;
    page.has_more = static_cast<std::int64_t>(orders.size()) > limit;
    if (page.has_more) orders.resize(static_cast<std::size_t>(limit));
    page.orders = std::move(orders);
    return page;
  });
}

Result<Page> SqlOrderRepository::list_by_customer(std::string_view customer_id, std::int64_t offset,
                                                  std::int64_t limit) {
  return page(
      "WHERE customer_id = $1 ORDER BY created_at_ms DESC, " + insertion_order_ + " DESC LIMIT $2 OFFSET $3",
      {customer_id, limit + 1, offset}, limit);
}

Result<Page> SqlOrderRepository::list_all(std::int64_t offset, std::int64_t limit) {
  return page("ORDER BY created_at_ms, " + insertion_order_ + " LIMIT $1 OFFSET $2", {limit + 1, offset},
              limit);
}

Result<Order> SqlOrderRepository::update(std::string_view id,
                                         const std::function<Result<bool>(Order&)>& mutate,
                                         const EventsOf& events_of) {
  return db_.with([&](sql::Connection& c) -> Result<Order> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    auto order = select_order(c, id, true);
    if (!order) return order;  // the lease rolls the transaction back
    MERCATO_ASSIGN_OR_RETURN(auto changed, mutate(*order));
    if (!changed) return order;
    MERCATO_RETURN_IF_ERROR(update_order(c, *order));
    MERCATO_RETURN_IF_ERROR(events::append_outbox_of(c, events_of, *order));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return order;
  });
}

}  // namespace mercato::order
