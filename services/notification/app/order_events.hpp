// What the notification service does with other services' events (docs/events.md):
//   order.created   → recorded only (the confirmation is sent when the order is confirmed)
//   order.confirmed → the customer gets an "order_confirmed" notification naming the order and its
//                     total, once per order
//   order.cancelled → the customer gets an "order_cancelled" notification, once per order (recording it
//                     publishes notification.sent, carrying the event's trace context on)
// Data is read tolerantly: unknown fields are ignored, a missing or mistyped field is an error naming it
// (the bus retries and then dead-letters the event).
//
// Thread-safety: as thread-safe as the NotificationService.
#pragma once

#include "app/notification_service.hpp"
#include "mercato/events/event.hpp"

namespace mercato::notification {

// {order_id, customer_id, total_cents, confirmed_at}: the first three are required.
Result<void> on_order_confirmed(NotificationService& notifications, const events::CloudEvent& event);
// {order_id, customer_id, total_cents, reason, cancelled_at}: order_id and customer_id are required.
Result<void> on_order_cancelled(NotificationService& notifications, const events::CloudEvent& event);

}  // namespace mercato::notification
