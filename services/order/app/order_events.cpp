#include "app/order_events.hpp"

#include <boost/json.hpp>

namespace mercato::order {
namespace {

constexpr std::string_view kService = "order";

}  // namespace

events::CloudEvent order_created_event(const Order& o, std::string traceparent) {
  boost::json::array lines;
  for (const auto& l : o.lines) {
    lines.push_back(
        {{"product_id", l.product_id}, {"quantity", l.quantity}, {"unit_price_cents", l.unit_price_cents}});
  }
  const auto& a = o.shipping_address;
  boost::json::object data{
      {"order_id", o.id},
      {"customer_id", o.customer_id},
      {"total_cents", o.total_cents},
      {"payment_token", o.payment_token},
      {"lines", std::move(lines)},
      {"shipping_address",
       {{"name", a.name},
        {"line1", a.line1},
        {"line2", a.line2},
        {"city", a.city},
        {"postal_code", a.postal_code},
        {"country", a.country}}},
      {"created_at", format_rfc3339(o.created_at)},
  };
  return events::make_event(kService, "order.created", o.id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent order_cancelled_event(const Order& o) {
  boost::json::object data{{"order_id", o.id},
                           {"customer_id", o.customer_id},
                           {"total_cents", o.total_cents},
                           {"reason", o.reason},
                           {"cancelled_at", format_rfc3339(o.updated_at)}};
  return events::make_event(kService, "order.cancelled", o.id, boost::json::serialize(data));
}

}  // namespace mercato::order
