#include "app/payment_events.hpp"

#include <boost/json.hpp>

namespace mercato::payment {
namespace {

constexpr std::string_view kService = "payment";

}  // namespace

events::CloudEvent payment_processed_event(const Payment& p, std::string traceparent, std::string_view saga) {
  boost::json::object data{{"payment_id", p.id},
                           {"order_id", p.order_id},
                           {"customer_id", p.customer_id},
                           {"amount_cents", p.amount_cents},
                           {"status", to_string(p.status)}};
  if (p.decline_reason) data["decline_reason"] = *p.decline_reason;
  data["created_at"] = format_rfc3339(p.created_at);
  if (!saga.empty()) data["saga"] = saga;
  return events::make_event(kService, "payment.processed", p.order_id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent payment_refunded_event(const Payment& p, std::string refund_id, std::string traceparent) {
  boost::json::object data{{"payment_id", p.id},
                           {"order_id", p.order_id},
                           {"refund_id", std::move(refund_id)},
                           {"amount_cents", p.amount_cents},
                           {"refunded_at", format_rfc3339(p.updated_at)}};
  return events::make_event(kService, "payment.refunded", p.order_id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent charge_refused_event(const ChargeRequest& request, std::string_view reason, SystemTime now,
                                        std::string traceparent, std::string_view saga) {
  boost::json::object data{{"order_id", request.order_id},
                           {"customer_id", request.customer_id},
                           {"amount_cents", request.amount_cents},
                           {"status", to_string(PaymentStatus::kDeclined)},
                           {"decline_reason", reason},
                           {"created_at", format_rfc3339(now)}};
  if (!saga.empty()) data["saga"] = saga;
  return events::make_event(kService, "payment.processed", request.order_id, boost::json::serialize(data),
                            std::move(traceparent));
}

events::CloudEvent nothing_refunded_event(std::string_view order_id, SystemTime now,
                                          std::string traceparent) {
  boost::json::object data{{"order_id", order_id}, {"amount_cents", 0}, {"refunded_at", format_rfc3339(now)}};
  return events::make_event(kService, "payment.refunded", std::string(order_id), boost::json::serialize(data),
                            std::move(traceparent));
}

}  // namespace mercato::payment
