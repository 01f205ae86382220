#include "app/order_events.hpp"

#include <boost/json.hpp>

namespace mercato::order {
namespace {

constexpr std::string_view kService = "order";

boost::json::object address_json(const Address& a) {
  return {{"name", a.name},
          {"line1", a.line1},
          {"line2", a.line2},
          {"city", a.city},
          {"postal_code", a.postal_code},
          {"country", a.country}};
}

}  // namespace

events::CloudEvent order_created_event(const Order& o, std::string_view saga, std::string traceparent) {
  boost::json::array lines;
  for (const auto& l : o.lines) {
    lines.push_back(
        {{"product_id", l.product_id}, {"quantity", l.quantity}, {"unit_price_cents", l.unit_price_cents}});
  }
  boost::json::object data{
      {"order_id", o.id},
      {"customer_id", o.customer_id},
      {"total_cents", o.total_cents},
      {"payment_token", o.payment_token},
      {"lines", std::move(lines)},
      {"shipping_address", address_json(o.shipping_address)},
      {"created_at", format_rfc3339(o.created_at)},
      {"saga", saga},
  };
  return events::make_event(kService, "order.created", o.id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent order_cancelled_event(const Order& o, std::string_view saga) {
  // The customer, total and address say what the saga's charge and shipment were: in choreography each
  // participant undoes only its own effect, never someone else's payment or shipment of the order.
  boost::json::object data{{"order_id", o.id},
                           {"customer_id", o.customer_id},
                           {"total_cents", o.total_cents},
                           {"shipping_address", address_json(o.shipping_address)},
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
      // What the charge was, so payment refunds that charge and not someone else's payment of the order.
      type = "payment.refund_requested";
      data["customer_id"] = o.customer_id;
      data["amount_cents"] = o.total_cents;
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
    case Step::kShip: {
      type = "shipment.create_requested";
      data["customer_id"] = o.customer_id;
      data["shipping_address"] = address_json(o.shipping_address);
      break;
    }
    case Step::kCancelShipment:
      // What the shipment was, so shipping cancels that one and not someone else's shipment of the order.
      type = "shipment.cancel_requested";
      data["customer_id"] = o.customer_id;
      data["shipping_address"] = address_json(o.shipping_address);
      data["reason"] = o.reason.empty() ? "order saga compensation" : o.reason;
      break;
  }
  return events::make_event(kService, std::move(type), o.id, boost::json::serialize(data),
                            std::move(traceparent));
}

}  // namespace mercato::order
