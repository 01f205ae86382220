// The events the order service publishes (docs/events.md lists every type and its data):
//   order.created   v1  {order_id, customer_id, total_cents, payment_token, lines[], shipping_address,
//                        created_at, saga}
//   order.cancelled v1  {order_id, customer_id, total_cents, reason, cancelled_at, saga}
//   order.confirmed v1  {order_id, customer_id, total_cents, confirmed_at, saga}
// `saga` names how the order's saga runs: "orchestration", "choreography" or "none" (an added field,
// so still v1: readers ignore what they do not know). In choreography the participants act on these
// events themselves (docs/saga.md). The event data is a contract of its own, written here rather than
// reusing the REST representation, so the two can evolve separately. Subject = the order id (per-order
// ordering on the bus).
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "domain/order.hpp"
#include "domain/saga.hpp"
#include "mercato/events/event.hpp"

namespace mercato::order {

// `saga`: the saga's mode (to_string(Coordination)), or "none" for an order without a saga.
events::CloudEvent order_created_event(const Order& order, std::string_view saga, std::string traceparent);
events::CloudEvent order_cancelled_event(const Order& order, std::string_view saga);
events::CloudEvent order_confirmed_event(const Order& order, std::string_view saga);
// The command that runs `step` of the order's saga.
events::CloudEvent saga_command(Step step, const Order& order, std::string traceparent);

}  // namespace mercato::order
