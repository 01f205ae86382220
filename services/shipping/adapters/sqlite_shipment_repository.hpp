// ShipmentRepository on the service's own SQLite file.
//
// Thread-safety: thread-safe (each call borrows a pooled connection).
#pragma once

#include "app/shipment_repository.hpp"
#include "mercato/sqlite/sqlite.hpp"

namespace mercato::shipping {

class SqliteShipmentRepository final : public ShipmentRepository {
 public:
  // Applies the schema migrations (the event tables too); throws std::runtime_error if they fail (start-up
  // only).
  explicit SqliteShipmentRepository(sqlite::Database& db);

  Result<void> insert(const Shipment& shipment, std::span<const events::CloudEvent> events) override;
  Result<Shipment> find(std::string_view id) override;
  Result<std::vector<Shipment>> find_by_order(std::string_view order_id) override;
  Result<Shipment> cancel(std::string_view id, SystemTime now, const EventsOf& events_of) override;
  Result<void> ping() override;

 private:
  sqlite::Database& db_;
};

}  // namespace mercato::shipping
