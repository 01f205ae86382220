// The events the shipping service publishes (docs/events.md; version 1 of each):
//   shipment.created   v1  {shipment_id, order_id, customer_id, status, address{name, line1, line2, city,
//                           postal_code, country}, created_at}
//   shipment.cancelled v1  {shipment_id, order_id, customer_id, status, created_at, cancelled_at}
// The order saga's commands are answered with these (app/saga_handlers.hpp, docs/saga.md), plus
//   shipment.failed    v1  {order_id, reason}  the order's shipment cannot be created (an invalid address
//                           or a country the carrier does not serve); changes nothing.
// An answer that reflects the current state is the shipment's event again (shipment.created for an
// existing shipment, whatever its status; shipment.cancelled for an already cancelled one), or, for an
// order without a shipment, shipment.cancelled {order_id, cancelled_at} with no shipment_id.
// shipment.created is published once per order (a replayed create publishes nothing); shipment.cancelled
// only when a cancel changed the shipment (cancelling again publishes nothing). A shipment has no carrier
// or tracking number yet; they will be new optional fields of a later change (same version).
// The event data is a contract of its own, written here rather than reusing the REST representation, so
// the two can evolve separately. Timestamps are RFC 3339 UTC; status as in the API ("created",
// "cancelled").
//
// Subject = the ORDER id, not the shipment id: the order saga consumes shipment events beside the order's
// own and payment's, and the bus keeps per-subject order, so keying by the order keeps every event of one
// order in sequence.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "domain/shipment.hpp"
#include "mercato/events/event.hpp"

namespace mercato::shipping {

// `traceparent`: the W3C trace context of the request that caused the change ("" when none).
events::CloudEvent shipment_created_event(const Shipment& shipment, std::string traceparent);
events::CloudEvent shipment_cancelled_event(const Shipment& shipment, std::string traceparent);
// shipment.failed: the order's shipment cannot be created, and why.
events::CloudEvent shipment_failed_event(std::string_view order_id, std::string_view reason,
                                         std::string traceparent);
// shipment.cancelled for an order that has no shipment: {order_id, cancelled_at = now}.
events::CloudEvent nothing_cancelled_event(std::string_view order_id, SystemTime now,
                                           std::string traceparent);

}  // namespace mercato::shipping
