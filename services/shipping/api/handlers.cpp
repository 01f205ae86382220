#include "api/handlers.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "mercato/http/query.hpp"
#include "mercato/json/json.hpp"

namespace mercato::shipping {
namespace {

boost::json::object to_json(const Address& a) {
  return {{"name", a.name},
          {"line1", a.line1},
          {"line2", a.line2},
          {"city", a.city},
          {"postal_code", a.postal_code},
          {"country", a.country}};
}

boost::json::object to_json(const Shipment& s) {
  return {{"id", s.id},
          {"order_id", s.order_id},
          {"customer_id", s.customer_id},
          {"address", to_json(s.address)},
          {"status", to_string(s.status)},
          {"created_at", format_rfc3339(s.created_at)},
          {"updated_at", format_rfc3339(s.updated_at)}};
}

// Limits well above the domain's, so an oversized value is reported by the domain rule that names it.
constexpr json::StringRule kText{.min = 0, .max = 4096};

http::Response create(ShippingService& service, const http::Request& req) {
  auto body = json::parse_object(req.body);
  if (!body) return http::Response::error(body.error(), req.request_id);
  json::FieldReader in(*body);
  ShipmentRequest request;
  request.order_id = in.string("order_id", json::kRequired, kText).value_or("");
  request.customer_id = in.string("customer_id", json::kRequired, kText).value_or("");
  const auto* address = in.object("address", json::kRequired);
  if (auto done = in.finish(); !done) return http::Response::error(done.error(), req.request_id);
  json::FieldReader at(*address, "address");
  request.address.name = at.string("name", json::kRequired, kText).value_or("");
  request.address.line1 = at.string("line1", json::kRequired, kText).value_or("");
  request.address.line2 = at.string("line2", json::kOptional, kText).value_or("");
  request.address.city = at.string("city", json::kRequired, kText).value_or("");
  request.address.postal_code = at.string("postal_code", json::kRequired, kText).value_or("");
  request.address.country = at.string("country", json::kRequired, kText).value_or("");
  if (auto done = at.finish(); !done) return http::Response::error(done.error(), req.request_id);

  auto outcome = service.create(request, req.trace.to_traceparent());
  if (!outcome) return http::Response::error(outcome.error(), req.request_id);
  if (!outcome->created) return http::Response::json(200, to_json(outcome->shipment));
  auto res = http::Response::json(201, to_json(outcome->shipment));
  res.headers.set("Location", "/shipments/" + outcome->shipment.id);
  return res;
}

// Lists hold only what the caller may see (another customer's shipments do not exist for a customer).
http::Response list(ShippingService& service, const http::Request& req, const auth::Principal& who) {
  http::QueryReader query(req);
  auto order_id = query.string("order_id", http::kRequired);
  if (auto done = query.finish(); !done) return http::Response::error(done.error(), req.request_id);
  auto shipments = service.list_for_order(*order_id);
  if (!shipments) return http::Response::error(shipments.error(), req.request_id);
  boost::json::array items;
  items.reserve(shipments->size());
  for (const auto& s : *shipments) {
    if (who.may_see(s.customer_id)) items.emplace_back(to_json(s));
  }
  return http::Response::json(200, boost::json::object{{"shipments", std::move(items)}});
}

http::Response get(ShippingService& service, const http::Request& req, const auth::Principal& who) {
  auto shipment = service.get(req.param("id"));
  if (shipment && !who.may_see(shipment->customer_id)) {
    return http::Response::error(shipment_not_found(req.param("id")), req.request_id);
  }
  if (!shipment) return http::Response::error(shipment.error(), req.request_id);
  return http::Response::json(200, to_json(*shipment));
}

http::Response cancel(ShippingService& service, const http::Request& req) {
  // No body is needed; one that is sent must be an empty object, so a client expecting a field such as
  // "reason" to be honoured learns that it is not.
  if (auto none = json::parse_no_fields(req.body); !none)
    return http::Response::error(none.error(), req.request_id);
  auto shipment = service.cancel(req.param("id"), req.trace.to_traceparent());
  if (!shipment) return http::Response::error(shipment.error(), req.request_id);
  return http::Response::json(200, to_json(*shipment));
}

}  // namespace

void register_routes(http::Router& router, ShippingService& service, const service::Identity& identity) {
  using service::guard;
  // Shipments are created by the saga (a service identity), cancelled by an operator or a service, and
  // seen by their customer and staff.
  router.post("/shipments", guard(identity, auth::kServiceOnly,
                                  [&service](const auto& req, const auto&) { return create(service, req); }));
  router.get("/shipments", guard(identity, auth::kSignedIn, [&service](const auto& req, const auto& who) {
               return list(service, req, who);
             }));
  router.get("/shipments/{id}",
             guard(identity, auth::kSignedIn,
                   [&service](const auto& req, const auto& who) { return get(service, req, who); }));
  router.post("/shipments/{id}/cancel",
              guard(identity, auth::kStaff,
                    [&service](const auto& req, const auto&) { return cancel(service, req); }));
}

}  // namespace mercato::shipping
