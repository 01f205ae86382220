// The events the order service publishes (docs/events.md lists every type and its data):
//   order.created   v1  {order_id, customer_id, total_cents, payment_token, lines[], shipping_address,
//   created_at} order.cancelled v1  {order_id, customer_id, total_cents, reason, cancelled_at}
// The event data is a contract of its own, written here rather than reusing the REST representation,
// so the two can evolve separately. Subject = the order id (per-order ordering on the bus).
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "domain/order.hpp"
#include "domain/saga.hpp"
#include "mercato/events/event.hpp"

namespace mercato::order {

events::CloudEvent order_created_event(const Order& order, std::string traceparent);
events::CloudEvent order_cancelled_event(const Order& order);
events::CloudEvent order_confirmed_event(const Order& order);
// The command that runs `step` of the order's saga.
events::CloudEvent saga_command(Step step, const Order& order, std::string traceparent);

}  // namespace mercato::order
