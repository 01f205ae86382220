#include "app/order_events.hpp"

#include <boost/json.hpp>
#include <cstdint>

#include "mercato/events/data.hpp"

namespace mercato::notification {
namespace {

Result<std::string> text_field(const boost::json::object& data, std::string_view key, bool required) {
  return events::text_member(data, key, required);
}

Result<std::int64_t> integer_field(const boost::json::object& data, std::string_view key) {
  return events::integer_member(data, key);
}

// Minor units as a decimal amount: 12345 → "123.45", 5 → "0.05". The order's currency is not in the
// event (the shop has one), so none is named.
std::string amount(std::int64_t cents) {
  std::string sign = cents < 0 ? "-" : "";
  // Through unsigned, so the most negative value has a magnitude too.
  auto magnitude = cents < 0 ? 0 - static_cast<std::uint64_t>(cents) : static_cast<std::uint64_t>(cents);
  auto fraction = std::to_string(magnitude % 100);
  if (fraction.size() < 2) fraction.insert(0, "0");
  return sign + std::to_string(magnitude / 100) + "." + fraction;
}

// order.cancelled v2 added `cancelled_by`, which a notice does not use: both versions read alike.
Result<boost::json::object> data_of(const events::CloudEvent& event) {
  return events::data_object(event, event.type == "order.cancelled" ? 2 : 1);
}

}  // namespace

Result<void> on_order_confirmed(NotificationService& notifications, const events::CloudEvent& event) {
  MERCATO_ASSIGN_OR_RETURN(auto data, data_of(event));
  MERCATO_ASSIGN_OR_RETURN(auto order_id, text_field(data, "order_id", true));
  MERCATO_ASSIGN_OR_RETURN(auto customer_id, text_field(data, "customer_id", true));
  MERCATO_ASSIGN_OR_RETURN(auto total, integer_field(data, "total_cents"));
  std::string message = "Your order " + order_id + " is confirmed. Total: " + amount(total) + ".";
  // Once per order: a redelivery, or the event published again under a new id, finds the notification
  // recorded first and sends nothing (NotificationService::send).
  MERCATO_RETURN_IF_ERROR(
      notifications.send({customer_id, order_id, "order_confirmed", message}, event.traceparent));
  return {};
}

Result<void> on_order_cancelled(NotificationService& notifications, const events::CloudEvent& event) {
  MERCATO_ASSIGN_OR_RETURN(auto data, data_of(event));
  MERCATO_ASSIGN_OR_RETURN(auto order_id, text_field(data, "order_id", true));
  MERCATO_ASSIGN_OR_RETURN(auto customer_id, text_field(data, "customer_id", true));
  MERCATO_ASSIGN_OR_RETURN(auto reason, text_field(data, "reason", false));
  std::string message = "Your order " + order_id + " was cancelled.";
  if (!reason.empty()) message += " Reason: " + reason;
  // The event's trace context carries on into the notification.sent this publishes.
  MERCATO_RETURN_IF_ERROR(
      notifications.send({customer_id, order_id, "order_cancelled", message}, event.traceparent));
  return {};
}

}  // namespace mercato::notification
