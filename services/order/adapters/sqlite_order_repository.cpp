#include "adapters/sqlite_order_repository.hpp"

#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "adapters/json_codec.hpp"
#include "mercato/events/store.hpp"

namespace mercato::order {
namespace {

const std::vector<sqlite::Migration> kMigrations = {
    {1, "create orders",
     "CREATE TABLE orders ("
     " id TEXT PRIMARY KEY,"
     " customer_id TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " reason TEXT NOT NULL DEFAULT '',"
     " total_cents INTEGER NOT NULL CHECK (total_cents >= 0),"
     " payment_token TEXT NOT NULL,"
     " shipping_address TEXT NOT NULL,"
     " lines TEXT NOT NULL,"
     " created_at_ms INTEGER NOT NULL,"
     " updated_at_ms INTEGER NOT NULL);"
     "CREATE INDEX orders_by_customer ON orders(customer_id, created_at_ms DESC);"},
    {2, "create order_sagas",
     "CREATE TABLE order_sagas ("
     " order_id TEXT PRIMARY KEY REFERENCES orders(id),"
     " state TEXT NOT NULL,"
     " next_deadline_ms INTEGER,"  // NULL once finished
     " saga TEXT NOT NULL);"
     "CREATE INDEX order_sagas_due ON order_sagas(next_deadline_ms) WHERE next_deadline_ms IS NOT NULL;"},
};

Result<void> write_saga(sqlite::Connection& c, const Saga& saga) {
  auto st = c.prepare(
      "INSERT INTO order_sagas(order_id, state, next_deadline_ms, saga) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT(order_id) DO UPDATE SET state = excluded.state, next_deadline_ms = "
      "excluded.next_deadline_ms,"
      " saga = excluded.saga");
  st.bind(1, saga.order_id);
  st.bind(2, to_string(saga.state));
  if (auto deadline = saga.next_deadline()) {
    st.bind(3, to_unix_ms(*deadline));
  } else {
    st.bind_null(3);
  }
  st.bind(4, boost::json::serialize(to_json(saga)));
  return st.run();
}

Result<std::optional<Saga>> read_saga(sqlite::Connection& c, std::string_view order_id) {
  auto st = c.prepare("SELECT saga FROM order_sagas WHERE order_id = ?1");
  st.bind(1, order_id);
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Saga>();
  auto saga = saga_from_json(st.text(0));
  if (!saga) return std::move(saga).error();
  return std::optional<Saga>(std::move(*saga));
}

constexpr const char* kColumns =
    "SELECT id, customer_id, status, reason, total_cents, payment_token, shipping_address, lines, "
    "created_at_ms,"
    " updated_at_ms FROM orders ";

Result<Order> read_row(const sqlite::Statement& st) {
  Order o;
  o.id = st.text(0);
  o.customer_id = st.text(1);
  auto status = parse_status(st.text(2));
  if (!status) return Error::internal("order " + o.id + " has an unknown stored status");
  o.status = *status;
  o.reason = st.text(3);
  o.total_cents = st.integer(4);
  o.payment_token = st.text(5);
  auto address = address_from_json(st.text(6));
  if (!address) return std::move(address).error();
  o.shipping_address = std::move(*address);
  auto lines = lines_from_json(st.text(7));
  if (!lines) return std::move(lines).error();
  o.lines = std::move(*lines);
  o.created_at = from_unix_ms(st.integer(8));
  o.updated_at = from_unix_ms(st.integer(9));
  return o;
}

Result<Order> select_order(sqlite::Connection& c, std::string_view id) {
  auto st = c.prepare(std::string(kColumns) + "WHERE id = ?1");
  st.bind(1, id);
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return Error::not_found("order " + std::string(id) + " not found");
  return read_row(st);
}

}  // namespace

SqliteOrderRepository::SqliteOrderRepository(sqlite::Database& db) : db_(db) {
  if (auto r = db_.migrate(kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> SqliteOrderRepository::insert(const Order& o, std::span<const events::CloudEvent> events,
                                           const Saga* saga) {
  return db_.with([&](sqlite::Connection& c) -> Result<void> {
    if (auto r = c.begin_immediate(); !r) return r;
    auto st = c.prepare(
        "INSERT INTO orders(id, customer_id, status, reason, total_cents, payment_token, shipping_address, "
        "lines,"
        " created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    st.bind(1, o.id);
    st.bind(2, o.customer_id);
    st.bind(3, to_string(o.status));
    st.bind(4, o.reason);
    st.bind(5, o.total_cents);
    st.bind(6, o.payment_token);
    st.bind(7, boost::json::serialize(to_json(o.shipping_address)));
    st.bind(8, boost::json::serialize(to_json(o.lines)));
    st.bind(9, to_unix_ms(o.created_at));
    st.bind(10, to_unix_ms(o.updated_at));
    if (auto r = st.run(); !r) return r;
    if (saga != nullptr) {
      if (auto r = write_saga(c, *saga); !r) return r;
    }
    if (auto r = events::append_outbox(c, events); !r) return r;
    return c.commit();
  });
}

Result<std::optional<Saga>> SqliteOrderRepository::find_saga(std::string_view order_id) {
  return db_.with([&](sqlite::Connection& c) { return read_saga(c, order_id); });
}

Result<bool> SqliteOrderRepository::with_saga(std::string_view order_id,
                                              const std::optional<Handled>& handled, const SagaStep& step) {
  return db_.with([&](sqlite::Connection& c) -> Result<bool> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    if (handled) {
      auto first = events::record_handled(c, handled->consumer, handled->event_id);
      if (!first) return std::move(first).error();
      if (!*first) return false;
    }
    auto saga = read_saga(c, order_id);
    if (!saga) return std::move(saga).error();
    if (!*saga) {
      // Keep the inbox record: an answer for an order without a saga is handled (by ignoring it).
      if (auto r = c.commit(); !r) return std::move(r).error();
      return Error::not_found("order " + std::string(order_id) + " has no saga");
    }
    auto order = select_order(c, order_id);
    if (!order) return std::move(order).error();
    auto change = step(*order, **saga);
    if (!change) return std::move(change).error();
    if (change->order_changed) {
      auto st = c.prepare("UPDATE orders SET status = ?2, reason = ?3, updated_at_ms = ?4 WHERE id = ?1");
      st.bind(1, order->id);
      st.bind(2, to_string(order->status));
      st.bind(3, order->reason);
      st.bind(4, to_unix_ms(order->updated_at));
      if (auto r = st.run(); !r) return std::move(r).error();
    }
    if (change->saga_changed) {
      if (auto r = write_saga(c, **saga); !r) return std::move(r).error();
    }
    if (auto r = events::append_outbox(c, change->events); !r) return std::move(r).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return true;
  });
}

Result<std::vector<std::string>> SqliteOrderRepository::sagas_due(SystemTime now, std::size_t limit) {
  return db_.with([&](sqlite::Connection& c) -> Result<std::vector<std::string>> {
    auto st = c.prepare(
        "SELECT order_id FROM order_sagas WHERE next_deadline_ms IS NOT NULL AND next_deadline_ms <= ?1"
        " ORDER BY next_deadline_ms LIMIT ?2");
    st.bind(1, to_unix_ms(now));
    st.bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> ids;
    for (;;) {
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      ids.push_back(st.text(0));
    }
    return ids;
  });
}

Result<Order> SqliteOrderRepository::find(std::string_view id) {
  return db_.with([&](sqlite::Connection& c) { return select_order(c, id); });
}

Result<Page> SqliteOrderRepository::list_by_customer(std::string_view customer_id, std::int64_t offset,
                                                     std::int64_t limit) {
  return db_.with([&](sqlite::Connection& c) -> Result<Page> {
    // One row more than asked tells whether another page exists, without a COUNT(*).
    auto st = c.prepare(std::string(kColumns) +
                        "WHERE customer_id = ?1 ORDER BY created_at_ms DESC, rowid DESC LIMIT ?2 OFFSET ?3");
    st.bind(1, customer_id);
    st.bind(2, limit + 1);
    st.bind(3, offset);
    Page page;
    for (;;) {
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      if (static_cast<std::int64_t>(page.orders.size()) == limit) {
        page.has_more = true;
        break;
      }
      auto order = read_row(st);
      if (!order) return std::move(order).error();
      page.orders.push_back(std::move(*order));
    }
    return page;
  });
}

Result<Page> SqliteOrderRepository::list_all(std::int64_t offset, std::int64_t limit) {
  return db_.with([&](sqlite::Connection& c) -> Result<Page> {
    auto st = c.prepare(std::string(kColumns) + "ORDER BY created_at_ms, rowid LIMIT ?1 OFFSET ?2");
    st.bind(1, limit + 1);
    st.bind(2, offset);
    Page page;
    for (;;) {
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      if (static_cast<std::int64_t>(page.orders.size()) == limit) {
        page.has_more = true;
        break;
      }
      auto order = read_row(st);
      if (!order) return std::move(order).error();
      page.orders.push_back(std::move(*order));
    }
    return page;
  });
}

Result<Order> SqliteOrderRepository::update(std::string_view id,
                                            const std::function<Result<bool>(Order&)>& mutate,
                                            const EventsOf& events_of) {
  return db_.with([&](sqlite::Connection& c) -> Result<Order> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto order = select_order(c, id);
    if (!order) return order;
    auto changed = mutate(*order);
    if (!changed) return std::move(changed).error();
    if (!*changed) return order;
    auto st = c.prepare("UPDATE orders SET status = ?2, reason = ?3, updated_at_ms = ?4 WHERE id = ?1");
    st.bind(1, order->id);
    st.bind(2, to_string(order->status));
    st.bind(3, order->reason);
    st.bind(4, to_unix_ms(order->updated_at));
    if (auto r = st.run(); !r) return std::move(r).error();
    if (events_of) {
      auto events = events_of(*order);
      if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    }
    if (auto r = c.commit(); !r) return std::move(r).error();
    return order;
  });
}

}  // namespace mercato::order
