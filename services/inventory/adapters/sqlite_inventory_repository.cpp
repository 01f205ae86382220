#include "adapters/sqlite_inventory_repository.hpp"

#include <sqlite3.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "mercato/events/store.hpp"

namespace mercato::inventory {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
const std::vector<sqlite::Migration> kMigrations = {
    {1, "create products and reservations",
     "CREATE TABLE products ("
     " product_id TEXT PRIMARY KEY,"
     " name TEXT NOT NULL,"
     " price_cents INTEGER NOT NULL CHECK (price_cents >= 0),"
     " available INTEGER NOT NULL,"
     " reserved INTEGER NOT NULL,"
     " sold INTEGER NOT NULL,"
     " created_at_ms INTEGER NOT NULL,"
     " updated_at_ms INTEGER NOT NULL,"
     " CHECK (available >= 0 AND reserved >= 0 AND sold >= 0));"
     "CREATE TABLE reservations ("
     " order_id TEXT PRIMARY KEY,"
     " status TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'released')),"
     " created_at_ms INTEGER NOT NULL,"
     " updated_at_ms INTEGER NOT NULL);"
     "CREATE TABLE reservation_items ("
     " order_id TEXT NOT NULL REFERENCES reservations(order_id),"
     " line INTEGER NOT NULL,"
     " product_id TEXT NOT NULL REFERENCES products(product_id),"
     " quantity INTEGER NOT NULL CHECK (quantity > 0),"
     " price_cents INTEGER NOT NULL CHECK (price_cents >= 0),"
     " PRIMARY KEY (order_id, line));"},
};

Error not_found_product(std::string_view id) {
  return Error::not_found("product " + std::string(id) + " not found");
}
Error no_reservation(std::string_view order_id) {
  return Error::not_found("order " + std::string(order_id) + " has no reservation");
}

// A failed write. The CHECK constraint firing means the domain rules let through what they must not:
// refuse the change (the lease rolls the transaction back) rather than store negative stock.
Error write_failed(sqlite::Connection& c, Error error) {
  if (c.last_error_code() == SQLITE_CONSTRAINT_CHECK) {
    return Error::internal("stock constraint violated; change refused: " + error.message);
  }
  return error;
}

Result<std::optional<Product>> select_product(sqlite::Connection& c, std::string_view id) {
  auto st = c.prepare(
      "SELECT product_id, name, price_cents, available, reserved, sold, created_at_ms, updated_at_ms"
      " FROM products WHERE product_id = ?1");
  st.bind(1, id);
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Product>();
  return std::optional<Product>(Product{st.text(0), st.text(1), st.integer(2), st.integer(3), st.integer(4),
                                        st.integer(5), from_unix_ms(st.integer(6)),
                                        from_unix_ms(st.integer(7))});
}

Result<void> insert_product(sqlite::Connection& c, const Product& p) {
  auto st = c.prepare(
      "INSERT INTO products(product_id, name, price_cents, available, reserved, sold, created_at_ms,"
      " updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  st.bind(1, p.product_id);
  st.bind(2, p.name);
  st.bind(3, p.price_cents);
  st.bind(4, p.available);
  st.bind(5, p.reserved);
  st.bind(6, p.sold);
  st.bind(7, to_unix_ms(p.created_at));
  st.bind(8, to_unix_ms(p.updated_at));
  if (auto r = st.run(); !r) return write_failed(c, std::move(r).error());
  return {};
}

Result<void> update_product(sqlite::Connection& c, const Product& p) {
  auto st = c.prepare(
      "UPDATE products SET name = ?2, price_cents = ?3, available = ?4, reserved = ?5, sold = ?6,"
      " updated_at_ms = ?7 WHERE product_id = ?1");
  st.bind(1, p.product_id);
  st.bind(2, p.name);
  st.bind(3, p.price_cents);
  st.bind(4, p.available);
  st.bind(5, p.reserved);
  st.bind(6, p.sold);
  st.bind(7, to_unix_ms(p.updated_at));
  if (auto r = st.run(); !r) return write_failed(c, std::move(r).error());
  if (c.changes() != 1) return Error::internal("product " + p.product_id + " vanished during an update");
  return {};
}

Result<std::optional<Reservation>> select_reservation(sqlite::Connection& c, std::string_view order_id) {
  Reservation r;
  {
    auto st = c.prepare("SELECT status, created_at_ms, updated_at_ms FROM reservations WHERE order_id = ?1");
    st.bind(1, order_id);
    auto row = st.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<Reservation>();
    auto status = parse_reservation_status(st.text(0));
    if (!status) return Error::internal("reservation " + std::string(order_id) + " has an unknown status");
    r = Reservation{
        std::string(order_id), *status, {}, from_unix_ms(st.integer(1)), from_unix_ms(st.integer(2))};
  }
  auto st = c.prepare(
      "SELECT product_id, quantity, price_cents FROM reservation_items WHERE order_id = ?1 ORDER BY line");
  st.bind(1, order_id);
  for (;;) {
    auto row = st.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    r.items.push_back({st.text(0), st.integer(1), st.integer(2)});
  }
  return std::optional<Reservation>(std::move(r));
}

Result<void> insert_reservation(sqlite::Connection& c, const Reservation& r) {
  {
    auto st = c.prepare(
        "INSERT INTO reservations(order_id, status, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4)");
    st.bind(1, r.order_id);
    st.bind(2, to_string(r.status));
    st.bind(3, to_unix_ms(r.created_at));
    st.bind(4, to_unix_ms(r.updated_at));
    if (auto run = st.run(); !run) return write_failed(c, std::move(run).error());
  }
  for (std::size_t i = 0; i < r.items.size(); ++i) {
    const auto& line = r.items[i];
    // A fresh lease of the cached statement per row: it is reset when `st` goes out of scope, and
    // SQLite refuses new bindings on a statement that has run and not been reset.
    auto st = c.prepare(
        "INSERT INTO reservation_items(order_id, line, product_id, quantity, price_cents)"
        " VALUES (?1, ?2, ?3, ?4, ?5)");
    st.bind(1, r.order_id);
    st.bind(2, static_cast<std::int64_t>(i));
    st.bind(3, line.product_id);
    st.bind(4, line.quantity);
    st.bind(5, line.price_cents);
    if (auto run = st.run(); !run) return write_failed(c, std::move(run).error());
  }
  return {};
}

}  // namespace

SqliteInventoryRepository::SqliteInventoryRepository(sqlite::Database& db) : db_(db) {
  if (auto r = db_.migrate(kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<PutProductResult> SqliteInventoryRepository::put_product(const std::string& product_id,
                                                                const ProductInput& input, SystemTime now,
                                                                std::span<const events::CloudEvent> events) {
  return db_.with([&](sqlite::Connection& c) -> Result<PutProductResult> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto existing = select_product(c, product_id);
    if (!existing) return std::move(existing).error();
    PutProductResult result;
    if (*existing) {
      result.product = std::move(**existing);
      replace(result.product, input, now);
      if (auto r = update_product(c, result.product); !r) return std::move(r).error();
    } else {
      result.product = make_product(product_id, input, now);
      result.created = true;
      if (auto r = insert_product(c, result.product); !r) return std::move(r).error();
    }
    if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return result;
  });
}

Result<Product> SqliteInventoryRepository::find_product(std::string_view product_id) {
  return db_.with([&](sqlite::Connection& c) -> Result<Product> {
    auto product = select_product(c, product_id);
    if (!product) return std::move(product).error();
    if (!*product) return not_found_product(product_id);
    return std::move(**product);
  });
}

Result<ReserveResult> SqliteInventoryRepository::reserve(const ReservationRequest& request, SystemTime now,
                                                         std::span<const events::CloudEvent> events) {
  return db_.with([&](sqlite::Connection& c) -> Result<ReserveResult> {
    // Every early return below leaves the transaction open; the lease rolls it back, so nothing of a
    // refused request is ever written.
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto existing = select_reservation(c, request.order_id);
    if (!existing) return std::move(existing).error();
    if (*existing) {
      if (!same_items(**existing, request)) {
        return Error::conflict("order " + request.order_id + " already has a reservation with other items",
                               "order_id");
      }
      return ReserveResult{std::move(**existing), false};
    }
    std::vector<std::optional<Product>> products;
    products.reserve(request.items.size());
    for (const auto& item : request.items) {
      auto product = select_product(c, item.product_id);
      if (!product) return std::move(product).error();
      products.push_back(std::move(*product));
    }
    auto reservation = inventory::reserve(request, products, now);
    if (!reservation) return std::move(reservation).error();
    for (const auto& product : products) {
      if (auto r = update_product(c, *product); !r) return std::move(r).error();
    }
    if (auto r = insert_reservation(c, *reservation); !r) return std::move(r).error();
    if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return ReserveResult{std::move(*reservation), true};
  });
}

Result<SettleResult> SqliteInventoryRepository::settle(std::string_view order_id, ReservationStatus target,
                                                       SystemTime now, const EventsOf& events_of) {
  return db_.with([&](sqlite::Connection& c) -> Result<SettleResult> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto found = select_reservation(c, order_id);
    if (!found) return std::move(found).error();
    if (!*found) return no_reservation(order_id);
    Reservation reservation = std::move(**found);
    auto moved = transition(reservation, target, now);
    if (!moved) return std::move(moved).error();
    if (!*moved)
      return SettleResult{std::move(reservation), false};  // already there: a retry, nothing to write
    for (const auto& line : reservation.items) {
      auto product = select_product(c, line.product_id);
      if (!product) return std::move(product).error();
      if (!*product) return Error::internal("reserved product " + line.product_id + " is missing");
      if (auto r = settle_line(**product, line.quantity, target, now); !r) return std::move(r).error();
      if (auto r = update_product(c, **product); !r) return std::move(r).error();
    }
    auto st = c.prepare("UPDATE reservations SET status = ?2, updated_at_ms = ?3 WHERE order_id = ?1");
    st.bind(1, reservation.order_id);
    st.bind(2, to_string(reservation.status));
    st.bind(3, to_unix_ms(reservation.updated_at));
    if (auto r = st.run(); !r) return write_failed(c, std::move(r).error());
    if (events_of) {
      auto events = events_of(reservation);
      if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    }
    if (auto r = c.commit(); !r) return std::move(r).error();
    return SettleResult{std::move(reservation), true};
  });
}

Result<Reservation> SqliteInventoryRepository::find_reservation(std::string_view order_id) {
  return db_.with([&](sqlite::Connection& c) -> Result<Reservation> {
    auto found = select_reservation(c, order_id);
    if (!found) return std::move(found).error();
    if (!*found) return no_reservation(order_id);
    return std::move(**found);
  });
}

Result<void> SqliteInventoryRepository::ping() { return db_.ping(); }

}  // namespace mercato::inventory
