#include "api/handlers.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>
#include <limits>
#include <set>

#include "app/json_codec.hpp"
#include "mercato/http/query.hpp"
#include "mercato/json/json.hpp"
#include "mercato/observability/tracing.hpp"
#include "mercato/service/blocking.hpp"

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
// ?min_position=N of the read side's queries; 0 when absent.
constexpr http::IntegerRule kMinPosition{
    .fallback = 0, .min = 1, .max = std::numeric_limits<std::int64_t>::max()};
// ?at_version=N of GET /orders/{id}; 0 when absent.
constexpr http::IntegerRule kVersion{
    .fallback = 0, .min = 1, .max = std::numeric_limits<std::int64_t>::max()};

// The header a write's answer carries its stream position in: a query that passes it as
// ?min_position= waits until the read models have it (read-your-writes).
constexpr std::string_view kPositionHeader = "Mercato-Position";

http::Response written(int status, const Written& w) {
  auto res = http::Response::json(status, to_json(w.order));
  if (w.position > 0) res.headers.set(kPositionHeader, std::to_string(w.position));
  return res;
}

// An error as its answer; a 503 says when to try again.
http::Response unavailable(const Error& e, const http::Request& req) {
  auto res = http::Response::error(e, req.request_id);
  if (e.code == ErrorCode::kUnavailable) res.headers.set("Retry-After", "1");
  return res;
}

// Admission control's refusal (ADR 0018): 503, Retry-After, and the figures beside the error so a client
// or an operator sees why without reading the message.
http::Response overloaded(const Admission::Refusal& refusal, const http::Request& req) {
  boost::json::object admission{{"backlog", refusal.backlog},
                                {"limit", refusal.limit},
                                {"finish_rate_per_second", refusal.finish_rate},
                                {"retry_after_seconds", refusal.retry_after.count()}};
  auto res = http::Response::error(refusal.error(), req.request_id, {{"admission", std::move(admission)}});
  res.headers.set("Retry-After", std::to_string(refusal.retry_after.count()));
  return res;
}

// A customer places orders for themselves (customer_id, when sent, must be theirs; their token proves
// they exist); an admin places one for the customer it names, whom the user service must know. Admission
// control decides after the request is known to be valid (a bad request is a 4xx whatever the load) and
// before any call to another service.
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
    input->customer_is_caller = true;
  } else if (input->customer_id.empty()) {
    co_return http::Response::error(Error::validation("customer_id", "customer_id: is required"),
                                    req.request_id);
  }
  auto admitted = service.admit();
  if (const auto* refused = std::get_if<Admission::Refusal>(&admitted)) co_return overloaded(*refused, req);
  CallContext ctx{req.request_id, req.trace.to_traceparent(), req.deadline};
  auto placed = co_await service.create(*input, ctx, std::get<Admission::Ticket>(std::move(admitted)));
  if (!placed) co_return unavailable(placed.error(), req);
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
  return http::Response::json(
      200, boost::json::object{
               {"order_id", order->id}, {"version", order->version}, {"events", std::move(items)}});
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

// How long a query that names a position waits for the read models to reach it.
constexpr auto kPositionWait = std::chrono::seconds(1);
constexpr auto kPositionPoll = std::chrono::milliseconds(5);

// Read-your-writes: waits (without blocking the I/O thread) until `projection` has applied `position`;
// kUnavailable when it has not within kPositionWait, kValidation for a position past every write.
boost::asio::awaitable<Result<void>> reach(OrderReadModels& models, service::BlockingPool* storage,
                                           std::string_view projection, std::int64_t position) {
  if (position <= 0) co_return Result<void>{};
  // The reads below on the storage pool when there is one (service.hpp, Context::storage_pool).
  auto on_storage = [storage]<typename F>(F fn) -> boost::asio::awaitable<decltype(fn())> {
    auto out = co_await service::run_on_storage(storage, std::move(fn));
    if (!out) co_return service::storage_saturated();
    co_return std::move(*out);
  };
  // A position no write has reached yet cannot be waited for (and a made-up one must not hold a
  // connection and poll the database for the whole wait).
  auto head = co_await on_storage([&] { return models.head(); });
  if (!head) co_return std::move(head).error();
  if (position > *head) {
    co_return Error::validation("min_position", "min_position: " + std::to_string(position) +
                                                    " is past the newest write (" + std::to_string(*head) +
                                                    "); pass the Mercato-Position a write answered");
  }
  auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer timer(executor);
  auto until = std::chrono::steady_clock::now() + kPositionWait;
  for (;;) {
    auto at = co_await on_storage([&] { return models.position(projection); });
    if (!at) co_return std::move(at).error();
    if (*at >= position) co_return Result<void>{};
    if (std::chrono::steady_clock::now() >= until) {
      co_return Error::unavailable("the read model has not reached position " + std::to_string(position) +
                                   " yet (at " + std::to_string(*at) + "); try again");
    }
    timer.expires_after(kPositionPoll);
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
}

// ?from= / ?to= of the list: RFC 3339 date-times.
std::optional<SystemTime> time_param(http::QueryReader& query, const char* name, std::optional<Error>& bad) {
  auto text = query.string(name, http::kOptional);
  if (!text) return std::nullopt;
  auto t = parse_rfc3339(*text);
  if (!t)
    bad = Error::validation(
        name, std::string(name) + ": must be an RFC 3339 date-time such as 2026-12-06T10:00:00Z");
  return t;
}

boost::json::object to_json(const OrderSummary& s) {
  boost::json::object o{{"id", s.id},
                        {"customer_id", s.customer_id},
                        {"status", to_string(s.status)},
                        {"total_cents", s.total_cents},
                        {"item_count", s.item_count},
                        {"created_at", format_rfc3339(s.created_at)},
                        {"updated_at", format_rfc3339(s.updated_at)},
                        {"version", s.version}};
  if (s.status == Status::kCancelled) {
    o["reason"] = s.reason;
    o["cancelled_by"] = to_string(s.cancelled_by);
  }
  return o;
}

// A customer's orders from the order_summaries read model, newest first, a page per cursor. A customer's
// own list by default; another customer's list is empty, as far as a customer can tell.
boost::asio::awaitable<http::Response> list(OrderReadModels& models, service::BlockingPool* storage,
                                            const http::Request& req, const auth::Principal& who) {
  http::QueryReader query(req);
  // A customer's own list by default; an admin's, every customer's; a service names whose it wants.
  auto customer =
      query.string("customer_id", who.role == auth::Role::kService ? http::kRequired : http::kOptional);
  auto status_text = query.string("status", http::kOptional);
  std::optional<Error> bad;
  auto from = time_param(query, "from", bad);
  auto to = time_param(query, "to", bad);
  auto cursor_text = query.string("cursor", http::kOptional);
  // Limits above the maximum are capped rather than refused; the response says what was used.
  auto used = query.integer(
      "limit", {.fallback = kDefaultPageSize, .min = 1, .max = kMaxPageSize, .above = http::AboveMax::kCap});
  auto min_position = query.integer("min_position", kMinPosition);
  // Offset pages are gone (they shift while orders arrive): a client still sending one is told, not
  // silently given the first page again.
  if (query.string("page", http::kOptional)) {
    bad = Error::validation(
        "page", "page: the list pages with cursors now; pass the answer's next_cursor as cursor=");
  }
  if (auto done = query.finish(); !done) co_return http::Response::error(done.error(), req.request_id);
  if (bad) co_return http::Response::error(*bad, req.request_id);
  if (!customer && who.role != auth::Role::kAdmin) customer = who.subject;
  if (customer && !valid_id(*customer))
    co_return http::Response::error(bad_id("customer_id"), req.request_id);
  SummaryQuery q{.customer_id = customer.value_or(""), .from = from, .to = to, .limit = used};
  if (status_text) {
    q.status = parse_status(*status_text);
    if (!q.status) {
      co_return http::Response::error(
          Error::validation("status", "status: must be pending, pending_payment, confirmed or cancelled"),
          req.request_id);
    }
  }
  if (cursor_text) {
    q.after = parse_cursor(*cursor_text);
    if (!q.after) {
      co_return http::Response::error(
          Error::validation("cursor", "cursor: not a cursor this list gave (pass next_cursor as it is)"),
          req.request_id);
    }
  }
  if (auto reached = co_await reach(models, storage, "order_summaries", min_position); !reached) {
    co_return unavailable(reached.error(), req);
  }
  boost::json::object body{{"orders", boost::json::array{}}, {"limit", used}, {"next_cursor", nullptr}};
  // Only an admin lists without a customer (above): every other caller names one or is one.
  if (customer && !who.may_see(*customer)) co_return http::Response::json(200, body);
  // The query as a span of the request's trace: the scope lives only inside the lambda, no co_await.
  auto queried = co_await service::run_on_storage(storage, [&] {
    obs::ContextScope scope(req.tracer, req.trace);
    return models.summaries(q);
  });
  if (!queried) co_return service::storage_busy(req);
  auto& page = *queried;
  if (!page) co_return http::Response::error(page.error(), req.request_id);
  auto& orders = body["orders"].as_array();
  for (const auto& s : page->orders) orders.push_back(to_json(s));
  if (page->next) body["next_cursor"] = format_cursor(*page->next);
  co_return http::Response::json(200, body);
}

// Confirmed sales per product per day from the sales_daily read model (admins): ?from=&to= as
// YYYY-MM-DD (inclusive; default the last 30 days), at most 366 days.
boost::asio::awaitable<http::Response> sales(OrderReadModels& models, service::BlockingPool* storage,
                                             const http::Request& req) {
  http::QueryReader query(req);
  auto from_text = query.string("from", http::kOptional);
  auto to_text = query.string("to", http::kOptional);
  auto min_position = query.integer("min_position", kMinPosition);
  if (auto done = query.finish(); !done) co_return http::Response::error(done.error(), req.request_id);
  auto day = [](const std::string& text) { return parse_rfc3339(text + "T00:00:00Z"); };
  auto today = *day(format_rfc3339(now_utc()).substr(0, 10));
  std::optional<SystemTime> to = to_text ? day(*to_text) : today;
  if (!to || (to_text && to_text->size() != 10)) {
    co_return http::Response::error(Error::validation("to", "to: must be a day such as 2026-12-06"),
                                    req.request_id);
  }
  std::optional<SystemTime> from = from_text ? day(*from_text) : *to - std::chrono::days(29);
  if (!from || (from_text && from_text->size() != 10)) {
    co_return http::Response::error(Error::validation("from", "from: must be a day such as 2026-12-01"),
                                    req.request_id);
  }
  if (*from > *to || *to - *from > std::chrono::days(365)) {
    co_return http::Response::error(
        Error::validation("from", "from: must be on or before to, and at most 366 days before it"),
        req.request_id);
  }
  if (auto reached = co_await reach(models, storage, "sales_daily", min_position); !reached) {
    co_return unavailable(reached.error(), req);
  }
  auto first = format_rfc3339(*from).substr(0, 10);
  auto last = format_rfc3339(*to).substr(0, 10);
  auto queried = co_await service::run_on_storage(storage, [&] {
    obs::ContextScope scope(req.tracer, req.trace);
    return models.sales(first, last);
  });
  if (!queried) co_return service::storage_busy(req);
  auto& rows = *queried;
  if (!rows) co_return http::Response::error(rows.error(), req.request_id);
  boost::json::array days;
  std::int64_t units = 0, cents = 0;
  for (const auto& r : *rows) {
    days.push_back({{"day", r.day},
                    {"product_id", r.product_id},
                    {"units", r.units},
                    {"cents", r.cents},
                    {"orders", r.orders}});
    units += r.units;
    cents += r.cents;
  }
  co_return http::Response::json(200, boost::json::object{{"from", first},
                                                          {"to", last},
                                                          {"sales", std::move(days)},
                                                          {"total_units", units},
                                                          {"total_cents", cents}});
}

boost::json::object to_json(const ProjectionStatus& s) {
  boost::json::object o{{"name", s.name},       {"generation", s.generation}, {"position", s.position},
                        {"head", s.head},       {"lag_events", s.lag_events}, {"lag_seconds", s.lag_seconds},
                        {"rebuilding", nullptr}};
  if (s.rebuilding) o["rebuilding"] = boost::json::object{{"position", *s.rebuilding}};
  return o;
}

http::Response projections(OrderReadModels& models, const http::Request& req) {
  auto all = models.status();
  if (!all) return http::Response::error(all.error(), req.request_id);
  boost::json::array items;
  for (const auto& s : *all) items.push_back(to_json(s));
  return http::Response::json(200, boost::json::object{{"projections", std::move(items)}});
}

http::Response rebuild(Projector& projector, const http::Request& req) {
  auto started = projector.start_rebuild(std::string(req.param("name")));
  if (!started) return http::Response::error(started.error(), req.request_id);
  return http::Response::json(202, boost::json::object{{"name", req.param("name")}, {"rebuilding", true}});
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
  auto cancelled = service.cancel(req.param("id"), std::move(reason), req.trace.to_traceparent());
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

std::string format_cursor(const Cursor& cursor) {
  return std::to_string(cursor.created_at_ms) + "-" + std::to_string(cursor.position);
}

std::optional<Cursor> parse_cursor(std::string_view text) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view digits) -> std::optional<std::int64_t> {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || n < 0)
      return std::nullopt;
    return n;
  };
  auto ms = number(text.substr(0, dash));
  auto position = number(text.substr(dash + 1));
  if (!ms || !position) return std::nullopt;
  return Cursor{*ms, *position};
}

void register_routes(http::Router& router, OrderService& service, OrderReadModels& read_models,
                     Projector& projector, const service::Identity& identity,
                     service::BlockingPool* storage) {
  using auth::Role;
  using service::guard;
  // Customers place, read and cancel their own orders; an admin any; services read.
  router.add_async(http::Method::kPost, "/orders",
                   service::guard_async(identity, Role::kCustomer | Role::kAdmin,
                                        [&service](const http::Request& req, const auth::Principal& who) {
                                          return create(service, req, who);
                                        }));
  router.add_async(
      http::Method::kGet, "/orders",
      service::guard_async(identity, auth::kSignedIn,
                           [&read_models, storage](const http::Request& req, const auth::Principal& who) {
                             return list(read_models, storage, req, who);
                           }));
  // Before /orders/{id}/...: a literal path, not an order id.
  router.add_async(
      http::Method::kGet, "/orders/reports/sales",
      service::guard_async(identity, Role::kAdmin,
                           [&read_models, storage](const http::Request& req, const auth::Principal&) {
                             return sales(read_models, storage, req);
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
  // For operators (./mercato check, ./mercato projections).
  router.get("/admin/orders", guard(identity, auth::kStaff, [&service](const auto& req, const auto&) {
               return list_all(service, req);
             }));
  router.get("/admin/projections",
             guard(identity, auth::kStaff,
                   [&read_models](const auto& req, const auto&) { return projections(read_models, req); }));
  router.post("/admin/projections/{name}/rebuild",
              guard(identity, Role::kAdmin,
                    [&projector](const auto& req, const auto&) { return rebuild(projector, req); }));
  router.post("/orders/{id}/cancel",
              guard(identity, Role::kCustomer | Role::kAdmin,
                    [&service](const auto& req, const auto& who) { return cancel(service, req, who); }));
}

}  // namespace mercato::order
