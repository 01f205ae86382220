#include "api/handlers.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "mercato/http/query.hpp"
#include "mercato/json/json.hpp"

namespace mercato::payment {
namespace {

boost::json::object to_json(const Payment& p) {
  boost::json::object out{{"id", p.id},
                          {"order_id", p.order_id},
                          {"customer_id", p.customer_id},
                          {"amount_cents", p.amount_cents},
                          {"status", to_string(p.status)}};
  if (p.decline_reason) out["decline_reason"] = *p.decline_reason;
  out["created_at"] = format_rfc3339(p.created_at);
  out["updated_at"] = format_rfc3339(p.updated_at);
  return out;
}

http::Response error(const Error& e, const http::Request& req) {
  auto res = http::Response::error(e, req.request_id);
  if (e.code == ErrorCode::kConflict && e.field == kIdempotencyKeyHeader) res.headers.set("Retry-After", "1");
  return res;
}

// Limits well above the domain's, so an oversized value is reported by the domain rule that names it.
constexpr json::StringRule kText{.min = 0, .max = 4096};

// The body of POST /payments, or the 400 naming what is wrong with it.
Result<ChargeRequest> read_charge(const http::Request& req) {
  MERCATO_ASSIGN_OR_RETURN(auto body, json::parse_object(req.body));
  json::FieldReader in(body);
  auto order_id = in.string("order_id", json::kRequired, kText);
  auto customer_id = in.string("customer_id", json::kRequired, kText);
  auto amount = in.integer("amount_cents", json::kRequired, kMinAmountCents, kMaxAmountCents);
  auto token = in.string("payment_token", json::kRequired, kText);
  MERCATO_RETURN_IF_ERROR(in.finish());
  return ChargeRequest{*order_id, *customer_id, *amount, *token};
}

// The Idempotency-Key header: absent (nullopt), a valid key, or a 400 naming the header — checked before
// the body, so a request with both wrong hears about the header first.
Result<std::optional<std::string>> idempotency_key(const http::Request& req) {
  std::optional<std::string> key;
  for (const auto& [name, value] : req.headers.entries()) {
    if (!http::iequals(name, kIdempotencyKeyHeader)) continue;
    if (key) {
      std::string field(kIdempotencyKeyHeader);
      return Error::validation(field, field + ": must be sent at most once");
    }
    key = value;
  }
  if (key) {
    MERCATO_RETURN_IF_ERROR(validate_idempotency_key(*key));
  }
  return key;
}

http::Response charge(PaymentService& service, const http::Request& req) {
  auto key = idempotency_key(req);
  if (!key) return error(key.error(), req);
  auto request = read_charge(req);
  if (!request) return error(request.error(), req);
  // The charge's event carries this request's trace, so the saga's spans join the caller's trace.
  auto traceparent = req.trace.to_traceparent();
  if (!*key) {
    auto payment = service.charge(*request, traceparent);
    if (!payment) return error(payment.error(), req);
    return http::Response::json(201, to_json(*payment));
  }
  RenderOutcome render = [&req](const Result<Payment>& outcome) {
    auto res = outcome ? http::Response::json(201, to_json(*outcome))
                       : http::Response::error(outcome.error(), req.request_id);
    return StoredResponse{res.status, std::move(res.body)};
  };
  auto keyed = service.charge(*request, **key, render, traceparent);
  if (!keyed) return error(keyed.error(), req);
  auto res = http::Response::json_text(keyed->response.status, std::move(keyed->response.body));
  if (keyed->replayed) res.headers.set("Idempotent-Replayed", "true");
  return res;
}

// Lists hold only what the caller may see: another customer's order has no payments, as far as a
// customer can tell.
http::Response list(PaymentService& service, const http::Request& req, const auth::Principal& who) {
  http::QueryReader query(req);
  auto order_id = query.string("order_id", http::kRequired);
  if (auto done = query.finish(); !done) return error(done.error(), req);
  auto payments = service.list_for_order(*order_id);
  if (!payments) return error(payments.error(), req);
  boost::json::array items;
  items.reserve(payments->size());
  for (const auto& p : *payments) {
    if (who.may_see(p.customer_id)) items.push_back(to_json(p));
  }
  return http::Response::json(200, boost::json::object{{"payments", std::move(items)}});
}

http::Response get(PaymentService& service, const http::Request& req, const auth::Principal& who) {
  auto payment = service.get(req.param("id"));
  if (payment && !who.may_see(payment->customer_id)) {
    return error(payment_not_found(req.param("id")), req);
  }
  if (!payment) return error(payment.error(), req);
  return http::Response::json(200, to_json(*payment));
}

http::Response refund(PaymentService& service, const http::Request& req) {
  // No body, or an empty object: partial refunds do not exist, and a field such as amount_cents must
  // not be silently ignored.
  if (auto none = json::parse_no_fields(req.body); !none) return error(none.error(), req);
  auto payment = service.refund(req.param("id"), req.trace.to_traceparent());
  if (!payment) return error(payment.error(), req);
  return http::Response::json(200, to_json(*payment));
}

}  // namespace

void register_routes(http::Router& router, PaymentService& service, const service::Identity& identity) {
  using service::guard;
  // Payments are made by the saga (a service identity), refunded by an operator or a service, and seen
  // by their customer and staff.
  router.post("/payments", guard(identity, auth::kServiceOnly,
                                 [&service](const auto& req, const auto&) { return charge(service, req); }));
  router.get("/payments", guard(identity, auth::kSignedIn, [&service](const auto& req, const auto& who) {
               return list(service, req, who);
             }));
  router.get("/payments/{id}", guard(identity, auth::kSignedIn, [&service](const auto& req, const auto& who) {
               return get(service, req, who);
             }));
  router.post("/payments/{id}/refund",
              guard(identity, auth::kStaff,
                    [&service](const auto& req, const auto&) { return refund(service, req); }));
}

}  // namespace mercato::payment
