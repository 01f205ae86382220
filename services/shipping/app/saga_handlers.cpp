#include "app/saga_handlers.hpp"

#include <boost/json.hpp>

#include "app/shipment_events.hpp"
#include "mercato/events/data.hpp"
#include "mercato/events/store.hpp"

namespace mercato::shipping {
namespace {

// order.cancelled v2 added `cancelled_by`, which undoing a part does not use: both versions read alike.
Result<boost::json::object> command_data(const events::CloudEvent& command) {
  return events::data_object(command, command.type == "order.cancelled" ? 2 : 1);
}

// A string member of `data`, named `prefix` + `key` in errors; "" when absent and not `required`.
Result<std::string> text(const boost::json::object& data, std::string_view key, bool required = true,
                         std::string_view prefix = {}) {
  return events::text_member(data, key, required, std::string(prefix) + std::string(key));
}

Result<ShipmentRequest> shipment_request(const boost::json::object& data) {
  ShipmentRequest request;
  MERCATO_ASSIGN_OR_RETURN(auto order_id, text(data, "order_id"));
  request.order_id = std::move(order_id);
  MERCATO_ASSIGN_OR_RETURN(auto customer_id, text(data, "customer_id"));
  request.customer_id = std::move(customer_id);
  const auto* address = data.if_contains("shipping_address");
  if (address == nullptr)
    return Error::validation("shipping_address", "command data lacks 'shipping_address'");
  if (!address->is_object())
    return Error::validation("shipping_address", "'shipping_address' must be an object");
  const auto& a = address->as_object();
  constexpr std::string_view kPrefix = "shipping_address.";
  struct Member {
    std::string_view key;
    std::string* target;
    bool required;
  };
  for (const auto& m :
       {Member{"name", &request.address.name, true}, Member{"line1", &request.address.line1, true},
        Member{"line2", &request.address.line2, false}, Member{"city", &request.address.city, true},
        Member{"postal_code", &request.address.postal_code, true},
        Member{"country", &request.address.country, true}}) {
    MERCATO_ASSIGN_OR_RETURN(auto value, text(a, m.key, m.required, kPrefix));
    *m.target = std::move(value);
  }
  return request;
}

}  // namespace

Result<void> SagaHandlers::on_create_requested(const events::CloudEvent& command) {
  MERCATO_ASSIGN_OR_RETURN(auto data, command_data(command));
  MERCATO_ASSIGN_OR_RETURN(auto request, shipment_request(data));
  return create(command, request);
}

Result<void> SagaHandlers::on_order_created(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  auto data = command_data(event);  // checked now: a bad order.created is not kept
  if (!data) return std::move(data).error();
  MERCATO_ASSIGN_OR_RETURN(auto request, shipment_request(*data));
  MERCATO_ASSIGN_OR_RETURN(auto joined, store_.join(consumer_, event, "payment.processed"));
  if (joined.duplicate || !joined.partner) return {};
  return create(event, request);
}

Result<void> SagaHandlers::on_payment_processed(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  MERCATO_ASSIGN_OR_RETURN(auto data, command_data(event));
  MERCATO_ASSIGN_OR_RETURN(auto status, text(data, "status"));
  // A declined charge: the order service cancels the order, nothing to ship (and nothing kept, so only
  // a captured charge is ever a partner).
  if (status != "captured") return events::answer_command(store_, consumer_, event);
  MERCATO_ASSIGN_OR_RETURN(auto joined, store_.join(consumer_, event, "order.created"));
  if (joined.duplicate || !joined.partner) return {};
  MERCATO_ASSIGN_OR_RETURN(auto order, command_data(*joined.partner));
  MERCATO_ASSIGN_OR_RETURN(auto request, shipment_request(order));
  return create(event, request);
}

Result<void> SagaHandlers::on_order_cancelled(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  return on_cancel_requested(event);
}

Result<void> SagaHandlers::create(const events::CloudEvent& command, const ShipmentRequest& request) {
  MERCATO_ASSIGN_OR_RETURN(auto outcome, shipments_.ship_order(request, command.traceparent));
  // Created now: the repository appended shipment.created with the shipment, the inbox record only remains.
  if (outcome.created) return events::answer_command(store_, consumer_, command);
  if (outcome.shipment)
    return events::answer_command(store_, consumer_, command,
                                  shipment_created_event(*outcome.shipment, command.traceparent));
  return events::answer_command(
      store_, consumer_, command,
      shipment_failed_event(request.order_id, outcome.refusal, command.traceparent));
}

Result<void> SagaHandlers::on_cancel_requested(const events::CloudEvent& command) {
  MERCATO_ASSIGN_OR_RETURN(auto data, command_data(command));
  MERCATO_ASSIGN_OR_RETURN(auto order_id, text(data, "order_id"));
  // Checked for its type only: shipments keep no cancellation reason.
  MERCATO_RETURN_IF_ERROR(text(data, "reason", false));
  // What the saga's shipment was (the command, or choreographed order.cancelled, names its customer and
  // address), so someone else's shipment of the order is not cancelled; absent from an older sender.
  std::optional<ShipmentRequest> asked;
  if (data.contains("customer_id") || data.contains("shipping_address")) {
    MERCATO_ASSIGN_OR_RETURN(auto request, shipment_request(data));
    asked = std::move(request);
  }
  MERCATO_ASSIGN_OR_RETURN(auto outcome, shipments_.cancel_order(order_id, command.traceparent, asked));
  if (outcome.cancelled) return events::answer_command(store_, consumer_, command);
  if (outcome.shipment)
    return events::answer_command(store_, consumer_, command,
                                  shipment_cancelled_event(*outcome.shipment, command.traceparent));
  return events::answer_command(store_, consumer_, command,
                                nothing_cancelled_event(order_id, now_utc(), command.traceparent));
}

}  // namespace mercato::shipping
