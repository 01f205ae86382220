// The events of the order service (docs/events.md lists every type and its data). An order's own events
// are its history (domain/order_history.hpp): each is stored once, in the order's stream, and that row is
// also what the outbox relay publishes (docs/adr/0015-event-sourced-orders.md):
//   order.created         v1  {order_id, customer_id, total_cents, payment_token, lines[], shipping_address,
//                              created_at, saga}
//   order.payment_pending v1  {order_id, customer_id, total_cents, since, saga}
//   order.confirmed       v1  {order_id, customer_id, total_cents, confirmed_at, saga}
//   order.cancelled       v2  {order_id, customer_id, total_cents, shipping_address, reason, cancelled_by,
//                              cancelled_at, saga}
// `saga` names how the order's saga runs: "orchestration", "choreography" or "none". In choreography
// the participants act on these events themselves (docs/saga.md). order.cancelled v2 made `cancelled_by`
// ("customer" | "saga" | "unknown") a field readers may rely on; v1 events, stored before it, are read
// through the upcaster as v2 with "unknown". The event data is a contract of its own, written here rather
// than reusing the REST representation, so the two can evolve separately. Subject = the order id
// (per-order ordering on the bus).
//
// The saga's commands to participants (saga_command) are not the order's history: they go to the outbox
// only.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "domain/order.hpp"
#include "domain/order_history.hpp"
#include "domain/saga.hpp"
#include "mercato/events/event.hpp"

namespace mercato::order {

// The wire form of `event`; `after` is the order once the event applied (its customer, total and
// address travel with it).
events::CloudEvent to_cloud_event(const OrderEvent& event, const Order& after, std::string traceparent = {});
// A stored order event as its type's current version: the upcasters applied to its data, its dataschema
// saying the current version. kInternal for a type that is not an order event or a version newer than
// this code writes.
Result<events::CloudEvent> upcast(events::CloudEvent event);
// An order event read back from its stream, upcast to the current version of its type. kInternal for
// a type that is not an order event or data this code cannot read (a stream it never wrote).
Result<OrderEvent> order_event_from(const events::CloudEvent& event);
// The version this code writes of an order event type (0: not an order event).
int current_version(std::string_view type) noexcept;

// Choreography: the order's settled state announced again, under a new id, for participants still to
// act on it (never appended to the stream: the order did not change).
events::CloudEvent announcement(const Order& order);
// The command that runs `step` of the order's saga.
events::CloudEvent saga_command(Step step, const Order& order, std::string traceparent);

}  // namespace mercato::order
