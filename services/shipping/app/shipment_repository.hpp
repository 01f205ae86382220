// Where shipments are stored. The use cases see only this interface; SQLite is one adapter and an
// in-memory fake is another, and both pass the same contract test (adapters/shipment_repository_test.cpp).
//
// Thread-safety: implementations must be safe to call from several I/O threads at once.
#pragma once

#include <string_view>
#include <vector>

#include "domain/shipment.hpp"
#include "mercato/core/result.hpp"

namespace mercato::shipping {

class ShipmentRepository {
 public:
  virtual ~ShipmentRepository() = default;
  // kConflict (field "order_id") when the order already has a shipment: one shipment per order, held by
  // the store itself (a UNIQUE constraint), so concurrent creates for one order cannot both land.
  virtual Result<void> insert(const Shipment& shipment) = 0;
  // kNotFound when absent.
  virtual Result<Shipment> find(std::string_view id) = 0;
  // The order's shipments: empty or one.
  virtual Result<std::vector<Shipment>> find_by_order(std::string_view order_id) = 0;
  // Applies domain cancel() atomically (read, change, write in one transaction) and returns the shipment
  // as stored. kNotFound when absent.
  virtual Result<Shipment> cancel(std::string_view id, SystemTime now) = 0;
  // Readiness: can the store be reached?
  virtual Result<void> ping() = 0;
};

}  // namespace mercato::shipping
