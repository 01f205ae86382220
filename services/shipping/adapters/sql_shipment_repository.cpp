#include "adapters/sql_shipment_repository.hpp"

#include <stdexcept>

#include "mercato/events/store.hpp"

namespace mercato::shipping {
namespace {

// Versioned and append-only: a released migration is never edited, a change is a new entry.
const std::vector<sql::Migration> kMigrations = {
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
     " created_at_ms {int64} NOT NULL,"
     " updated_at_ms {int64} NOT NULL);"},
};

constexpr std::string_view kColumns =
    "id, order_id, customer_id, address_name, address_line1, address_line2, address_city, "
    "address_postal_code, address_country, status, created_at_ms, updated_at_ms";

Result<Shipment> read_row(const sql::Row& row) {
  auto status = parse_status(row.text(9));
  if (!status)
    return Error::internal("shipment " + row.text(0) + " has unknown status '" + row.text(9) + "'");
  return Shipment{
      row.text(0), row.text(1),
      row.text(2), Address{row.text(3), row.text(4), row.text(5), row.text(6), row.text(7), row.text(8)},
      *status,     row.time(10),
      row.time(11)};
}

// `lock` reads for update (the read of a read-modify-write).
Result<Shipment> select_by_id(sql::Connection& c, std::string_view id, bool lock = false) {
  static const std::string kSql = "SELECT " + std::string(kColumns) + " FROM shipments WHERE id = $1";
  MERCATO_ASSIGN_OR_RETURN(auto rows, c.select(kSql, {id}, lock));
  if (rows.empty()) return shipment_not_found(id);
  return read_row(rows[0]);
}

}  // namespace

SqlShipmentRepository::SqlShipmentRepository(sql::Database& db) : db_(db) {
  if (auto r = db_.migrate("shipping", kMigrations); !r) throw std::runtime_error(r.error().message);
  if (auto r = events::ensure_schema(db_); !r) throw std::runtime_error(r.error().message);
}

Result<void> SqlShipmentRepository::insert(const Shipment& shipment,
                                           std::span<const events::CloudEvent> events) {
  return db_.with([&](sql::Connection& c) -> Result<void> {
    if (auto r = c.begin(); !r) return r;
    // The order_id index is the conflict target; a primary-key clash (a repeated random UUID) stays an
    // internal error.
    static const std::string kSql = "INSERT INTO shipments(" + std::string(kColumns) +
                                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                                    " ON CONFLICT (order_id) DO NOTHING";
    const auto& a = shipment.address;
    MERCATO_ASSIGN_OR_RETURN(
        auto r,
        c.query(kSql, {shipment.id, shipment.order_id, shipment.customer_id, a.name, a.line1, a.line2, a.city,
                       a.postal_code, a.country, to_string(shipment.status), shipment.created_at,
                       shipment.updated_at}));  // the lease rolls the transaction back
    if (r.affected() != 1) {
      return Error::conflict("order_id: order " + shipment.order_id + " already has a shipment", "order_id");
    }
    if (auto appended = events::append_outbox(c, events); !appended) return appended;
    return c.commit();
  });
}

Result<Shipment> SqlShipmentRepository::find(std::string_view id) {
  return db_.with([&](sql::Connection& c) { return select_by_id(c, id); });
}

Result<std::vector<Shipment>> SqlShipmentRepository::find_by_order(std::string_view order_id) {
  return db_.with([&](sql::Connection& c) -> Result<std::vector<Shipment>> {
    static const std::string kSql = "SELECT " + std::string(kColumns) + " FROM shipments WHERE order_id = $1";
    return sql::read_all(c.query(kSql, {order_id}), read_row);
  });
}

Result<Shipment> SqlShipmentRepository::cancel(std::string_view id, SystemTime now,
                                               const EventsOf& events_of) {
  return db_.with([&](sql::Connection& c) -> Result<Shipment> {
    MERCATO_RETURN_IF_ERROR(c.begin());
    auto shipment = select_by_id(c, id, true);
    if (!shipment) return shipment;  // the lease rolls the transaction back
    if (!shipping::cancel(*shipment, now)) return shipment;
    MERCATO_RETURN_IF_ERROR(c.run("UPDATE shipments SET status = $2, updated_at_ms = $3 WHERE id = $1",
                                  {shipment->id, to_string(shipment->status), shipment->updated_at}));
    MERCATO_RETURN_IF_ERROR(events::append_outbox_of(c, events_of, *shipment));
    MERCATO_RETURN_IF_ERROR(c.commit());
    return shipment;
  });
}

Result<void> SqlShipmentRepository::ping() { return db_.ping(); }

}  // namespace mercato::shipping
