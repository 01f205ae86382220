#include "adapters/sql_inventory_repository.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "mercato/events/store.hpp"

namespace mercato::inventory {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry. `line`
// keeps the items in the order the request gave them. Migration 1 created the products and items
// tables a little differently on each engine (where the CHECKs sit, the items' key); each keeps its own.
const std::string kReservations =
    "CREATE TABLE reservations ("
    " order_id TEXT PRIMARY KEY,"
    " status TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'released')),"
    " created_at_ms {int64} NOT NULL,"
    " updated_at_ms {int64} NOT NULL);";

const std::vector<sql::Migration> kMigrations = {
    {.version = 1,
     .name = "create products and reservations",
     .sql = "CREATE TABLE products ("
            " product_id TEXT PRIMARY KEY,"
            " name TEXT NOT NULL,"
            " price_cents {int64} NOT NULL CHECK (price_cents >= 0),"
            " available {int64} NOT NULL CHECK (available >= 0),"
            " reserved {int64} NOT NULL CHECK (reserved >= 0),"
            " sold {int64} NOT NULL CHECK (sold >= 0),"
            " created_at_ms {int64} NOT NULL,"
            " updated_at_ms {int64} NOT NULL);" +
            kReservations +
            "CREATE TABLE reservation_items ("
            " order_id TEXT NOT NULL REFERENCES reservations(order_id),"
            " product_id TEXT NOT NULL REFERENCES products(product_id),"
            " line INTEGER NOT NULL,"
            " quantity {int64} NOT NULL CHECK (quantity > 0),"
            " price_cents {int64} NOT NULL CHECK (price_cents >= 0),"
            " PRIMARY KEY (order_id, product_id));",
     .sqlite = "CREATE TABLE products ("
               " product_id TEXT PRIMARY KEY,"
               " name TEXT NOT NULL,"
               " price_cents INTEGER NOT NULL CHECK (price_cents >= 0),"
               " available INTEGER NOT NULL,"
               " reserved INTEGER NOT NULL,"
               " sold INTEGER NOT NULL,"
               " created_at_ms INTEGER NOT NULL,"
               " updated_at_ms INTEGER NOT NULL,"
               " CHECK (available >= 0 AND reserved >= 0 AND sold >= 0));" +
               kReservations +
               "CREATE TABLE reservation_items ("
               " order_id TEXT NOT NULL REFERENCES reservations(order_id),"
               " line INTEGER NOT NULL,"
               " product_id TEXT NOT NULL REFERENCES products(product_id),"
               " quantity INTEGER NOT NULL CHECK (quantity > 0),"
               " price_cents INTEGER NOT NULL CHECK (price_cents >= 0),"
               " PRIMARY KEY (order_id, line));"},
};

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
Error write_failed(const sql::Connection& c, Error error) {
  if (c.last_failure() == sql::Failure::kCheckViolation) {
    return Error::internal("stock constraint violated; change refused: " + error.message);
  }
  return error;
}

// `lock` reads for update: the read of a read-modify-write, so a concurrent writer waits for this one.
Result<std::optional<Product>> select_product(sql::Connection& c, std::string_view id, bool lock) {
  static const std::string kSql =
      "SELECT " + std::string(kProductColumns) + " FROM products WHERE product_id = $1";
  MERCATO_ASSIGN_OR_RETURN(auto rows, c.select(kSql, {id}, lock));
  if (rows.empty()) return std::optional<Product>();
  auto row = rows[0];
  return std::optional<Product>(Product{row.text(0), row.text(1), row.integer(2), row.integer(3),
                                        row.integer(4), row.integer(5), row.time(6), row.time(7)});
}

// Locks the named products in product-id order (every writer takes them in that order, so two
// transactions never deadlock over them) and returns those that exist, by id.
Result<std::map<std::string, Product, std::less<>>> lock_products(sql::Connection& c,
                                                                  std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::map<std::string, Product, std::less<>> out;
  for (const auto& id : ids) {
    MERCATO_ASSIGN_OR_RETURN(auto product, select_product(c, id, true));
    if (product) out.emplace(id, std::move(*product));
  }
  return out;
}

// Inserts the product unless a concurrent creation of the same id got there first: true when inserted.
Result<bool> insert_product(sql::Connection& c, const Product& p) {
  auto r = c.query(
      "INSERT INTO products(product_id, name, price_cents, available, reserved, sold, created_at_ms,"
      " updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (product_id) DO NOTHING",
      {p.product_id, p.name, p.price_cents, p.available, p.reserved, p.sold, p.created_at, p.updated_at});
  if (!r) return write_failed(c, std::move(r).error());
  return r->affected() == 1;
}

Result<void> update_product(sql::Connection& c, const Product& p) {
  auto r = c.query(
      "UPDATE products SET name = $2, price_cents = $3, available = $4, reserved = $5, sold = $6,"
      " updated_at_ms = $7 WHERE product_id = $1",
      {p.product_id, p.name, p.price_cents, p.available, p.reserved, p.sold, p.updated_at});
  if (!r) return write_failed(c, std::move(r).error());
  if (r->affected() != 1) return Error::internal("product " + p.product_id + " vanished during an update");
  return {};
}

Result<std::optional<Reservation>> select_reservation(sql::Connection& c, std::string_view order_id,
                                                      bool lock) {
  static const std::string kSql =
      "SELECT status, created_at_ms, updated_at_ms FROM reservations WHERE order_id = $1";
  MERCATO_ASSIGN_OR_RETURN(auto head, c.select(kSql, {order_id}, lock));
  if (head.empty()) return std::optional<Reservation>();
  auto row = head[0];
  auto status = parse_reservation_status(row.text(0));
  if (!status) return Error::internal("reservation " + std::string(order_id) + " has an unknown status");
  Reservation r{std::string(order_id), *status, {}, row.time(1), row.time(2)};
  MERCATO_ASSIGN_OR_RETURN(
      auto items,
      c.query(
          "SELECT product_id, quantity, price_cents FROM reservation_items WHERE order_id = $1 ORDER BY line",
          {order_id}));
  for (auto item : items) r.items.push_back({item.text(0), item.integer(1), item.integer(2)});
  return std::optional<Reservation>(std::move(r));
}

}  // namespace

SqlInventoryRepository::SqlInventoryRepository(sql::Database& db) : db_(db) {
  if (auto r = db_.migrate("inventory", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<PutProductResult> SqlInventoryRepository::put_product(const std::string& product_id,
                                                             const ProductInput& input, SystemTime now,
                                                             std::span<const events::CloudEvent> events) {
  return db_.with([&](sql::Connection& c) -> Result<PutProductResult> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    PutProductResult result;
    auto existing = select_product(c, product_id, true);
    if (!existing) return std::move(existing).error();
    if (!*existing) {
      // ON CONFLICT: a concurrent creation of the same id (PostgreSQL) makes this insert wait for it and
      // insert nothing; the product is then replaced below, as if this call had come second.
      result.product = make_product(product_id, input, now);
      MERCATO_ASSIGN_OR_RETURN(auto inserted, insert_product(c, result.product));
      if (inserted) {
        result.created = true;
        MERCATO_RETURN_IF_ERROR(events::append_outbox(c, events));
        MERCATO_RETURN_IF_ERROR(c.commit());
        return result;
      }
      existing = select_product(c, product_id, true);
      if (!existing) return std::move(existing).error();
      if (!*existing) return Error::internal("product " + product_id + " vanished during a replace");
    }
    result.product = std::move(**existing);
    replace(result.product, input, now);
    MERCATO_RETURN_IF_ERROR(update_product(c, result.product));
    MERCATO_RETURN_IF_ERROR(events::append_outbox(c, events));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return result;
  });
}

Result<Product> SqlInventoryRepository::find_product(std::string_view product_id) {
  return db_.with([&](sql::Connection& c) -> Result<Product> {
    MERCATO_ASSIGN_OR_RETURN(auto product, select_product(c, product_id, false));
    if (!product) return not_found_product(product_id);
    return std::move(*product);
  });
}

Result<ReserveResult> SqlInventoryRepository::reserve(const ReservationRequest& request, SystemTime now,
                                                      std::span<const events::CloudEvent> events) {
  return db_.with([&](sql::Connection& c) -> Result<ReserveResult> {
    // Every early return below leaves the transaction open; the lease rolls it back, so nothing of a
    // refused request (not even the reservation row claimed first) is ever written.
    MERCATO_RETURN_IF_ERROR(c.begin());
    // Claim the order id first. A concurrent request for the same order waits here for this one to
    // finish: after a commit it inserts nothing and reads the stored reservation (a replay or a 409);
    // after a rollback (a 422) its own insert goes through.
    auto claimed = c.query(
        "INSERT INTO reservations(order_id, status, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $3)"
        " ON CONFLICT (order_id) DO NOTHING",
        {request.order_id, to_string(ReservationStatus::kReserved), now});
    if (!claimed) return write_failed(c, std::move(claimed).error());
    if (claimed->affected() != 1) {
      MERCATO_ASSIGN_OR_RETURN(auto existing, select_reservation(c, request.order_id, false));
      if (!existing) return Error::internal("reservation " + request.order_id + " vanished during a replay");
      if (!same_items(*existing, request)) {
        return Error::conflict("order " + request.order_id + " already has a reservation with other items",
                               "order_id");
      }
      return ReserveResult{std::move(*existing), false};
    }
    std::vector<std::string> ids;
    ids.reserve(request.items.size());
    for (const auto& item : request.items) ids.push_back(item.product_id);
    MERCATO_ASSIGN_OR_RETURN(auto locked, lock_products(c, std::move(ids)));
    std::vector<std::optional<Product>> products;
    products.reserve(request.items.size());
    for (const auto& item : request.items) {
      auto it = locked.find(item.product_id);
      products.push_back(it == locked.end() ? std::nullopt : std::optional<Product>(it->second));
    }
    MERCATO_ASSIGN_OR_RETURN(auto reservation, inventory::reserve(request, products, now));
    for (const auto& product : products) {
      MERCATO_RETURN_IF_ERROR(update_product(c, *product));
    }
    for (std::size_t i = 0; i < reservation.items.size(); ++i) {
      const auto& line = reservation.items[i];
      auto r = c.query(
          "INSERT INTO reservation_items(order_id, product_id, line, quantity, price_cents)"
          " VALUES ($1, $2, $3, $4, $5)",
          {reservation.order_id, line.product_id, i, line.quantity, line.price_cents});
      if (!r) return write_failed(c, std::move(r).error());
    }
    MERCATO_RETURN_IF_ERROR(events::append_outbox(c, events));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return ReserveResult{std::move(reservation), true};
  });
}

Result<SettleResult> SqlInventoryRepository::settle(std::string_view order_id, ReservationStatus target,
                                                    SystemTime now, const EventsOf& events_of) {
  return db_.with([&](sql::Connection& c) -> Result<SettleResult> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    MERCATO_ASSIGN_OR_RETURN(auto found, select_reservation(c, order_id, true));
    if (!found) return no_reservation(order_id);
    Reservation reservation = std::move(*found);
    MERCATO_ASSIGN_OR_RETURN(auto moved, transition(reservation, target, now));
    if (!moved)
      return SettleResult{std::move(reservation), false};  // already there: a retry, nothing to write
    std::vector<std::string> ids;
    ids.reserve(reservation.items.size());
    for (const auto& line : reservation.items) ids.push_back(line.product_id);
    MERCATO_ASSIGN_OR_RETURN(auto locked, lock_products(c, std::move(ids)));
    for (const auto& line : reservation.items) {
      auto it = locked.find(line.product_id);
      if (it == locked.end()) return Error::internal("reserved product " + line.product_id + " is missing");
      MERCATO_RETURN_IF_ERROR(settle_line(it->second, line.quantity, target, now));
      MERCATO_RETURN_IF_ERROR(update_product(c, it->second));
    }
    auto r = c.query("UPDATE reservations SET status = $2, updated_at_ms = $3 WHERE order_id = $1",
                     {reservation.order_id, to_string(reservation.status), reservation.updated_at});
    if (!r) return write_failed(c, std::move(r).error());
    MERCATO_RETURN_IF_ERROR(events::append_outbox_of(c, events_of, reservation));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return SettleResult{std::move(reservation), true};
  });
}

Result<Reservation> SqlInventoryRepository::find_reservation(std::string_view order_id) {
  return db_.with([&](sql::Connection& c) -> Result<Reservation> {
    MERCATO_ASSIGN_OR_RETURN(auto found, select_reservation(c, order_id, false));
    if (!found) return no_reservation(order_id);
    return std::move(*found);
  });
}

Result<void> SqlInventoryRepository::ping() { return db_.ping(); }

}  // namespace mercato::inventory
