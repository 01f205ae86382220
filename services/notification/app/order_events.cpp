#include "app/order_events.hpp"

#include <boost/json.hpp>

namespace mercato::notification {
namespace {

Result<std::string> text_field(const boost::json::object& data, std::string_view key, bool required) {
  const auto* v = data.if_contains(key);
  if (!v) {
    if (required) return Error::validation(std::string(key), "event data lacks '" + std::string(key) + "'");
    return std::string();
  }
  if (!v->is_string())
    return Error::validation(std::string(key), "'" + std::string(key) + "' must be a string");
  return std::string(v->as_string());
}

}  // namespace

Result<void> on_order_cancelled(NotificationService& notifications, const events::CloudEvent& event) {
  if (events::schema_version(event) > 1)
    return Error::unprocessable("order.cancelled v" + std::to_string(events::schema_version(event)) +
                                " is newer than this service understands");
  boost::system::error_code ec;
  auto parsed = boost::json::parse(event.data, ec);
  if (ec || !parsed.is_object()) return Error::malformed("order.cancelled data is not a JSON object");
  const auto& data = parsed.as_object();
  auto order_id = text_field(data, "order_id", true);
  if (!order_id) return std::move(order_id).error();
  auto customer_id = text_field(data, "customer_id", true);
  if (!customer_id) return std::move(customer_id).error();
  auto reason = text_field(data, "reason", false);
  if (!reason) return std::move(reason).error();
  std::string message = "Your order " + *order_id + " was cancelled.";
  if (!reason->empty()) message += " Reason: " + *reason;
  // The event's trace context carries on into the notification.sent this publishes.
  auto sent = notifications.send({*customer_id, *order_id, "order_cancelled", message}, event.traceparent);
  if (!sent) return std::move(sent).error();
  return {};
}

}  // namespace mercato::notification
