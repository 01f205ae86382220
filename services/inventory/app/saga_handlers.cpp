#include "app/saga_handlers.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <limits>
#include <optional>

#include "app/inventory_events.hpp"
#include "mercato/events/data.hpp"
#include "mercato/events/store.hpp"

namespace mercato::inventory {
namespace {

// order.cancelled v2 added `cancelled_by`, which undoing a part does not use: both versions read alike.
Result<boost::json::object> data_of(const events::CloudEvent& command) {
  return events::data_object(command, command.type == "order.cancelled" ? 2 : 1);
}

// `field` names the member in errors ("lines[2].product_id"); a missing optional one reads as "".
Result<std::string> text(const boost::json::object& data, std::string_view key, const std::string& field,
                         bool required) {
  return events::text_member(data, key, required, field);
}

// Every command names its order; an id that is not one cannot be answered to a saga.
Result<std::string> order_id_of(const boost::json::object& data) {
  auto order_id = text(data, "order_id", "order_id", true);
  if (!order_id) return order_id;
  MERCATO_RETURN_IF_ERROR(check_id(*order_id, "order_id"));
  return order_id;
}

Result<std::int64_t> quantity_of(const boost::json::object& line, const std::string& field) {
  const auto* v = line.if_contains("quantity");
  if (v == nullptr) return Error::validation(field, "command data lacks '" + field + "'");
  if (v->is_int64()) return v->as_int64();
  // Beyond int64: well-typed, so left to the domain's range rule (answered, not an error).
  if (v->is_uint64()) return std::numeric_limits<std::int64_t>::max();
  return Error::validation(field, "'" + field + "' must be an integer");
}

// The lines as the domain's request; their count, quantities and uniqueness are the domain's to judge.
Result<ReservationRequest> reservation_request_of(const boost::json::object& data) {
  MERCATO_ASSIGN_OR_RETURN(auto order_id, order_id_of(data));
  const auto* lines = data.if_contains("lines");
  if (lines == nullptr) return Error::validation("lines", "command data lacks 'lines'");
  if (!lines->is_array()) return Error::validation("lines", "'lines' must be an array");
  ReservationRequest request{std::move(order_id), {}};
  // The domain refuses more than kMaxReservationLines; parse one more so it still sees too many.
  request.items.reserve(std::min(lines->as_array().size(), kMaxReservationLines + 1));
  for (std::size_t i = 0; i < lines->as_array().size(); ++i) {
    auto field = "lines[" + std::to_string(i) + "]";
    const auto* line = lines->as_array()[i].if_object();
    if (line == nullptr) return Error::validation(field, "'" + field + "' must be an object");
    MERCATO_ASSIGN_OR_RETURN(auto product_id, text(*line, "product_id", field + ".product_id", true));
    MERCATO_ASSIGN_OR_RETURN(auto quantity, quantity_of(*line, field + ".quantity"));
    request.items.push_back({std::move(product_id), quantity});
  }
  return request;
}

// The line an error of the domain names ("items[3].quantity" → 3), when it names one.
std::optional<std::size_t> line_of(std::string_view field) {
  constexpr std::string_view kPrefix = "items[";
  if (!field.starts_with(kPrefix)) return std::nullopt;
  field.remove_prefix(kPrefix.size());
  std::size_t index = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), index);
  if (ec != std::errc() || end == field.data() + field.size() || *end != ']') return std::nullopt;
  return index;
}

// The domain speaks of the REST request's "items"; the command calls them "lines".
std::string in_command_terms(std::string message) {
  for (auto at = message.find("items"); at != std::string::npos; at = message.find("items", at)) {
    message.replace(at, 5, "lines");
  }
  return message;
}

}  // namespace

Result<void> SagaHandlers::on_reserve_requested(const events::CloudEvent& command) {
  MERCATO_ASSIGN_OR_RETURN(auto data, data_of(command));
  MERCATO_ASSIGN_OR_RETURN(auto request, reservation_request_of(data));
  // In choreography the command is order.created, and payment charges on the answer that names it.
  auto saga = events::saga_of(command);
  auto reserved = inventory_.reserve(request, command.traceparent, saga);
  if (reserved) {
    if (reserved->created) return events::answer_command(store_, consumer_, command);
    return events::answer_command(store_, consumer_, command,
                                  inventory_reserved_event(reserved->reservation, command.traceparent, saga));
  }
  const auto& error = reserved.error();
  auto line = line_of(error.field);
  std::string product_id;
  if (line && *line < request.items.size()) product_id = request.items[*line].product_id;
  std::string reason;
  switch (error.code) {
    case ErrorCode::kUnprocessable:  // domain reserve(): the line named is unknown or short of stock
      reason = error.field.ends_with(".product_id") ? kReasonUnknownProduct : kReasonOutOfStock;
      break;
    case ErrorCode::kValidationFailed:  // domain validate(): well-formed lines the rules refuse
      reason = in_command_terms(error.message);
      break;
    case ErrorCode::kConflict:  // the order's reservation holds other lines: it is left as it is
      reason = kReasonOtherLinesReserved;
      break;
    default:
      return error;
  }
  return events::answer_command(
      store_, consumer_, command,
      inventory_rejected_event(request.order_id, reason, product_id, command.traceparent));
}

Result<void> SagaHandlers::on_commit_requested(const events::CloudEvent& command) {
  MERCATO_ASSIGN_OR_RETURN(auto data, data_of(command));
  MERCATO_ASSIGN_OR_RETURN(auto order_id, order_id_of(data));
  auto committed = inventory_.commit(order_id, command.traceparent);
  if (committed) {
    if (committed->moved) return events::answer_command(store_, consumer_, command);
    return events::answer_command(store_, consumer_, command,
                                  inventory_settled_event(committed->reservation, {}, command.traceparent));
  }
  // Nothing to sell: the saga hears why instead of a commit that did not happen.
  std::string_view reason;
  if (committed.error().code == ErrorCode::kNotFound) {
    reason = kReasonNoReservation;
  } else if (committed.error().code == ErrorCode::kConflict) {
    reason = kReasonAlreadyReleased;
  } else {
    return std::move(committed).error();
  }
  return events::answer_command(store_, consumer_, command,
                                inventory_rejected_event(order_id, reason, {}, command.traceparent));
}

Result<void> SagaHandlers::on_release_requested(const events::CloudEvent& command) {
  MERCATO_ASSIGN_OR_RETURN(auto data, data_of(command));
  MERCATO_ASSIGN_OR_RETURN(auto order_id, order_id_of(data));
  MERCATO_ASSIGN_OR_RETURN(auto reason, text(data, "reason", "reason", false));
  auto released = inventory_.release(order_id, reason, command.traceparent);
  if (released) {
    if (released->moved) return events::answer_command(store_, consumer_, command);
    // The current state: released before, for whatever reason it was then (not stored).
    return events::answer_command(store_, consumer_, command,
                                  inventory_settled_event(released->reservation, {}, command.traceparent));
  }
  if (released.error().code == ErrorCode::kNotFound) {
    // A compensation always succeeds: nothing was reserved, so nothing is held.
    return events::answer_command(store_, consumer_, command,
                                  inventory_nothing_released_event(order_id, now_utc(), command.traceparent));
  }
  if (released.error().code == ErrorCode::kConflict) {
    // Sold units are not given back by a compensation: the saga must not have committed and then
    // released, and hears so rather than a release that did not happen.
    return events::answer_command(
        store_, consumer_, command,
        inventory_rejected_event(order_id, kReasonAlreadyCommitted, {}, command.traceparent));
  }
  return std::move(released).error();
}

Result<void> SagaHandlers::on_order_created(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  return on_reserve_requested(event);
}

Result<void> SagaHandlers::on_order_confirmed(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  return on_commit_requested(event);
}

Result<void> SagaHandlers::on_order_cancelled(const events::CloudEvent& event) {
  if (!events::choreographed(event)) return events::answer_command(store_, consumer_, event);
  return on_release_requested(event);
}

}  // namespace mercato::inventory
