// The shipping service's part in the order saga (docs/saga.md): the commands the order service sends,
// each turned into a use case and exactly one answer.
//
//   shipment.create_requested {order_id, customer_id, shipping_address{name, line1, line2, city,
//                              postal_code, country}}
//     → ShippingService::ship_order, one shipment per order. Answer:
//       shipment.created — the shipment created now (appended by the repository with it), or the order's
//                          existing shipment of the same customer and address again, whatever its status;
//       shipment.failed {order_id, reason} — the address breaks the domain rules (reason: the validation
//                          message, e.g. "address.country: ...") or lies in a country the carrier does not
//                          serve (shipping.unserved_countries); or the order already has a shipment for
//                          another customer or address (reason "shipment_conflict: ...", made through the
//                          REST API, left as it is); nothing is created.
//   shipment.cancel_requested {order_id, customer_id, shipping_address, reason}
//     → ShippingService::cancel_order of the shipment those name. Answer: shipment.cancelled — the
//       cancellation made now (appended by the repository with it), the already cancelled shipment again,
//       or for an order without that shipment {order_id, cancelled_at} with no shipment_id (someone
//       else's shipment of the order is left as it is; without customer_id and shipping_address, as an
//       older order service sends it, the order's shipment whatever it is).
// Every answer is keyed (subject) by the order and carries the command's trace context.
//
// Once per command id: an answer that reflects the current state is appended together with the
// command's inbox record (EventStore::handle_once), so a redelivered command appends nothing. When the
// command changed something, the repository appended the answer in the change's transaction and the
// inbox record follows in its own; a crash between the two makes the redelivered command answer again
// from the current state — a duplicate answer, which the orchestrator ignores — never a second shipment.
//
// Choreography (docs/saga.md): a choreographed order's events stand in for the commands. The shipment
// needs two of them, which travel on different topics and arrive in either order: the order.created with
// the address and a payment.processed naming the choreography with status captured. Each is kept as it
// comes (EventStore::join); the second creates the shipment. order.cancelled cancels it. Other orders'
// events, and declined charges, are recorded in the inbox and change nothing.
//
// Data is read tolerantly: unknown fields are ignored (line2 may be absent: ""); a missing or mistyped
// field is kValidationFailed naming it ("shipping_address.city"), an order_id the domain refuses too (no
// answer could name the order), data that is not a JSON object kMalformedRequest, a newer dataschema
// version than v1 kUnprocessable — errors, so the bus retries the command and then dead-letters it, as
// it does a storage failure. A business refusal is an answer, never an error.
//
// Thread-safety: as thread-safe as the ShippingService and EventStore it is given.
#pragma once

#include <optional>
#include <string>

#include "app/shipping_service.hpp"
#include "mercato/events/event.hpp"
#include "mercato/events/store.hpp"

namespace mercato::shipping {

class SagaHandlers {
 public:
  // `consumer`: the name the inbox records commands under, the service's name ("shipping").
  SagaHandlers(ShippingService& shipments, events::EventStore& store, std::string consumer)
      : shipments_(shipments), store_(store), consumer_(std::move(consumer)) {}

  Result<void> on_create_requested(const events::CloudEvent& command);
  Result<void> on_cancel_requested(const events::CloudEvent& command);
  Result<void> on_order_created(const events::CloudEvent& event);
  Result<void> on_payment_processed(const events::CloudEvent& event);
  Result<void> on_order_cancelled(const events::CloudEvent& event);

 private:
  // The order's shipment, answered to `command`.
  Result<void> create(const events::CloudEvent& command, const ShipmentRequest& request);

  ShippingService& shipments_;
  events::EventStore& store_;
  std::string consumer_;
};

}  // namespace mercato::shipping
