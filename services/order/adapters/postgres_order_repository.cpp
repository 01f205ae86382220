#include "adapters/postgres_order_repository.hpp"

#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "adapters/json_codec.hpp"
#include "mercato/events/store.hpp"

namespace mercato::order {
namespace {

// Versioned and append-only, mirroring the SQLite schema. `seq` stands in for SQLite's rowid: it orders
// a customer's orders placed in the same millisecond.
const std::vector<postgres::Migration> kMigrations = {
    {1, "create orders",
     "CREATE TABLE orders ("
     " seq BIGINT GENERATED ALWAYS AS IDENTITY,"
     " id TEXT PRIMARY KEY,"
     " customer_id TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " reason TEXT NOT NULL DEFAULT '',"
     " total_cents BIGINT NOT NULL CHECK (total_cents >= 0),"
     " payment_token TEXT NOT NULL,"
     " shipping_address JSONB NOT NULL,"
     " lines JSONB NOT NULL,"
     " created_at_ms BIGINT NOT NULL,"
     " updated_at_ms BIGINT NOT NULL);"
     "CREATE INDEX orders_by_customer ON orders(customer_id, created_at_ms DESC, seq DESC);"},
    {2, "create order_sagas",
     "CREATE TABLE order_sagas ("
     " order_id TEXT PRIMARY KEY REFERENCES orders(id),"
     " state TEXT NOT NULL,"
     " next_deadline_ms BIGINT,"  // NULL once finished
     " saga JSONB NOT NULL);"
     "CREATE INDEX order_sagas_due ON order_sagas(next_deadline_ms) WHERE next_deadline_ms IS NOT NULL;"},
};

constexpr std::string_view kColumns =
    "SELECT id, customer_id, status, reason, total_cents, payment_token, shipping_address::text, lines::text,"
    " created_at_ms, updated_at_ms FROM orders ";

Result<Order> read_row(const postgres::Rows& rows, int i) {
  Order o;
  o.id = rows.text(i, 0);
  o.customer_id = rows.text(i, 1);
  auto status = parse_status(rows.text(i, 2));
  if (!status) return Error::internal("order " + o.id + " has an unknown stored status");
  o.status = *status;
  o.reason = rows.text(i, 3);
  o.total_cents = rows.integer(i, 4);
  o.payment_token = rows.text(i, 5);
  auto address = address_from_json(rows.text(i, 6));
  if (!address) return std::move(address).error();
  o.shipping_address = std::move(*address);
  auto lines = lines_from_json(rows.text(i, 7));
  if (!lines) return std::move(lines).error();
  o.lines = std::move(*lines);
  o.created_at = from_unix_ms(rows.integer(i, 8));
  o.updated_at = from_unix_ms(rows.integer(i, 9));
  return o;
}

// `lock` adds FOR UPDATE: the read of a read-modify-write, so a concurrent update waits for this one.
Result<Order> select_order(postgres::Connection& c, std::string_view id, bool lock = false) {
  static const std::string sql = std::string(kColumns) + "WHERE id = $1";
  static const std::string locking = sql + " FOR UPDATE";
  auto rows = c.query(lock ? locking : sql, {id});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return Error::not_found("order " + std::string(id) + " not found");
  return read_row(*rows, 0);
}

Result<void> write_saga(postgres::Connection& c, const Saga& saga) {
  auto deadline = saga.next_deadline();
  auto r = c.query(
      "INSERT INTO order_sagas(order_id, state, next_deadline_ms, saga) VALUES ($1, $2, $3, $4::jsonb)"
      " ON CONFLICT (order_id) DO UPDATE SET state = excluded.state, next_deadline_ms = "
      "excluded.next_deadline_ms,"
      " saga = excluded.saga",
      {saga.order_id, to_string(saga.state),
       deadline ? postgres::Param(to_unix_ms(*deadline)) : postgres::Param(std::nullopt),
       boost::json::serialize(to_json(saga))});
  if (!r) return std::move(r).error();
  return {};
}

Result<std::optional<Saga>> read_saga(postgres::Connection& c, std::string_view order_id, bool lock) {
  auto rows = c.query(lock ? "SELECT saga::text FROM order_sagas WHERE order_id = $1 FOR UPDATE"
                           : "SELECT saga::text FROM order_sagas WHERE order_id = $1",
                      {order_id});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<Saga>();
  auto saga = saga_from_json(rows->text(0, 0));
  if (!saga) return std::move(saga).error();
  return std::optional<Saga>(std::move(*saga));
}

}  // namespace

PostgresOrderRepository::PostgresOrderRepository(postgres::Database& db) : db_(db) {
  if (auto r = db_.migrate("order", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> PostgresOrderRepository::insert(const Order& o, std::span<const events::CloudEvent> events,
                                             const Saga* saga) {
  return db_.with([&](postgres::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    auto r = c.query(
        "INSERT INTO orders(id, customer_id, status, reason, total_cents, payment_token, shipping_address,"
        " lines, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, "
        "$10)",
        {o.id, o.customer_id, to_string(o.status), o.reason, o.total_cents, o.payment_token,
         boost::json::serialize(to_json(o.shipping_address)), boost::json::serialize(to_json(o.lines)),
         to_unix_ms(o.created_at), to_unix_ms(o.updated_at)});
    if (!r) return std::move(r).error();
    if (saga != nullptr) {
      if (auto written = write_saga(c, *saga); !written) return written;
    }
    if (auto appended = events::append_outbox(c, events); !appended) return appended;
    return c.commit();
  });
}

Result<std::optional<Saga>> PostgresOrderRepository::find_saga(std::string_view order_id) {
  return db_.with([&](postgres::Connection& c) { return read_saga(c, order_id, false); });
}

Result<bool> PostgresOrderRepository::with_saga(std::string_view order_id,
                                                const std::optional<Handled>& handled, const SagaStep& step) {
  return db_.with([&](postgres::Connection& c) -> Result<bool> {
    if (auto r = c.begin(); !r) return std::move(r).error();
    if (handled) {
      auto first = events::record_handled(c, handled->consumer, handled->event_id);
      if (!first) return std::move(first).error();
      if (!*first) return false;
    }
    // FOR UPDATE: an answer and a timeout for one saga are applied one after the other.
    auto saga = read_saga(c, order_id, true);
    if (!saga) return std::move(saga).error();
    if (!*saga) {
      if (auto r = c.commit(); !r) return std::move(r).error();
      return Error::not_found("order " + std::string(order_id) + " has no saga");
    }
    auto order = select_order(c, order_id, true);
    if (!order) return std::move(order).error();
    auto change = step(*order, **saga);
    if (!change) return std::move(change).error();
    if (change->order_changed) {
      auto r = c.query("UPDATE orders SET status = $2, reason = $3, updated_at_ms = $4 WHERE id = $1",
                       {order->id, to_string(order->status), order->reason, to_unix_ms(order->updated_at)});
      if (!r) return std::move(r).error();
    }
    if (change->saga_changed) {
      if (auto r = write_saga(c, **saga); !r) return std::move(r).error();
    }
    if (auto r = events::append_outbox(c, change->events); !r) return std::move(r).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return true;
  });
}

Result<std::vector<std::string>> PostgresOrderRepository::sagas_due(SystemTime now, std::size_t limit) {
  return db_.with([&](postgres::Connection& c) -> Result<std::vector<std::string>> {
    auto rows = c.query(
        "SELECT order_id FROM order_sagas WHERE next_deadline_ms IS NOT NULL AND next_deadline_ms <= $1"
        " ORDER BY next_deadline_ms LIMIT $2",
        {to_unix_ms(now), static_cast<std::int64_t>(limit)});
    if (!rows) return std::move(rows).error();
    std::vector<std::string> ids;
    for (int i = 0; i < rows->size(); ++i) ids.push_back(rows->text(i, 0));
    return ids;
  });
}

Result<Order> PostgresOrderRepository::find(std::string_view id) {
  return db_.with([&](postgres::Connection& c) { return select_order(c, id); });
}

Result<Page> PostgresOrderRepository::list_by_customer(std::string_view customer_id, std::int64_t offset,
                                                       std::int64_t limit) {
  return db_.with([&](postgres::Connection& c) -> Result<Page> {
    // One row more than asked tells whether another page exists, without a COUNT(*).
    static const std::string sql =
        std::string(kColumns) +
        "WHERE customer_id = $1 ORDER BY created_at_ms DESC, seq DESC LIMIT $2 OFFSET $3";
    auto rows = c.query(sql, {customer_id, limit + 1, offset});
    if (!rows) return std::move(rows).error();
    Page page;
    for (int i = 0; i < rows->size(); ++i) {
      if (static_cast<std::int64_t>(page.orders.size()) == limit) {
        page.has_more = true;
        break;
      }
      auto order = read_row(*rows, i);
      if (!order) return std::move(order).error();
      page.orders.push_back(std::move(*order));
    }
    return page;
  });
}

Result<Page> PostgresOrderRepository::list_all(std::int64_t offset, std::int64_t limit) {
  return db_.with([&](postgres::Connection& c) -> Result<Page> {
    static const std::string sql = std::string(kColumns) + "ORDER BY created_at_ms, seq LIMIT $1 OFFSET $2";
    auto rows = c.query(sql, {limit + 1, offset});
    if (!rows) return std::move(rows).error();
    Page page;
    for (int i = 0; i < rows->size(); ++i) {
      if (static_cast<std::int64_t>(page.orders.size()) == limit) {
        page.has_more = true;
        break;
      }
      auto order = read_row(*rows, i);
      if (!order) return std::move(order).error();
      page.orders.push_back(std::move(*order));
    }
    return page;
  });
}

Result<Order> PostgresOrderRepository::update(std::string_view id,
                                              const std::function<Result<bool>(Order&)>& mutate,
                                              const EventsOf& events_of) {
  return db_.with([&](postgres::Connection& c) -> Result<Order> {
    if (auto r = c.begin(); !r) return std::move(r).error();
    auto order = select_order(c, id, true);
    if (!order) return order;  // the lease rolls the transaction back
    auto changed = mutate(*order);
    if (!changed) return std::move(changed).error();
    if (!*changed) return order;
    auto r = c.query("UPDATE orders SET status = $2, reason = $3, updated_at_ms = $4 WHERE id = $1",
                     {order->id, to_string(order->status), order->reason, to_unix_ms(order->updated_at)});
    if (!r) return std::move(r).error();
    if (events_of) {
      auto events = events_of(*order);
      if (auto appended = events::append_outbox(c, events); !appended) return std::move(appended).error();
    }
    if (auto done = c.commit(); !done) return std::move(done).error();
    return order;
  });
}

}  // namespace mercato::order
