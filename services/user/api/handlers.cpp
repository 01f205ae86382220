#include "api/handlers.hpp"

#include <boost/json/object.hpp>

#include "mercato/json/json.hpp"

namespace mercato::user {
namespace {

boost::json::object to_json(const User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"name", u.name},
          {"created_at", format_rfc3339(u.created_at)},
          {"updated_at", format_rfc3339(u.updated_at)}};
}

// Limits well above the domain's, so an oversized value is reported by the domain rule that names it.
constexpr json::StringRule kText{.min = 0, .max = 4096};

http::Response create(UserService& service, const http::Request& req) {
  auto body = json::parse_object(req.body);
  if (!body) return http::Response::error(body.error(), req.request_id);
  json::FieldReader in(*body);
  auto email = in.string("email", json::kRequired, kText);
  auto name = in.string("name", json::kRequired, kText);
  if (auto done = in.finish(); !done) return http::Response::error(done.error(), req.request_id);
  auto user = service.create({*email, *name}, req.trace.to_traceparent());
  if (!user) return http::Response::error(user.error(), req.request_id);
  auto res = http::Response::json(201, to_json(*user));
  res.headers.set("Location", "/users/" + user->id);
  return res;
}

http::Response get(UserService& service, const http::Request& req) {
  auto user = service.get(req.param("id"));
  if (!user) return http::Response::error(user.error(), req.request_id);
  return http::Response::json(200, to_json(*user));
}

http::Response patch(UserService& service, const http::Request& req) {
  auto body = json::parse_object(req.body);
  if (!body) return http::Response::error(body.error(), req.request_id);
  json::FieldReader in(*body);
  UserPatch p;
  p.email = in.string("email", json::kOptional, kText);
  p.name = in.string("name", json::kOptional, kText);
  if (auto done = in.finish(); !done) return http::Response::error(done.error(), req.request_id);
  auto user = service.update(req.param("id"), std::move(p), req.trace.to_traceparent());
  if (!user) return http::Response::error(user.error(), req.request_id);
  return http::Response::json(200, to_json(*user));
}

}  // namespace

void register_routes(http::Router& router, UserService& service) {
  router.post("/users", [&service](const http::Request& req) { return create(service, req); });
  router.get("/users/{id}", [&service](const http::Request& req) { return get(service, req); });
  router.patch("/users/{id}", [&service](const http::Request& req) { return patch(service, req); });
}

}  // namespace mercato::user
