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
                                            std::string traceparent) {
  boost::json::array lines;
  for (const auto& item : request.items) lines.push_back(line(item.product_id, item.quantity));
  boost::json::object data{{"order_id", request.order_id},
                           {"lines", std::move(lines)},
                           {"reserved_at", format_rfc3339(reserved_at)}};
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
