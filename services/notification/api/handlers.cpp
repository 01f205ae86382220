#include "api/handlers.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "mercato/http/query.hpp"
#include "mercato/json/json.hpp"

namespace mercato::notification {
namespace {

boost::json::object to_json(const Notification& n) {
  return {{"id", n.id},
          {"customer_id", n.customer_id},
          {"order_id", n.order_id},
          {"kind", to_string(n.kind)},
          {"message", n.message},
          {"created_at", format_rfc3339(n.created_at)}};
}

// Limits well above the domain's, so an oversized value is reported by the domain rule that names it.
constexpr json::StringRule kText{.min = 0, .max = 8192};

http::Response send(NotificationService& service, const http::Request& req) {
  auto body = json::parse_object(req.body);
  if (!body) return http::Response::error(body.error(), req.request_id);
  json::FieldReader in(*body);
  NotificationRequest request;
  request.customer_id = in.string("customer_id", json::kRequired, kText).value_or("");
  request.order_id = in.string("order_id", json::kRequired, kText).value_or("");
  request.kind = in.string("kind", json::kRequired, kText).value_or("");
  request.message = in.string("message", json::kRequired, kText).value_or("");
  if (auto done = in.finish(); !done) return http::Response::error(done.error(), req.request_id);
  auto recorded = service.send(request, req.trace.to_traceparent());
  if (!recorded) return http::Response::error(recorded.error(), req.request_id);
  return http::Response::json(recorded->created ? 201 : 200, to_json(recorded->notification));
}

// A customer sees their own notifications only: another customer's list is empty, as far as they can
// tell. Without customer_id, a customer's own list.
http::Response list(NotificationService& service, const http::Request& req, const auth::Principal& who) {
  http::QueryReader query(req);
  auto customer_id =
      query.string("customer_id", who.role == auth::Role::kCustomer ? http::kOptional : http::kRequired);
  auto limit = query.integer("limit", {.fallback = kDefaultListLimit, .min = 1, .max = kMaxListLimit});
  auto order_id = query.string("order_id", http::kOptional);
  if (auto done = query.finish(); !done) return http::Response::error(done.error(), req.request_id);
  if (!customer_id) customer_id = who.subject;
  if (!who.may_see(*customer_id)) {
    return http::Response::json(200, boost::json::object{{"notifications", boost::json::array{}}});
  }
  std::optional<std::string_view> order_filter;
  if (order_id) order_filter = *order_id;
  auto notifications = service.list(*customer_id, static_cast<int>(limit), order_filter);
  if (!notifications) return http::Response::error(notifications.error(), req.request_id);
  boost::json::array items;
  items.reserve(notifications->size());
  for (const auto& n : *notifications) items.emplace_back(to_json(n));
  return http::Response::json(200, boost::json::object{{"notifications", std::move(items)}});
}

}  // namespace

void register_routes(http::Router& router, NotificationService& service, const service::Identity& identity) {
  using service::guard;
  // Only the services send notifications; customers read their own, staff any.
  router.post("/notifications", guard(identity, auth::kServiceOnly, [&service](const auto& req, const auto&) {
                return send(service, req);
              }));
  router.get("/notifications", guard(identity, auth::kSignedIn, [&service](const auto& req, const auto& who) {
               return list(service, req, who);
             }));
}

}  // namespace mercato::notification
