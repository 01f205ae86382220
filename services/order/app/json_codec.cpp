#include "app/json_codec.hpp"

#include <boost/json/parse.hpp>

#include "mercato/observability/trace_context.hpp"

namespace mercato::order {

boost::json::object to_json(const Address& a) {
  boost::json::object o{{"name", a.name},
                        {"line1", a.line1},
                        {"city", a.city},
                        {"postal_code", a.postal_code},
                        {"country", a.country}};
  if (!a.line2.empty()) o["line2"] = a.line2;
  return o;
}

boost::json::array to_json(const std::vector<Line>& lines) {
  boost::json::array out;
  for (const auto& l : lines) {
    out.push_back(boost::json::object{{"product_id", l.product_id},
                                      {"quantity", l.quantity},
                                      {"price_cents", l.unit_price_cents},
                                      {"line_total_cents", l.quantity * l.unit_price_cents}});
  }
  return out;
}

boost::json::object to_json(const Order& o) {
  boost::json::object out{{"id", o.id},
                          {"customer_id", o.customer_id},
                          {"status", to_string(o.status)},
                          {"total_cents", o.total_cents},
                          {"items", to_json(o.lines)},
                          {"shipping_address", to_json(o.shipping_address)},
                          {"created_at", format_rfc3339(o.created_at)},
                          {"updated_at", format_rfc3339(o.updated_at)}};
  if (o.status == Status::kCancelled) {
    out["reason"] = o.reason;
    out["cancelled_by"] = to_string(o.cancelled_by);
  }
  out["version"] = o.version;
  return out;
}

boost::json::object to_json(const HistoryEntry& e) {
  boost::system::error_code ec;
  auto data = boost::json::parse(e.event.data, ec);
  // The payment token is the customer's card reference: the API never shows it, here neither.
  if (!ec && data.is_object()) data.as_object().erase("payment_token");
  boost::json::object o{{"version", e.version},
                        {"position", e.position},
                        {"recorded_at", format_rfc3339(e.recorded_at)},
                        {"id", e.event.id},
                        {"type", e.event.type},
                        {"schema_version", events::schema_version(e.event)},
                        {"time", e.event.time},
                        {"data", ec ? boost::json::value() : std::move(data)}};
  // The trace the event was appended in (the request or saga answer that caused it): what an operator
  // looks up in the trace store (the dashboard links it).
  if (auto trace = obs::TraceContext::parse(e.event.traceparent)) o["trace_id"] = trace->trace_id;
  return o;
}

namespace {

std::string str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Result<Address> address_from_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return Error::internal("stored address is not a JSON object");
  const auto& o = v.get_object();
  return Address{str(o, "name"), str(o, "line1"),       str(o, "line2"),
                 str(o, "city"), str(o, "postal_code"), str(o, "country")};
}

Result<std::vector<Line>> lines_from_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return Error::internal("stored order lines are not a JSON array");
  std::vector<Line> lines;
  for (const auto& item : v.get_array()) {
    if (!item.is_object()) return Error::internal("stored order line is not an object");
    const auto& o = item.get_object();
    const auto* q = o.if_contains("quantity");
    const auto* p = o.if_contains("price_cents");
    if (q == nullptr || p == nullptr || !q->is_int64() || !p->is_int64()) {
      return Error::internal("stored order line lacks quantity or price");
    }
    lines.push_back(Line{str(o, "product_id"), q->get_int64(), p->get_int64()});
  }
  return lines;
}

namespace {

boost::json::array steps_json(const std::vector<Step>& steps) {
  boost::json::array a;
  for (auto step : steps) a.emplace_back(to_string(step));
  return a;
}

Result<std::vector<Step>> steps_from(const boost::json::value* v) {
  std::vector<Step> out;
  if (v == nullptr || !v->is_array()) return Error::internal("stored saga lacks a step list");
  for (const auto& item : v->get_array()) {
    auto step = item.is_string() ? parse_step(item.get_string()) : std::nullopt;
    if (!step) return Error::internal("stored saga has an unknown step");
    out.push_back(*step);
  }
  return out;
}

}  // namespace

boost::json::object to_json(const Saga& saga) {
  boost::json::array timeline;
  for (const auto& r : saga.timeline) {
    boost::json::object entry{{"step", to_string(r.step)},
                              {"kind", is_compensation(r.step) ? "compensation" : "step"},
                              {"status", to_string(r.status)},
                              {"at", format_rfc3339(r.at)}};
    if (!r.detail.empty()) entry["detail"] = r.detail;
    timeline.push_back(std::move(entry));
  }
  boost::json::object o{{"order_id", saga.order_id},
                        {"mode", to_string(saga.mode)},
                        {"state", to_string(saga.state)},
                        {"current_step", to_string(saga.current)},
                        {"done", steps_json(saga.done)},
                        {"compensations_left", steps_json(saga.compensations)},
                        {"step_deadline", format_rfc3339(saga.step_deadline)},
                        {"order_deadline", format_rfc3339(saga.order_deadline)},
                        {"timeline", std::move(timeline)}};
  if (!saga.failure.empty()) o["failure"] = saga.failure;
  return o;
}

Result<Saga> saga_from_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return Error::internal("stored saga is not a JSON object");
  const auto& o = v.get_object();
  Saga saga;
  saga.order_id = str(o, "order_id");
  auto state = parse_saga_state(str(o, "state"));
  auto current = parse_step(str(o, "current_step"));
  auto step_deadline = parse_rfc3339(str(o, "step_deadline"));
  auto order_deadline = parse_rfc3339(str(o, "order_deadline"));
  if (!state || !current || !step_deadline || !order_deadline)
    return Error::internal("stored saga is incomplete");
  // Sagas stored before choreography existed carry no mode: they were orchestrated.
  auto mode = o.contains("mode") ? parse_coordination(str(o, "mode")) : Coordination::kOrchestration;
  if (!mode) return Error::internal("stored saga has an unknown mode");
  saga.mode = *mode;
  saga.state = *state;
  saga.current = *current;
  saga.step_deadline = *step_deadline;
  saga.order_deadline = *order_deadline;
  saga.failure = str(o, "failure");
  MERCATO_ASSIGN_OR_RETURN(auto done, steps_from(o.if_contains("done")));
  saga.done = std::move(done);
  MERCATO_ASSIGN_OR_RETURN(auto left, steps_from(o.if_contains("compensations_left")));
  saga.compensations = std::move(left);
  const auto* timeline = o.if_contains("timeline");
  if (timeline == nullptr || !timeline->is_array()) return Error::internal("stored saga lacks its timeline");
  for (const auto& item : timeline->get_array()) {
    if (!item.is_object()) return Error::internal("stored saga timeline entry is not an object");
    const auto& e = item.get_object();
    auto step = parse_step(str(e, "step"));
    auto status = parse_step_status(str(e, "status"));
    auto when = parse_rfc3339(str(e, "at"));
    if (!step || !status || !when) return Error::internal("stored saga timeline entry is incomplete");
    saga.timeline.push_back({*step, *status, *when, str(e, "detail")});
  }
  return saga;
}

}  // namespace mercato::order
