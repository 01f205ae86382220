// The shipping service's use cases: validate with the domain rules, then store through the repository,
// which appends the change's event (app/shipment_events.hpp) to the outbox in the same transaction.
//
// Thread-safety: as thread-safe as the repository it is given.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "app/shipment_repository.hpp"

namespace mercato::shipping {

struct CreateOutcome {
  Shipment shipment;
  bool created = false;  // false: an identical earlier request for the order already created it
};

class ShippingService {
 public:
  explicit ShippingService(ShipmentRepository& repository) : repository_(repository) {}

  // Idempotent per order: a replay of an earlier request (same order, customer and address) returns the
  // existing shipment whatever its status; the same order with different data is kConflict ("order_id").
  // Publishes shipment.created when it created the shipment. `traceparent`: the caller's trace context,
  // carried by the event.
  Result<CreateOutcome> create(const ShipmentRequest& request, std::string traceparent = {});
  Result<Shipment> get(std::string_view id);
  // kValidationFailed ("order_id") when `order_id` is empty.
  Result<std::vector<Shipment>> list_for_order(std::string_view order_id);
  // Idempotent: cancelling a cancelled shipment returns it unchanged. Publishes shipment.cancelled when
  // it cancelled the shipment (not on the repeat).
  Result<Shipment> cancel(std::string_view id, std::string traceparent = {});

 private:
  ShipmentRepository& repository_;
};

}  // namespace mercato::shipping
