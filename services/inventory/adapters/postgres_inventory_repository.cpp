#include "adapters/postgres_inventory_repository.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "mercato/events/store.hpp"

namespace mercato::inventory {
namespace {

// Versioned and append-only, mirroring the SQLite schema. `line` keeps the items in the order the
// request gave them; an order names each product at most once (domain validate()), so the key is
// (order_id, product_id).
const std::vector<postgres::Migration> kMigrations = {
    {1, "create products and reservations",
     "CREATE TABLE products ("
     " product_id TEXT PRIMARY KEY,"
     " name TEXT NOT NULL,"
     " price_cents BIGINT NOT NULL CHECK (price_cents >= 0),"
     " available BIGINT NOT NULL CHECK (available >= 0),"
     " reserved BIGINT NOT NULL CHECK (reserved >= 0),"
     " sold BIGINT NOT NULL CHECK (sold >= 0),"
     " created_at_ms BIGINT NOT NULL,"
     " updated_at_ms BIGINT NOT NULL);"
     "CREATE TABLE reservations ("
     " order_id TEXT PRIMARY KEY,"
     " status TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'released')),"
     " created_at_ms BIGINT NOT NULL,"
     " updated_at_ms BIGINT NOT NULL);"
     "CREATE TABLE reservation_items ("
     " order_id TEXT NOT NULL REFERENCES reservations(order_id),"
     " product_id TEXT NOT NULL REFERENCES products(product_id),"
     " line INTEGER NOT NULL,"
     " quantity BIGINT NOT NULL CHECK (quantity > 0),"
     " price_cents BIGINT NOT NULL CHECK (price_cents >= 0),"
     " PRIMARY KEY (order_id, product_id));"},
};

constexpr std::string_view kCheckViolation = "23514";
constexpr std::string_view kProductColumns =
    "product_id, name, price_cents, available, reserved, sold, created_at_ms, updated_at_ms";

Error not_found_product(std::string_view id) {
  return Error::not_found("product " + std::string(id) + " not found");
}
Error no_reservation(std::string_view order_id) {
  return Error::not_found("order " + std::string(order_id) + " has no reservation");
}

// A failed write. The CHECK constraint firing means the domain rules let through what they must not:
// refuse the change (the lease rolls the transaction back) rather than store negative stock.
Error write_failed(postgres::Connection& c, Error error) {
  if (c.last_sqlstate() == kCheckViolation) {
    return Error::internal("stock constraint violated; change refused: " + error.message);
  }
  return error;
}

Product read_product(const postgres::Rows& rows, int i) {
  return Product{rows.text(i, 0),
                 rows.text(i, 1),
                 rows.integer(i, 2),
                 rows.integer(i, 3),
                 rows.integer(i, 4),
                 rows.integer(i, 5),
                 from_unix_ms(rows.integer(i, 6)),
                 from_unix_ms(rows.integer(i, 7))};
}

// `lock` adds FOR UPDATE: the read of a read-modify-write, so a concurrent writer waits for this one.
Result<std::optional<Product>> select_product(postgres::Connection& c, std::string_view id, bool lock) {
  static const std::string sql =
      "SELECT " + std::string(kProductColumns) + " FROM products WHERE product_id = $1";
  static const std::string locking = sql + " FOR UPDATE";
  auto rows = c.query(lock ? locking : sql, {id});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<Product>();
  return std::optional<Product>(read_product(*rows, 0));
}

// A PostgreSQL array literal of text elements, each quoted and escaped: it travels as a parameter
// value (never as SQL), so quoting is only about the array syntax.
std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char ch : values[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

// Locks the named products in product-id order (every writer takes them in that order, so two
// transactions never deadlock over them) and returns those that exist, by id.
Result<std::map<std::string, Product, std::less<>>> lock_products(postgres::Connection& c,
                                                                  std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  static const std::string sql = "SELECT " + std::string(kProductColumns) +
                                 " FROM products WHERE product_id = ANY($1::text[]) ORDER BY product_id"
                                 " FOR UPDATE";
  auto rows = c.query(sql, {text_array(ids)});
  if (!rows) return std::move(rows).error();
  std::map<std::string, Product, std::less<>> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto p = read_product(*rows, i);
    auto id = p.product_id;
    out.emplace(std::move(id), std::move(p));
  }
  return out;
}

Result<void> insert_product(postgres::Connection& c, const Product& p, bool& inserted) {
  auto r = c.query(
      "INSERT INTO products(product_id, name, price_cents, available, reserved, sold, created_at_ms,"
      " updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (product_id) DO NOTHING",
      {p.product_id, p.name, p.price_cents, p.available, p.reserved, p.sold, to_unix_ms(p.created_at),
       to_unix_ms(p.updated_at)});
  if (!r) return write_failed(c, std::move(r).error());
  inserted = r->affected() == 1;
  return {};
}

Result<void> update_product(postgres::Connection& c, const Product& p) {
  auto r = c.query(
      "UPDATE products SET name = $2, price_cents = $3, available = $4, reserved = $5, sold = $6,"
      " updated_at_ms = $7 WHERE product_id = $1",
      {p.product_id, p.name, p.price_cents, p.available, p.reserved, p.sold, to_unix_ms(p.updated_at)});
  if (!r) return write_failed(c, std::move(r).error());
  if (r->affected() != 1) return Error::internal("product " + p.product_id + " vanished during an update");
  return {};
}

Result<std::optional<Reservation>> select_reservation(postgres::Connection& c, std::string_view order_id,
                                                      bool lock) {
  static const std::string sql =
      "SELECT status, created_at_ms, updated_at_ms FROM reservations WHERE order_id = $1";
  static const std::string locking = sql + " FOR UPDATE";
  auto head = c.query(lock ? locking : sql, {order_id});
  if (!head) return std::move(head).error();
  if (head->empty()) return std::optional<Reservation>();
  auto status = parse_reservation_status(head->text(0, 0));
  if (!status) return Error::internal("reservation " + std::string(order_id) + " has an unknown status");
  Reservation r{std::string(order_id),
                *status,
                {},
                from_unix_ms(head->integer(0, 1)),
                from_unix_ms(head->integer(0, 2))};
  auto items = c.query(
      "SELECT product_id, quantity, price_cents FROM reservation_items WHERE order_id = $1 ORDER BY line",
      {order_id});
  if (!items) return std::move(items).error();
  for (int i = 0; i < items->size(); ++i) {
    r.items.push_back({items->text(i, 0), items->integer(i, 1), items->integer(i, 2)});
  }
  return std::optional<Reservation>(std::move(r));
}

}  // namespace

PostgresInventoryRepository::PostgresInventoryRepository(postgres::Database& db) : db_(db) {
  if (auto r = db_.migrate("inventory", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<PutProductResult> PostgresInventoryRepository::put_product(
    const std::string& product_id, const ProductInput& input, SystemTime now,
    std::span<const events::CloudEvent> events) {
  return db_.with([&](postgres::Connection& c) -> Result<PutProductResult> {
    if (auto r = c.begin(); !r) return std::move(r).error();
    PutProductResult result;
    auto existing = select_product(c, product_id, true);
    if (!existing) return std::move(existing).error();
    if (!*existing) {
      // ON CONFLICT: a concurrent creation of the same id makes this insert wait for it and insert
      // nothing; the product is then replaced below, as if this call had come second.
      result.product = make_product(product_id, input, now);
      bool inserted = false;
      if (auto r = insert_product(c, result.product, inserted); !r) return std::move(r).error();
      if (inserted) {
        result.created = true;
        if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
        if (auto r = c.commit(); !r) return std::move(r).error();
        return result;
      }
      existing = select_product(c, product_id, true);
      if (!existing) return std::move(existing).error();
      if (!*existing) return Error::internal("product " + product_id + " vanished during a replace");
    }
    result.product = std::move(**existing);
    replace(result.product, input, now);
    if (auto r = update_product(c, result.product); !r) return std::move(r).error();
    if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return result;
  });
}

Result<Product> PostgresInventoryRepository::find_product(std::string_view product_id) {
  return db_.with([&](postgres::Connection& c) -> Result<Product> {
    auto product = select_product(c, product_id, false);
    if (!product) return std::move(product).error();
    if (!*product) return not_found_product(product_id);
    return std::move(**product);
  });
}

Result<ReserveResult> PostgresInventoryRepository::reserve(const ReservationRequest& request, SystemTime now,
                                                           std::span<const events::CloudEvent> events) {
  return db_.with([&](postgres::Connection& c) -> Result<ReserveResult> {
    // Every early return below leaves the transaction open; the lease rolls it back, so nothing of a
    // refused request (not even the reservation row claimed first) is ever written.
    if (auto r = c.begin(); !r) return std::move(r).error();
    // Claim the order id first. A concurrent request for the same order waits here for this one to
    // finish: after a commit it inserts nothing and reads the stored reservation (a replay or a 409);
    // after a rollback (a 422) its own insert goes through.
    auto claimed = c.query(
        "INSERT INTO reservations(order_id, status, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $3)"
        " ON CONFLICT (order_id) DO NOTHING",
        {request.order_id, to_string(ReservationStatus::kReserved), to_unix_ms(now)});
    if (!claimed) return write_failed(c, std::move(claimed).error());
    if (claimed->affected() != 1) {
      auto existing = select_reservation(c, request.order_id, false);
      if (!existing) return std::move(existing).error();
      if (!*existing) return Error::internal("reservation " + request.order_id + " vanished during a replay");
      if (!same_items(**existing, request)) {
        return Error::conflict("order " + request.order_id + " already has a reservation with other items",
                               "order_id");
      }
      return ReserveResult{std::move(**existing), false};
    }
    std::vector<std::string> ids;
    ids.reserve(request.items.size());
    for (const auto& item : request.items) ids.push_back(item.product_id);
    auto locked = lock_products(c, std::move(ids));
    if (!locked) return std::move(locked).error();
    std::vector<std::optional<Product>> products;
    products.reserve(request.items.size());
    for (const auto& item : request.items) {
      auto it = locked->find(item.product_id);
      products.push_back(it == locked->end() ? std::nullopt : std::optional<Product>(it->second));
    }
    auto reservation = inventory::reserve(request, products, now);
    if (!reservation) return std::move(reservation).error();
    for (const auto& product : products) {
      if (auto r = update_product(c, *product); !r) return std::move(r).error();
    }
    for (std::size_t i = 0; i < reservation->items.size(); ++i) {
      const auto& line = reservation->items[i];
      auto r = c.query(
          "INSERT INTO reservation_items(order_id, product_id, line, quantity, price_cents)"
          " VALUES ($1, $2, $3, $4, $5)",
          {reservation->order_id, line.product_id, static_cast<std::int64_t>(i), line.quantity,
           line.price_cents});
      if (!r) return write_failed(c, std::move(r).error());
    }
    if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    if (auto r = c.commit(); !r) return std::move(r).error();
    return ReserveResult{std::move(*reservation), true};
  });
}

Result<SettleResult> PostgresInventoryRepository::settle(std::string_view order_id, ReservationStatus target,
                                                         SystemTime now, const EventsOf& events_of) {
  return db_.with([&](postgres::Connection& c) -> Result<SettleResult> {
    if (auto r = c.begin(); !r) return std::move(r).error();
    auto found = select_reservation(c, order_id, true);
    if (!found) return std::move(found).error();
    if (!*found) return no_reservation(order_id);
    Reservation reservation = std::move(**found);
    auto moved = transition(reservation, target, now);
    if (!moved) return std::move(moved).error();
    if (!*moved)
      return SettleResult{std::move(reservation), false};  // already there: a retry, nothing to write
    std::vector<std::string> ids;
    ids.reserve(reservation.items.size());
    for (const auto& line : reservation.items) ids.push_back(line.product_id);
    auto locked = lock_products(c, std::move(ids));
    if (!locked) return std::move(locked).error();
    for (const auto& line : reservation.items) {
      auto it = locked->find(line.product_id);
      if (it == locked->end()) return Error::internal("reserved product " + line.product_id + " is missing");
      if (auto r = settle_line(it->second, line.quantity, target, now); !r) return std::move(r).error();
      if (auto r = update_product(c, it->second); !r) return std::move(r).error();
    }
    auto r =
        c.query("UPDATE reservations SET status = $2, updated_at_ms = $3 WHERE order_id = $1",
                {reservation.order_id, to_string(reservation.status), to_unix_ms(reservation.updated_at)});
    if (!r) return write_failed(c, std::move(r).error());
    if (events_of) {
      auto events = events_of(reservation);
      if (auto appended = events::append_outbox(c, events); !appended) return std::move(appended).error();
    }
    if (auto done = c.commit(); !done) return std::move(done).error();
    return SettleResult{std::move(reservation), true};
  });
}

Result<Reservation> PostgresInventoryRepository::find_reservation(std::string_view order_id) {
  return db_.with([&](postgres::Connection& c) -> Result<Reservation> {
    auto found = select_reservation(c, order_id, false);
    if (!found) return std::move(found).error();
    if (!*found) return no_reservation(order_id);
    return std::move(**found);
  });
}

Result<void> PostgresInventoryRepository::ping() { return db_.ping(); }

}  // namespace mercato::inventory
