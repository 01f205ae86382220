#include "api/handlers.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <limits>
#include <set>

#include "app/json_codec.hpp"
#include "mercato/http/query.hpp"
#include "mercato/json/json.hpp"

namespace mercato::order {

bool valid_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

constexpr json::StringRule kIdRule{.min = 1, .max = 64};

Error bad_id(const std::string& field) {
  return Error::validation(field, field + ": must be 1 to 64 letters, digits, '.', '_' or '-'");
}

Result<Address> parse_address(const boost::json::object& o) {
  json::FieldReader in(o, "shipping_address");
  Address a;
  auto name = in.string("name", json::kRequired, {.min = 0, .max = 4096});
  auto line1 = in.string("line1", json::kRequired, {.min = 0, .max = 4096});
  auto line2 = in.string("line2", json::kOptional, {.min = 0, .max = 4096});
  auto city = in.string("city", json::kRequired, {.min = 0, .max = 4096});
  auto postal = in.string("postal_code", json::kRequired, {.min = 0, .max = 4096});
  auto country = in.string("country", json::kRequired, {.min = 0, .max = 4096});
  MERCATO_RETURN_IF_ERROR(in.finish());
  return Address{*name, *line1, line2.value_or(""), *city, *postal, *country};
}

Result<NewLine> parse_line(const boost::json::value& v, std::size_t index) {
  std::string path = "items[" + std::to_string(index) + "]";
  if (!v.is_object()) return Error::validation(path, path + ": must be an object");
  const auto& o = v.get_object();
  json::FieldReader in(o, path);
  auto product_id = in.string("product_id", json::kRequired, kIdRule);
  auto quantity = in.integer("quantity", json::kRequired, 1, 1'000'000);
  auto price_cents = in.integer("price_cents", json::kOptional, 0, 1'000'000'000'000);
  in.allow("price");
  MERCATO_RETURN_IF_ERROR(in.finish());
  if (!valid_id(*product_id)) return bad_id(path + ".product_id");
  NewLine line{*product_id, *quantity, std::nullopt, {}};
  if (price_cents) {
    line.claimed_price_cents = *price_cents;
    line.claimed_field = path + ".price_cents";
  }
  if (const auto* price = o.if_contains("price"); price != nullptr && !price->is_null()) {
    std::string field = path + ".price";
    if (price_cents) return Error::validation(field, field + ": send price_cents or price, not both");
    if (!price->is_number()) return Error::validation(field, field + ": must be a number");
    MERCATO_ASSIGN_OR_RETURN(auto cents, cents_from_decimal(price->to_number<double>(), field));
    line.claimed_price_cents = cents;
    line.claimed_field = field;
  }
  return line;
}

// The page number of GET /orders and GET /admin/orders.
constexpr http::IntegerRule kPage{.fallback = 1, .min = 1, .max = 1'000'000};
// ?at_version=N of GET /orders/{id}; 0 when absent.
constexpr http::IntegerRule kVersion{.fallback = 0, .min = 1, .max = std::numeric_limits<std::int64_t>::max()};

// The header a write's answer carries its stream position in: a query that passes it as
// ?min_position= waits until the read models have it (read-your-writes).
constexpr std::string_view kPositionHeader = "Mercato-Position";

http::Response written(int status, const Written& w) {
  auto res = http::Response::json(status, to_json(w.order));
  if (w.position > 0) res.headers.set(kPositionHeader, std::to_string(w.position));
  return res;
}

// A customer places orders for themselves (customer_id, when sent, must be theirs); an admin places one
// for the customer it names.
boost::asio::awaitable<http::Response> create(OrderService& service, const http::Request& req,
                                              const auth::Principal& who) {
  auto input = parse_new_order(req.body);
  if (!input) co_return http::Response::error(input.error(), req.request_id);
  if (who.role == auth::Role::kCustomer) {
    if (input->customer_id.empty()) input->customer_id = who.subject;
    if (input->customer_id != who.subject) {
      co_return http::Response::error(
          Error::permission_denied("customer_id: a customer places orders for themselves only"),
          req.request_id);
    }
  } else if (input->customer_id.empty()) {
    co_return http::Response::error(Error::validation("customer_id", "customer_id: is required"),
                                    req.request_id);
  }
  CallContext ctx{req.request_id, req.trace.to_traceparent(), req.deadline};
  auto placed = co_await service.create(*input, ctx);
  if (!placed) co_return http::Response::error(placed.error(), req.request_id);
  auto res = written(201, *placed);
  res.headers.set("Location", "/orders/" + placed->order.id);
  co_return res;
}

// The order now, or as it was at ?at_version=N (its stream folded up to that event).
http::Response get(OrderService& service, const http::Request& req, const auth::Principal& who) {
  http::QueryReader query(req);
  auto at_version = query.integer("at_version", kVersion);
  if (auto done = query.finish(); !done) return http::Response::error(done.error(), req.request_id);
  // Who may see it is decided on the order as it is now (its customer never changes).
  auto order = service.get(req.param("id"));
  if (order && !who.may_see(order->customer_id)) order = order_not_found(req.param("id"));
  if (order && at_version != 0) order = service.get(req.param("id"), at_version);
  if (!order) return http::Response::error(order.error(), req.request_id);
  return http::Response::json(200, to_json(*order));
}

// The order's stream: every event with its version, position and time, as its type's current version.
http::Response history(OrderService& service, const http::Request& req, const auth::Principal& who) {
  auto order = service.get(req.param("id"));
  if (order && !who.may_see(order->customer_id)) order = order_not_found(req.param("id"));
  if (!order) return http::Response::error(order.error(), req.request_id);
  auto entries = service.history(req.param("id"));
  if (!entries) return http::Response::error(entries.error(), req.request_id);
  boost::json::array items;
  for (const auto& e : *entries) items.push_back(to_json(e));
  return http::Response::json(200, boost::json::object{{"order_id", order->id},
                                                       {"version", order->version},
                                                       {"events", std::move(items)}});
}

http::Response saga(OrderService& service, const http::Request& req, const auth::Principal& who) {
  auto order = service.get(req.param("id"));
  if (order && !who.may_see(order->customer_id)) order = order_not_found(req.param("id"));
  if (!order) return http::Response::error(order.error(), req.request_id);
  auto saga = service.saga(req.param("id"));
  if (!saga) return http::Response::error(saga.error(), req.request_id);
  return http::Response::json(200, to_json(*saga));
}

http::Response list_all(OrderService& service, const http::Request& req) {
  http::QueryReader query(req);
  auto page = query.integer("page", kPage);
  auto limit = query.integer("limit", {.fallback = 100, .min = 1, .max = 1000});
  if (auto done = query.finish(); !done) return http::Response::error(done.error(), req.request_id);
  auto orders = service.list_all(page, limit);
  if (!orders) return http::Response::error(orders.error(), req.request_id);
  boost::json::array items;
  for (const auto& o : orders->orders) items.push_back(to_json(o));
  boost::json::object body{
      {"orders", std::move(items)}, {"page", page}, {"limit", limit}, {"has_more", orders->has_more}};
  return http::Response::json(200, body);
}

// A customer's own list by default; another customer's list is empty, as far as a customer can tell.
http::Response list(OrderService& service, const http::Request& req, const auth::Principal& who) {
  http::QueryReader query(req);
  auto customer =
      query.string("customer_id", who.role == auth::Role::kCustomer ? http::kOptional : http::kRequired);
  auto page = query.integer("page", kPage);
  // Limits above the maximum are capped rather than refused; the response says what was used.
  auto used = query.integer(
      "limit", {.fallback = kDefaultPageSize, .min = 1, .max = kMaxPageSize, .above = http::AboveMax::kCap});
  if (auto done = query.finish(); !done) return http::Response::error(done.error(), req.request_id);
  if (!customer) customer = who.subject;
  if (!valid_id(*customer)) return http::Response::error(bad_id("customer_id"), req.request_id);
  if (!who.may_see(*customer)) {
    return http::Response::json(
        200, boost::json::object{
                 {"orders", boost::json::array{}}, {"page", page}, {"limit", used}, {"has_more", false}});
  }
  auto result = service.list(*customer, page, used);
  if (!result) return http::Response::error(result.error(), req.request_id);
  boost::json::array orders;
  for (const auto& o : result->orders) orders.push_back(to_json(o));
  return http::Response::json(
      200,
      boost::json::object{
          {"orders", std::move(orders)}, {"page", page}, {"limit", used}, {"has_more", result->has_more}});
}

http::Response cancel(OrderService& service, const http::Request& req, const auth::Principal& who) {
  std::string reason =
      who.role == auth::Role::kCustomer ? "cancelled by the customer" : "cancelled by an operator";
  if (!req.body.empty()) {
    auto body = json::parse_object(req.body);
    if (!body) return http::Response::error(body.error(), req.request_id);
    json::FieldReader in(*body);
    auto given = in.string("reason", json::kOptional, {.min = 1, .max = 500});
    if (auto done = in.finish(); !done) return http::Response::error(done.error(), req.request_id);
    if (given) reason = *given;
  }
  // The body is checked first (it says nothing about the order); then whether the caller may see it.
  auto existing = service.get(req.param("id"));
  if (existing && !who.may_see(existing->customer_id)) existing = order_not_found(req.param("id"));
  if (!existing) return http::Response::error(existing.error(), req.request_id);
  auto cancelled = service.cancel(req.param("id"), std::move(reason));
  if (!cancelled) return http::Response::error(cancelled.error(), req.request_id);
  return written(200, *cancelled);
}

}  // namespace

Result<NewOrder> parse_new_order(std::string_view text) {
  MERCATO_ASSIGN_OR_RETURN(auto body, json::parse_object(text));
  json::FieldReader in(body);
  // Optional: a customer's own id by default (the handler checks who may name whom).
  auto customer_id = in.string("customer_id", json::kOptional, kIdRule);
  const auto* items = in.array("items", json::kRequired);
  auto token = in.string("payment_token", json::kRequired, {.min = 1, .max = 64});
  const auto* address = in.object("shipping_address", json::kRequired);
  MERCATO_RETURN_IF_ERROR(in.finish());
  if (customer_id && !valid_id(*customer_id)) return bad_id("customer_id");
  if (items->empty()) return Error::validation("items", "items: an order needs at least one item");
  if (items->size() > 100) return Error::validation("items", "items: at most 100 lines per order");
  NewOrder order;
  order.customer_id = customer_id.value_or("");
  order.payment_token = *token;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < items->size(); ++i) {
    MERCATO_ASSIGN_OR_RETURN(auto line, parse_line((*items)[i], i));
    if (!seen.insert(line.product_id).second) {
      std::string field = "items[" + std::to_string(i) + "].product_id";
      return Error::validation(field,
                               field + ": " + line.product_id + " appears twice; use one line per product");
    }
    order.lines.push_back(std::move(line));
  }
  MERCATO_ASSIGN_OR_RETURN(auto parsed_address, parse_address(*address));
  order.shipping_address = std::move(parsed_address);
  MERCATO_RETURN_IF_ERROR(validate(order.shipping_address));
  return order;
}

void register_routes(http::Router& router, OrderService& service, const service::Identity& identity) {
  using auth::Role;
  using service::guard;
  // Customers place, read and cancel their own orders; an admin any; services read.
  router.add_async(http::Method::kPost, "/orders",
                   service::guard_async(identity, Role::kCustomer | Role::kAdmin,
                                        [&service](const http::Request& req, const auth::Principal& who) {
                                          return create(service, req, who);
                                        }));
  router.get("/orders", guard(identity, auth::kSignedIn, [&service](const auto& req, const auto& who) {
               return list(service, req, who);
             }));
  router.get("/orders/{id}", guard(identity, auth::kSignedIn, [&service](const auto& req, const auto& who) {
               return get(service, req, who);
             }));
  router.get("/orders/{id}/events",
             guard(identity, auth::kSignedIn,
                   [&service](const auto& req, const auto& who) { return history(service, req, who); }));
  router.get("/orders/{id}/saga",
             guard(identity, auth::kSignedIn,
                   [&service](const auto& req, const auto& who) { return saga(service, req, who); }));
  // For operators (./mercato check): every order.
  router.get("/admin/orders", guard(identity, auth::kStaff, [&service](const auto& req, const auto&) {
               return list_all(service, req);
             }));
  router.post("/orders/{id}/cancel",
              guard(identity, Role::kCustomer | Role::kAdmin,
                    [&service](const auto& req, const auto& who) { return cancel(service, req, who); }));
}

}  // namespace mercato::order
