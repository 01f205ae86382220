// Where shipments are stored. The use cases see only this interface; the SQL adapter passes the same
// contract test on SQLite and PostgreSQL (adapters/shipment_repository_test.cpp).
//
// Every state change takes the events it publishes and appends them to the transactional outbox in the
// same transaction (lib/events/include/mercato/events/store.hpp): a change that fails or rolls back
// leaves no event, and a committed change always has its events.
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "domain/shipment.hpp"
#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::shipping {

// The events a change of a shipment publishes, built from the shipment as changed.
using EventsOf = std::function<std::vector<events::CloudEvent>(const Shipment&)>;

class ShipmentRepository {
 public:
  virtual ~ShipmentRepository() = default;
  // kConflict (field "order_id") when the order already has a shipment: one shipment per order, held by
  // the store itself (a UNIQUE constraint), so concurrent creates for one order cannot both land.
  // Appends `events` to the outbox in the same transaction; nothing when the insert is refused.
  virtual Result<void> insert(const Shipment& shipment, std::span<const events::CloudEvent> events = {}) = 0;
  // kNotFound when absent.
  virtual Result<Shipment> find(std::string_view id) = 0;
  // The order's shipments: empty or one.
  virtual Result<std::vector<Shipment>> find_by_order(std::string_view order_id) = 0;
  // Applies domain cancel() atomically (read, change, write in one transaction) and returns the shipment
  // as stored. kNotFound when absent. Only when the shipment changed (it was not cancelled already) are
  // `events_of(shipment)` appended to the outbox in the same transaction.
  virtual Result<Shipment> cancel(std::string_view id, SystemTime now, const EventsOf& events_of = {}) = 0;
  // Readiness: can the store be reached?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::shipping
