#include "app/notification_service.hpp"

#include "app/notification_events.hpp"
#include "mercato/core/ids.hpp"

namespace mercato::notification {

Result<Recorded> NotificationService::send(const NotificationRequest& request, std::string traceparent) {
  MERCATO_ASSIGN_OR_RETURN(auto notification, new_notification(new_time_ordered_uuid(), request, now_utc()));
  auto sent = notification_sent_event(notification, std::move(traceparent));
  auto recorded = repository_.record_once(
      notification, [this](const Notification& n) { return mailer_.send(compose_email(n)); },
      std::span(&sent, 1));
  if (!recorded || recorded->created || is_repeat_of(recorded->notification, notification)) return recorded;
  // Another notice was recorded first for the pair: answering with it would tell the caller (the order's
  // confirmation, say) that its own text reached its recipient when it did not.
  return Error::conflict("order_id: order " + notification.order_id + " already has a " +
                             std::string(to_string(notification.kind)) +
                             " notification for another recipient or with another message",
                         "order_id");
}

Result<std::vector<Notification>> NotificationService::list(std::string_view customer_id, int limit,
                                                            std::optional<std::string_view> order_id) {
  MERCATO_ASSIGN_OR_RETURN(auto customer, validate_reference("customer_id", customer_id));
  MERCATO_ASSIGN_OR_RETURN(auto valid_limit, validate_limit(limit));
  if (order_id) {
    MERCATO_RETURN_IF_ERROR(validate_reference("order_id", *order_id));
  }
  return repository_.list_for_customer(customer, valid_limit, order_id);
}

}  // namespace mercato::notification
