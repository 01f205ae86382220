#include "api/handlers.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "mercato/json/json.hpp"

namespace mercato::inventory {
namespace {

boost::json::object to_json(const Product& p) {
  return {{"product_id", p.product_id},
          {"name", p.name},
          {"price_cents", p.price_cents},
          {"available", p.available},
          {"reserved", p.reserved},
          {"sold", p.sold},
          {"created_at", format_rfc3339(p.created_at)},
          {"updated_at", format_rfc3339(p.updated_at)}};
}

boost::json::object to_json(const Reservation& r) {
  boost::json::array items;
  items.reserve(r.items.size());
  for (const auto& line : r.items) {
    items.push_back(boost::json::object{
        {"product_id", line.product_id}, {"quantity", line.quantity}, {"price_cents", line.price_cents}});
  }
  return {{"order_id", r.order_id},
          {"status", to_string(r.status)},
          {"items", std::move(items)},
          {"created_at", format_rfc3339(r.created_at)},
          {"updated_at", format_rfc3339(r.updated_at)}};
}

// Limits well above the domain's, so an oversized value is reported by the domain rule that names it.
constexpr json::StringRule kText{.min = 0, .max = 4096};

// "/inventory/reservations" is the reservation collection, which also matches /inventory/{product_id}:
// answer GET and PUT there as the method mismatch they are, never as a product named "reservations".
std::optional<http::Response> reservations_collection(const http::Request& req) {
  if (req.param("product_id") != "reservations") return std::nullopt;
  auto res = http::Response::error(Error{ErrorCode::kMethodNotAllowed,
                                         "method " + std::string(http::to_string(req.method)) +
                                             " is not allowed for " + req.path + "; allowed: POST",
                                         {}},
                                   req.request_id);
  res.headers.set("Allow", "POST");
  return res;
}

http::Response put_product(InventoryService& service, const http::Request& req) {
  if (auto collection = reservations_collection(req)) return std::move(*collection);
  auto body = json::parse_object(req.body);
  if (!body) return http::Response::error(body.error(), req.request_id);
  json::FieldReader in(*body);
  auto name = in.string("name", json::kRequired, kText);
  auto price = in.integer("price_cents", json::kRequired, 0, kMaxPriceCents);
  auto available = in.integer("available", json::kRequired, 0, kMaxAvailable);
  if (auto done = in.finish(); !done) return http::Response::error(done.error(), req.request_id);
  auto put =
      service.put_product(req.param("product_id"), {*name, *price, *available}, req.trace.to_traceparent());
  if (!put) return http::Response::error(put.error(), req.request_id);
  auto res = http::Response::json(put->created ? 201 : 200, to_json(put->product));
  if (put->created) res.headers.set("Location", "/inventory/" + put->product.product_id);
  return res;
}

http::Response get_product(InventoryService& service, const http::Request& req) {
  if (auto collection = reservations_collection(req)) return std::move(*collection);
  auto product = service.get_product(req.param("product_id"));
  if (!product) return http::Response::error(product.error(), req.request_id);
  return http::Response::json(200, to_json(*product));
}

// Types and number ranges (as FieldReader words them); the domain checks ids, line counts and repeats.
Result<ReservationRequest> read_reservation_request(std::string_view text) {
  MERCATO_ASSIGN_OR_RETURN(auto body, json::parse_object(text));
  json::FieldReader in(body);
  ReservationRequest request;
  auto order_id = in.string("order_id", json::kRequired, kText);
  const auto* items = in.array("items", json::kRequired);
  MERCATO_RETURN_IF_ERROR(in.finish());
  request.order_id = std::move(*order_id);
  request.items.reserve(std::min<std::size_t>(items->size(), kMaxReservationLines + 1));
  for (std::size_t i = 0; i < items->size(); ++i) {
    std::string path = "items[" + std::to_string(i) + "]";
    const auto& element = (*items)[i];
    if (!element.is_object()) return Error::validation(path, path + ": must be an object");
    json::FieldReader line(element.get_object(), path);
    auto product_id = line.string("product_id", json::kRequired, kText);
    auto quantity = line.integer("quantity", json::kRequired, 1, kMaxQuantity);
    MERCATO_RETURN_IF_ERROR(line.finish());
    request.items.push_back({std::move(*product_id), *quantity});
  }
  return request;
}

http::Response reserve(InventoryService& service, const http::Request& req) {
  auto request = read_reservation_request(req.body);
  if (!request) return http::Response::error(request.error(), req.request_id);
  // The reservation's event carries this request's trace, so the saga's spans join the caller's trace.
  auto reserved = service.reserve(*request, req.trace.to_traceparent());
  if (!reserved) return http::Response::error(reserved.error(), req.request_id);
  auto res = http::Response::json(reserved->created ? 201 : 200, to_json(reserved->reservation));
  res.headers.set("Location", "/inventory/reservations/" + reserved->reservation.order_id);
  return res;
}

http::Response reservation_response(const Result<Reservation>& reservation, const http::Request& req) {
  if (!reservation) return http::Response::error(reservation.error(), req.request_id);
  return http::Response::json(200, to_json(*reservation));
}

// Committing or releasing answers 200 with the reservation whether it moved now or before (a retry).
http::Response reservation_response(const Result<SettleResult>& settled, const http::Request& req) {
  if (!settled) return http::Response::error(settled.error(), req.request_id);
  return http::Response::json(200, to_json(settled->reservation));
}

}  // namespace

void register_routes(http::Router& router, InventoryService& service, const service::Identity& identity) {
  using service::guard;
  // Reservation routes first: the router takes the first pattern that matches. Only the saga reserves,
  // commits and releases (a service identity); operators may look.
  router.post("/inventory/reservations",
              guard(identity, auth::kServiceOnly,
                    [&service](const auto& req, const auto&) { return reserve(service, req); }));
  router.get("/inventory/reservations/{order_id}",
             guard(identity, auth::kStaff, [&service](const auto& req, const auto&) {
               return reservation_response(service.get_reservation(req.param("order_id")), req);
             }));
  router.post("/inventory/reservations/{order_id}/commit",
              guard(identity, auth::kServiceOnly, [&service](const auto& req, const auto&) {
                return reservation_response(service.commit(req.param("order_id"), req.trace.to_traceparent()),
                                            req);
              }));
  router.post("/inventory/reservations/{order_id}/release",
              guard(identity, auth::kServiceOnly, [&service](const auto& req, const auto&) {
                // No reason over REST (the API takes no body here); an in-process caller may give one.
                return reservation_response(
                    service.release(req.param("order_id"), {}, req.trace.to_traceparent()), req);
              }));
  // The catalog is public; prices and stock are set by an admin.
  router.get("/inventory/{product_id}",
             guard(identity, auth::kEveryone,
                   [&service](const auto& req, const auto&) { return get_product(service, req); }));
  router.put("/inventory/{product_id}",
             guard(identity, auth::kAdminOnly,
                   [&service](const auto& req, const auto&) { return put_product(service, req); }));
}

}  // namespace mercato::inventory
