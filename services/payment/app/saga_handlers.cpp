#include "app/saga_handlers.hpp"

#include <boost/json.hpp>
#include <limits>

#include "app/payment_events.hpp"
#include "mercato/events/data.hpp"
#include "mercato/events/store.hpp"

namespace mercato::payment {
namespace {

// order.cancelled v2 added `cancelled_by`, which undoing a part does not use: both versions read alike.
Result<boost::json::object> command_data(const events::CloudEvent& command) {
  return events::data_object(command, command.type == "order.cancelled" ? 2 : 1);
}

Result<std::string> text(const boost::json::object& data, std::string_view key, bool required = true) {
  return events::text_member(data, key, required);
}

Result<std::int64_t> integer(const boost::json::object& data, std::string_view key) {
  return events::integer_member(data, key);
}

// A charge from a command's or an event's data; `amount_key` names its amount (a charge command's
// amount_cents, order.created's total_cents).
Result<ChargeRequest> charge_request(const boost::json::object& data, std::string_view amount_key) {
  ChargeRequest request;
  MERCATO_ASSIGN_OR_RETURN(auto order_id, text(data, "order_id"));
  request.order_id = std::move(order_id);
  MERCATO_ASSIGN_OR_RETURN(auto customer_id, text(data, "customer_id"));
  request.customer_id = std::move(customer_id);
  MERCATO_ASSIGN_OR_RETURN(auto amount, integer(data, amount_key));
  request.amount_cents = amount;
  MERCATO_ASSIGN_OR_RETURN(auto token, text(data, "payment_token"));
  request.payment_token = std::move(token);
  return request;
}

}  // namespace

Result<void> SagaHandlers::on_charge_requested(const events::CloudEvent& command) {
  MERCATO_ASSIGN_OR_RETURN(auto data, command_data(command));
  MERCATO_ASSIGN_OR_RETURN(auto request, charge_request(data, "amount_cents"));
  return charge(command, request, {});
}

Result<void> SagaHandlers::charge(const events::CloudEvent& command, const ChargeRequest& request,
                                  std::string_view saga) {
  MERCATO_ASSIGN_OR_RETURN(auto charge, payments_.charge_order(request, command.traceparent, saga));
  // Recorded now: the repository appended payment.processed with the payment, the inbox record only
  // remains. Otherwise the answer goes out with the inbox record, so a redelivery appends nothing.
  if (charge.recorded) return events::answer_command(store_, consumer_, command);
  if (charge.payment)
    return events::answer_command(store_, consumer_, command,
                                  payment_processed_event(*charge.payment, command.traceparent, saga));
  return events::answer_command(
      store_, consumer_, command,
      charge_refused_event(request, charge.refusal, now_utc(), command.traceparent, saga));
}

namespace {

// What a choreographed order's charge is, from its order.created.
Result<ChargeRequest> charge_of(const events::CloudEvent& order_created) {
  MERCATO_ASSIGN_OR_RETURN(auto data, command_data(order_created));
  return charge_request(data, "total_cents");
}

}  // namespace

Result<void> SagaHandlers::on_order_created(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  auto request = charge_of(event);  // checked now: a bad order.created is not kept
  if (!request) return std::move(request).error();
  MERCATO_ASSIGN_OR_RETURN(auto joined, store_.join(consumer_, event, "inventory.reserved"));
  if (joined.duplicate || !joined.partner) return {};
  return charge(event, *request, events::kChoreography);
}

Result<void> SagaHandlers::on_inventory_reserved(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  MERCATO_ASSIGN_OR_RETURN(auto joined, store_.join(consumer_, event, "order.created"));
  if (joined.duplicate || !joined.partner) return {};
  MERCATO_ASSIGN_OR_RETURN(auto request, charge_of(*joined.partner));
  return charge(event, request, events::kChoreography);
}

namespace {

// What the saga charged, as a refund names it (`amount_key`: amount_cents in the command, total_cents in
// order.cancelled): nullopt when the data has neither the customer nor the amount (a command from an
// order service that sent only the order id); an error when one is there and not the other or mistyped.
Result<std::optional<ChargeTerms>> refunded_charge(const boost::json::object& data,
                                                   const std::string& order_id, std::string_view amount_key) {
  if (!data.contains("customer_id") && !data.contains(amount_key)) return std::optional<ChargeTerms>();
  MERCATO_ASSIGN_OR_RETURN(auto customer_id, text(data, "customer_id"));
  MERCATO_ASSIGN_OR_RETURN(auto amount, integer(data, amount_key));
  return std::optional<ChargeTerms>(ChargeTerms{order_id, std::move(customer_id), amount});
}

}  // namespace

Result<void> SagaHandlers::on_order_cancelled(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  return refund(event, "total_cents");
}

Result<void> SagaHandlers::on_refund_requested(const events::CloudEvent& command) {
  return refund(command, "amount_cents");
}

Result<void> SagaHandlers::refund(const events::CloudEvent& command, std::string_view amount_key) {
  MERCATO_ASSIGN_OR_RETURN(auto data, command_data(command));
  MERCATO_ASSIGN_OR_RETURN(auto order_id, text(data, "order_id"));
  // Checked for its type only: a refund is full whatever the reason, and payments keep no reason.
  MERCATO_RETURN_IF_ERROR(text(data, "reason", false));
  MERCATO_ASSIGN_OR_RETURN(auto charged, refunded_charge(data, order_id, amount_key));
  MERCATO_ASSIGN_OR_RETURN(auto undone, payments_.refund_order(order_id, command.traceparent, charged));
  if (undone.recorded) return events::answer_command(store_, consumer_, command);
  if (undone.payment) {
    const auto& p = *undone.payment;
    return events::answer_command(store_, consumer_, command,
                                  payment_refunded_event(p, refund_id_of(p.id), command.traceparent));
  }
  return events::answer_command(store_, consumer_, command,
                                nothing_refunded_event(order_id, now_utc(), command.traceparent));
}

}  // namespace mercato::payment
