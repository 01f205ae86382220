// An in-memory ShipmentRepository: the fake for use-case tests, held to the same contract as SQLite.
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "app/shipment_repository.hpp"

namespace mercato::shipping {

class MemoryShipmentRepository final : public ShipmentRepository {
 public:
  Result<void> insert(const Shipment& shipment) override;
  Result<Shipment> find(std::string_view id) override;
  Result<std::vector<Shipment>> find_by_order(std::string_view order_id) override;
  Result<Shipment> cancel(std::string_view id, SystemTime now) override;
  Result<void> ping() override { return {}; }

 private:
  std::mutex mutex_;
  std::map<std::string, Shipment, std::less<>> shipments_;       // by id
  std::map<std::string, std::string, std::less<>> id_by_order_;  // order_id → id, the unique index
};

}  // namespace mercato::shipping
