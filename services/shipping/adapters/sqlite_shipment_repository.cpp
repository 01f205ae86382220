#include "adapters/sqlite_shipment_repository.hpp"

#include <sqlite3.h>

#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::shipping {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
const std::vector<sqlite::Migration> kMigrations = {
    {1, "create shipments",
     "CREATE TABLE shipments ("
     " id TEXT PRIMARY KEY,"
     " order_id TEXT NOT NULL UNIQUE,"  // one shipment per order, whatever the application does
     " customer_id TEXT NOT NULL,"
     " address_name TEXT NOT NULL,"
     " address_line1 TEXT NOT NULL,"
     " address_line2 TEXT NOT NULL,"
     " address_city TEXT NOT NULL,"
     " address_postal_code TEXT NOT NULL,"
     " address_country TEXT NOT NULL,"
     " status TEXT NOT NULL CHECK (status IN ('created', 'cancelled')),"
     " created_at_ms INTEGER NOT NULL,"
     " updated_at_ms INTEGER NOT NULL);"},
};

constexpr std::string_view kColumns =
    "id, order_id, customer_id, address_name, address_line1, address_line2, address_city, "
    "address_postal_code, address_country, status, created_at_ms, updated_at_ms";

Result<Shipment> read_row(const sqlite::Statement& st) {
  auto status = parse_status(st.text(9));
  if (!status) return Error::internal("shipment " + st.text(0) + " has unknown status '" + st.text(9) + "'");
  return Shipment{st.text(0),
                  st.text(1),
                  st.text(2),
                  Address{st.text(3), st.text(4), st.text(5), st.text(6), st.text(7), st.text(8)},
                  *status,
                  from_unix_ms(st.integer(10)),
                  from_unix_ms(st.integer(11))};
}

Result<Shipment> select_by_id(sqlite::Connection& c, std::string_view id) {
  static const std::string kSql = "SELECT " + std::string(kColumns) + " FROM shipments WHERE id = ?1";
  auto st = c.prepare(kSql);
  st.bind(1, id);
  auto row = st.step();
  if (!row) return std::move(row).error();
  if (!*row) return Error::not_found("shipment " + std::string(id) + " not found");
  return read_row(st);
}

}  // namespace

SqliteShipmentRepository::SqliteShipmentRepository(sqlite::Database& db) : db_(db) {
  if (auto r = db_.migrate(kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> SqliteShipmentRepository::insert(const Shipment& shipment,
                                              std::span<const events::CloudEvent> events) {
  return db_.with([&](sqlite::Connection& c) -> Result<void> {
    if (auto r = c.begin_immediate(); !r) return r;
    static const std::string kSql = "INSERT INTO shipments(" + std::string(kColumns) +
                                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    auto st = c.prepare(kSql);
    st.bind(1, shipment.id);
    st.bind(2, shipment.order_id);
    st.bind(3, shipment.customer_id);
    st.bind(4, shipment.address.name);
    st.bind(5, shipment.address.line1);
    st.bind(6, shipment.address.line2);
    st.bind(7, shipment.address.city);
    st.bind(8, shipment.address.postal_code);
    st.bind(9, shipment.address.country);
    st.bind(10, to_string(shipment.status));
    st.bind(11, to_unix_ms(shipment.created_at));
    st.bind(12, to_unix_ms(shipment.updated_at));
    if (auto r = st.run(); !r) {
      // The order_id index; a primary-key clash (a repeated random UUID) stays an internal error.
      if (c.last_error_code() == SQLITE_CONSTRAINT_UNIQUE) {
        return Error::conflict("order_id: order " + shipment.order_id + " already has a shipment",
                               "order_id");
      }
      return r;  // the lease rolls the transaction back
    }
    if (auto r = events::append_outbox(c, events); !r) return r;
    return c.commit();
  });
}

Result<Shipment> SqliteShipmentRepository::find(std::string_view id) {
  return db_.with([&](sqlite::Connection& c) { return select_by_id(c, id); });
}

Result<std::vector<Shipment>> SqliteShipmentRepository::find_by_order(std::string_view order_id) {
  return db_.with([&](sqlite::Connection& c) -> Result<std::vector<Shipment>> {
    static const std::string kSql = "SELECT " + std::string(kColumns) + " FROM shipments WHERE order_id = ?1";
    auto st = c.prepare(kSql);
    st.bind(1, order_id);
    std::vector<Shipment> out;
    for (;;) {
      auto row = st.step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      auto shipment = read_row(st);
      if (!shipment) return std::move(shipment).error();
      out.push_back(std::move(*shipment));
    }
    return out;
  });
}

Result<Shipment> SqliteShipmentRepository::cancel(std::string_view id, SystemTime now,
                                                  const EventsOf& events_of) {
  return db_.with([&](sqlite::Connection& c) -> Result<Shipment> {
    if (auto r = c.begin_immediate(); !r) return std::move(r).error();
    auto shipment = select_by_id(c, id);
    if (!shipment) return shipment;  // the lease rolls the transaction back
    if (!shipping::cancel(*shipment, now)) return shipment;
    auto st = c.prepare("UPDATE shipments SET status = ?2, updated_at_ms = ?3 WHERE id = ?1");
    st.bind(1, shipment->id);
    st.bind(2, to_string(shipment->status));
    st.bind(3, to_unix_ms(shipment->updated_at));
    if (auto r = st.run(); !r) return std::move(r).error();
    if (events_of) {
      auto events = events_of(*shipment);
      if (auto r = events::append_outbox(c, events); !r) return std::move(r).error();
    }
    if (auto r = c.commit(); !r) return std::move(r).error();
    return shipment;
  });
}

Result<void> SqliteShipmentRepository::ping() { return db_.ping(); }

}  // namespace mercato::shipping
