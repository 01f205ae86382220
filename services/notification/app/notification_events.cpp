#include "app/notification_events.hpp"

#include <boost/json.hpp>

namespace mercato::notification {

events::CloudEvent notification_sent_event(const Notification& n, std::string traceparent) {
  boost::json::object data{{"notification_id", n.id},
                           {"order_id", n.order_id},
                           {"customer_id", n.customer_id},
                           {"kind", to_string(n.kind)},
                           {"created_at", format_rfc3339(n.created_at)}};
  return events::make_event("notification", "notification.sent", n.order_id, boost::json::serialize(data),
                            std::move(traceparent));
}

}  // namespace mercato::notification
