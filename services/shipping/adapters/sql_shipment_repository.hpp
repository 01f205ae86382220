// ShipmentRepository on the service's own SQL database (SQLite; written over lib/sql, so it would run on
// PostgreSQL as well).
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/shipment_repository.hpp"
#include "mercato/sql/sql.hpp"

namespace mercato::shipping {

class SqlShipmentRepository final : public ShipmentRepository {
 public:
  // Applies the schema migrations (the event tables too); throws std::runtime_error if they fail (start-up
  // only).
  explicit SqlShipmentRepository(sql::Database& db);

  Result<void> insert(const Shipment& shipment, std::span<const events::CloudEvent> events) override;
  Result<Shipment> find(std::string_view id) override;
  Result<std::vector<Shipment>> find_by_order(std::string_view order_id) override;
  Result<Shipment> cancel(std::string_view id, SystemTime now, const EventsOf& events_of) override;
  Result<void> ping() override;

 private:
  sql::Database& db_;
};

}  // namespace mercato::shipping
