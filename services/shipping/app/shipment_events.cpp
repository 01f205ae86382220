#include "app/shipment_events.hpp"

#include <boost/json.hpp>

namespace mercato::shipping {
namespace {

constexpr std::string_view kService = "shipping";

}  // namespace

events::CloudEvent shipment_created_event(const Shipment& s, std::string traceparent) {
  const auto& a = s.address;
  boost::json::object data{
      {"shipment_id", s.id},
      {"order_id", s.order_id},
      {"customer_id", s.customer_id},
      {"status", to_string(s.status)},
      {"address",
       {{"name", a.name},
        {"line1", a.line1},
        {"line2", a.line2},
        {"city", a.city},
        {"postal_code", a.postal_code},
        {"country", a.country}}},
      {"created_at", format_rfc3339(s.created_at)},
  };
  return events::make_event(kService, "shipment.created", s.order_id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent shipment_cancelled_event(const Shipment& s, std::string traceparent) {
  boost::json::object data{{"shipment_id", s.id},
                           {"order_id", s.order_id},
                           {"customer_id", s.customer_id},
                           {"status", to_string(s.status)},
                           {"created_at", format_rfc3339(s.created_at)},
                           {"cancelled_at", format_rfc3339(s.updated_at)}};
  return events::make_event(kService, "shipment.cancelled", s.order_id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent shipment_failed_event(std::string_view order_id, std::string_view reason,
                                         std::string traceparent) {
  boost::json::object data{{"order_id", order_id}, {"reason", reason}};
  return events::make_event(kService, "shipment.failed", std::string(order_id), boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent nothing_cancelled_event(std::string_view order_id, SystemTime now,
                                           std::string traceparent) {
  boost::json::object data{{"order_id", order_id}, {"cancelled_at", format_rfc3339(now)}};
  return events::make_event(kService, "shipment.cancelled", std::string(order_id),
                            boost::json::serialize(data), std::move(traceparent));
}

}  // namespace mercato::shipping
