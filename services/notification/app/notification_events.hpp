// The event the notification service publishes (docs/events.md; version 1):
//   notification.sent v1  {notification_id, order_id, customer_id, kind, created_at}
// Published once per (order, kind), when the notification is recorded and its email handed over for
// delivery; an idempotent repeat publishes nothing. `kind` as in the API ("order_cancelled", ...);
// created_at RFC 3339 UTC.
// The message body is deliberately left out: it may hold personal text (a cancellation reason, a
// client's own words) that consumers have no need for; they fetch it from this service if ever needed.
// The event data is a contract of its own, written here rather than reusing the REST representation.
//
// Subject = the ORDER id, not the notification id: a consumer following an order (the order saga) sees
// this beside the order's other events, and the bus keeps per-subject order.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "domain/notification.hpp"
#include "mercato/events/event.hpp"

namespace mercato::notification {

// `traceparent`: the W3C trace context of what caused the notification ("" when none).
events::CloudEvent notification_sent_event(const Notification& notification, std::string traceparent);

}  // namespace mercato::notification
