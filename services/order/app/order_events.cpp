#include "app/order_events.hpp"

#include <boost/json.hpp>

namespace mercato::order {
namespace {

constexpr std::string_view kService = "order";

}  // namespace

events::CloudEvent order_created_event(const Order& o, std::string_view saga, std::string traceparent) {
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
      {"saga", saga},
  };
  return events::make_event(kService, "order.created", o.id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent order_cancelled_event(const Order& o, std::string_view saga) {
  boost::json::object data{{"order_id", o.id},
                           {"customer_id", o.customer_id},
                           {"total_cents", o.total_cents},
                           {"reason", o.reason},
                           {"cancelled_at", format_rfc3339(o.updated_at)},
                           {"saga", saga}};
  return events::make_event(kService, "order.cancelled", o.id, boost::json::serialize(data));
}

events::CloudEvent order_confirmed_event(const Order& o, std::string_view saga) {
  boost::json::object data{{"order_id", o.id},
                           {"customer_id", o.customer_id},
                           {"total_cents", o.total_cents},
                           {"confirmed_at", format_rfc3339(o.updated_at)},
                           {"saga", saga}};
  return events::make_event(kService, "order.confirmed", o.id, boost::json::serialize(data));
}

events::CloudEvent saga_command(Step step, const Order& o, std::string traceparent) {
  boost::json::object data{{"order_id", o.id}};
  std::string type;
  switch (step) {
    case Step::kReserve: {
      type = "inventory.reserve_requested";
      boost::json::array lines;
      for (const auto& l : o.lines) lines.push_back({{"product_id", l.product_id}, {"quantity", l.quantity}});
      data["lines"] = std::move(lines);
      break;
    }
    case Step::kCommit:
      type = "inventory.commit_requested";
      break;
    case Step::kRelease:
      type = "inventory.release_requested";
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
    case Step::kCharge:
      type = "payment.charge_requested";
      data["customer_id"] = o.customer_id;
      data["amount_cents"] = o.total_cents;
      data["payment_token"] = o.payment_token;
      break;
    case Step::kRefund:
      type = "payment.refund_requested";
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
    case Step::kShip: {
      type = "shipment.create_requested";
      const auto& a = o.shipping_address;
      data["customer_id"] = o.customer_id;
      data["shipping_address"] = {{"name", a.name},
                                  {"line1", a.line1},
                                  {"line2", a.line2},
                                  {"city", a.city},
                                  {"postal_code", a.postal_code},
                                  {"country", a.country}};
      break;
    }
    case Step::kCancelShipment:
      type = "shipment.cancel_requested";
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
  }
  return events::make_event(kService, std::move(type), o.id, boost::json::serialize(data),
                            std::move(traceparent));
}

}  // namespace mercato::order
