#include "adapters/memory_shipment_repository.hpp"

namespace mercato::shipping {
namespace {

Error not_found(std::string_view id) { return shipment_not_found(id); }

}  // namespace

Result<void> MemoryShipmentRepository::insert(const Shipment& shipment,
                                              std::span<const events::CloudEvent> events) {
  std::lock_guard lock(mutex_);
  if (id_by_order_.contains(shipment.order_id)) {
    return Error::conflict("order_id: order " + shipment.order_id + " already has a shipment", "order_id");
  }
  if (shipments_.contains(shipment.id)) return Error::internal("shipment " + shipment.id + " exists");
  shipments_.emplace(shipment.id, shipment);
  id_by_order_.emplace(shipment.order_id, shipment.id);
  outbox_.insert(outbox_.end(), events.begin(), events.end());
  return {};
}

Result<Shipment> MemoryShipmentRepository::find(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = shipments_.find(id);
  if (it == shipments_.end()) return not_found(id);
  return it->second;
}

Result<std::vector<Shipment>> MemoryShipmentRepository::find_by_order(std::string_view order_id) {
  std::lock_guard lock(mutex_);
  std::vector<Shipment> out;
  if (auto it = id_by_order_.find(order_id); it != id_by_order_.end())
    out.push_back(shipments_.at(it->second));
  return out;
}

Result<Shipment> MemoryShipmentRepository::cancel(std::string_view id, SystemTime now,
                                                  const EventsOf& events_of) {
  std::lock_guard lock(mutex_);
  auto it = shipments_.find(id);
  if (it == shipments_.end()) return not_found(id);
  if (shipping::cancel(it->second, now) && events_of) {
    auto events = events_of(it->second);
    outbox_.insert(outbox_.end(), events.begin(), events.end());
  }
  return it->second;
}

std::vector<events::CloudEvent> MemoryShipmentRepository::appended() {
  std::lock_guard lock(mutex_);
  return outbox_;
}

}  // namespace mercato::shipping
