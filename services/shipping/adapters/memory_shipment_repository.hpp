// An in-memory ShipmentRepository: the fake for use-case tests, held to the same contract as SQLite.
// The events a change appends are kept in order (appended()), standing in for the outbox, so tests see
// what a use case publishes and the contract test holds the fake to "a failed change appends nothing".
//
// Thread-safety: thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "app/shipment_repository.hpp"

namespace mercato::shipping {

class MemoryShipmentRepository final : public ShipmentRepository {
 public:
  Result<void> insert(const Shipment& shipment, std::span<const events::CloudEvent> events) override;
  Result<Shipment> find(std::string_view id) override;
  Result<std::vector<Shipment>> find_by_order(std::string_view order_id) override;
  Result<Shipment> cancel(std::string_view id, SystemTime now, const EventsOf& events_of) override;
  Result<void> ping() override { return {}; }

  // Every event appended so far, in the order the changes happened.
  std::vector<events::CloudEvent> appended();

 private:
  std::mutex mutex_;
  std::map<std::string, Shipment, std::less<>> shipments_;       // by id
  std::map<std::string, std::string, std::less<>> id_by_order_;  // order_id → id, the unique index
  std::vector<events::CloudEvent> outbox_;
};

}  // namespace mercato::shipping
