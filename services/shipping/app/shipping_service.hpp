// The shipping service's use cases: validate with the domain rules, then store through the repository,
// which appends the change's event (app/shipment_events.hpp) to the outbox in the same transaction. The
// REST API creates and cancels by shipment; the order saga by order (ship_order, cancel_order).
//
// Thread-safety: as thread-safe as the repository it is given.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/shipment_repository.hpp"
#include "app/shipping_settings.hpp"

namespace mercato::shipping {

// The start of the refusal the saga's create gets when the order already has a shipment for another
// customer or address (ShippingService::ship_order).
inline constexpr std::string_view kShipmentConflict = "shipment_conflict";

struct CreateOutcome {
  Shipment shipment;
  bool created = false;  // false: an identical earlier request for the order already created it
};

class ShippingService {
 public:
  explicit ShippingService(ShipmentRepository& repository, ShippingSettings settings = {})
      : repository_(repository), settings_(std::move(settings)) {}

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

  // The order's shipment, for the order saga (app/saga_handlers.hpp). When the order already has a
  // shipment for this customer and address (is_replay_of), that one is the outcome, whatever its status:
  // nothing is created. A shipment of the order for another customer or address (made through the REST
  // API) is never adopted: the outcome is a refusal starting with kShipmentConflict, and that shipment is
  // left as it is. Otherwise a request that breaks the domain rules, or an address in a country the carrier
  // does not serve (ShippingSettings), is refused: nothing is created and `refusal` says why.
  // kValidationFailed naming "order_id" when no outcome could name the order; otherwise errors are storage
  // failures.
  struct OrderShipment {
    std::optional<Shipment> shipment;  // the order's shipment; absent when refused
    std::string refusal;               // without a shipment: why it cannot be created
    bool created = false;  // this call created `shipment`, and its shipment.created is in the outbox
  };
  Result<OrderShipment> ship_order(const ShipmentRequest& request, std::string traceparent = {});

  // Cancels the order's shipment, for the order saga: an order without one gets no shipment; an already
  // cancelled one comes back unchanged. With `shipment` (what the saga asked for), only a shipment that
  // is that one counts: someone else's shipment of the order is left as it is, as if there were none.
  // Without it (a command from an order service that did not send it), the order's shipment whatever
  // it is. kValidationFailed naming "order_id" for a bad order id.
  struct OrderCancel {
    std::optional<Shipment> shipment;  // the order's shipment, now cancelled; absent when it had none
    bool cancelled = false;            // this call cancelled it, and its shipment.cancelled is in the outbox
  };
  Result<OrderCancel> cancel_order(std::string_view order_id, std::string traceparent = {},
                                   const std::optional<ShipmentRequest>& shipment = std::nullopt);

 private:
  // `existing` as the outcome when it is the shipment `normalized` asks for, else the conflict refusal.
  static OrderShipment adopt_or_refuse(Shipment existing, const Result<ShipmentRequest>& normalized);

  ShipmentRepository& repository_;
  ShippingSettings settings_;
};

}  // namespace mercato::shipping
