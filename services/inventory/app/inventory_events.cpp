#include "app/inventory_events.hpp"

#include <boost/json.hpp>

namespace mercato::inventory {
namespace {

constexpr std::string_view kService = "inventory";

boost::json::object line(std::string_view product_id, std::int64_t quantity) {
  return {{"product_id", product_id}, {"quantity", quantity}};
}

}  // namespace

events::CloudEvent inventory_reserved_event(const ReservationRequest& request, SystemTime reserved_at,
                                            std::string traceparent, std::string_view saga) {
  boost::json::array lines;
  for (const auto& item : request.items) lines.push_back(line(item.product_id, item.quantity));
  boost::json::object data{{"order_id", request.order_id},
                           {"lines", std::move(lines)},
                           {"reserved_at", format_rfc3339(reserved_at)}};
  if (!saga.empty()) data["saga"] = saga;
  return events::make_event(kService, "inventory.reserved", request.order_id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent inventory_settled_event(const Reservation& r, std::string_view reason,
                                           std::string traceparent) {
  boost::json::array lines;
  for (const auto& item : r.items) lines.push_back(line(item.product_id, item.quantity));
  bool committed = r.status == ReservationStatus::kCommitted;
  boost::json::object data{{"order_id", r.order_id}, {"lines", std::move(lines)}};
  if (!committed && !reason.empty()) data["reason"] = reason;
  data[committed ? "committed_at" : "released_at"] = format_rfc3339(r.updated_at);
  return events::make_event(kService, committed ? "inventory.committed" : "inventory.released", r.order_id,
                            boost::json::serialize(data), std::move(traceparent));
}

events::CloudEvent inventory_reserved_event(const Reservation& reservation, std::string traceparent,
                                            std::string_view saga) {
  boost::json::array lines;
  for (const auto& item : reservation.items) lines.push_back(line(item.product_id, item.quantity));
  boost::json::object data{{"order_id", reservation.order_id},
                           {"lines", std::move(lines)},
                           {"reserved_at", format_rfc3339(reservation.created_at)}};
  if (!saga.empty()) data["saga"] = saga;
  return events::make_event(kService, "inventory.reserved", reservation.order_id,
                            boost::json::serialize(data), std::move(traceparent));
}

events::CloudEvent inventory_nothing_released_event(std::string_view order_id, SystemTime released_at,
                                                    std::string traceparent) {
  boost::json::object data{
      {"order_id", order_id}, {"lines", boost::json::array()}, {"released_at", format_rfc3339(released_at)}};
  return events::make_event(kService, "inventory.released", std::string(order_id),
                            boost::json::serialize(data), std::move(traceparent));
}

events::CloudEvent inventory_rejected_event(std::string_view order_id, std::string_view reason,
                                            std::string_view product_id, std::string traceparent) {
  boost::json::object data{{"order_id", order_id}, {"reason", reason}};
  if (!product_id.empty()) data["product_id"] = product_id;
  return events::make_event(kService, "inventory.rejected", std::string(order_id),
                            boost::json::serialize(data), std::move(traceparent));
}

events::CloudEvent inventory_product_updated_event(std::string_view product_id, const ProductInput& input,
                                                   SystemTime updated_at, std::string traceparent) {
  boost::json::object data{{"product_id", product_id},
                           {"name", input.name},
                           {"price_cents", input.price_cents},
                           {"available", input.available},
                           {"updated_at", format_rfc3339(updated_at)}};
  return events::make_event(kService, "inventory.product_updated", std::string(product_id),
                            boost::json::serialize(data), std::move(traceparent));
}

}  // namespace mercato::inventory
