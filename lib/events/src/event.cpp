#include "mercato/events/event.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <utility>

#include "mercato/core/ids.hpp"
#include "mercato/core/text.hpp"
#include "mercato/core/time.hpp"
#include "mercato/json/json.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::events {
namespace {

constexpr std::string_view kSchemaPrefix = "urn:mercato:event:";

std::string schema_for(std::string_view type, int version) {
  return std::string(kSchemaPrefix) + std::string(type) + ":v" + std::to_string(version);
}

}  // namespace

CloudEvent make_event(std::string_view service, std::string type, std::string subject, std::string data,
                      std::string traceparent, int version) {
  CloudEvent e;
  // Time-ordered: every consumer's inbox is keyed by it (core/ids.hpp, new_time_ordered_uuid).
  e.id = new_time_ordered_uuid();
  e.source = "/mercato/" + std::string(service);
  e.dataschema = schema_for(type, version);
  e.type = std::move(type);
  e.subject = std::move(subject);
  e.time = format_rfc3339(now_utc());
  // An event made by synchronous code running under a span (an event handler, a sync route) without
  // a context of its own continues that span's trace (tracing.hpp, "ambient").
  const auto* ambient = obs::ambient();
  e.traceparent =
      traceparent.empty() && ambient != nullptr ? ambient->context.to_traceparent() : std::move(traceparent);
  e.data = std::move(data);
  return e;
}

int schema_version(const CloudEvent& event) {
  auto pos = event.dataschema.rfind(":v");
  if (pos == std::string::npos) return 1;
  int version = 0;
  const char* first = event.dataschema.data() + pos + 2;
  const char* last = event.dataschema.data() + event.dataschema.size();
  auto [end, ec] = std::from_chars(first, last, version);
  if (ec != std::errc() || end != last || version < 1) return 1;
  return version;
}

namespace {

// validate() but for `data`, for an event whose data was read as part of its JSON envelope (from_json)
// and so is already known to be an object that parse_value accepts: parsing it again cost more than
// reading the whole event.
Result<void> validate_attributes(const CloudEvent& e) {
  if (e.id.empty()) return Error::validation("id", "an event needs an id");
  if (e.source.empty()) return Error::validation("source", "an event needs a source");
  if (e.type.empty() || e.type.find('.') == std::string::npos || e.type.front() == '.')
    return Error::validation("type",
                             "an event type looks like '<family>.<what happened>', got '" + e.type + "'");
  for (char c : e.type) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
    if (!ok)
      return Error::validation("type", "event type '" + e.type + "' may use only a-z, 0-9, '.' and '_'");
  }
  for (auto [name, value] : {std::pair{"id", &e.id},
                             {"source", &e.source},
                             {"subject", &e.subject},
                             {"time", &e.time},
                             {"dataschema", &e.dataschema},
                             {"traceparent", &e.traceparent},
                             {"tracestate", &e.tracestate}}) {
    // A CloudEvents String (spec §"Type System") is Unicode without control characters: is_plain_text. The
    // binary mode (Kafka headers) carries raw bytes; an attribute that is not such a string cannot be
    // written as JSON and read back, so an event the Kafka consumer accepted could not be stored or
    // forwarded (found by fuzz/cloudevent_fuzz.cpp).
    if (!is_plain_text(*value)) {
      return Error::validation(
          name, std::string("event attribute '") + name + "' must be UTF-8 text without control characters");
    }
  }
  if (e.datacontenttype != "application/json")
    return Error::validation("datacontenttype", "only application/json data is supported");
  return {};
}

}  // namespace

Result<void> validate(const CloudEvent& e) {
  MERCATO_RETURN_IF_ERROR(validate_attributes(e));
  // json::parse_value, not boost::json::parse: a number beyond the range of a double would be read as
  // infinity and written back as "Infinity", so the event could be published but never read back (found
  // by fuzz/cloudevent_fuzz.cpp).
  auto data = json::parse_value(e.data);
  if (!data && data.error().code == ErrorCode::kValidationFailed)
    return Error::validation("data", "event data: " + data.error().message);
  if (!data || !data->is_object()) return Error::validation("data", "event data must be a JSON object");
  return {};
}

std::string to_json(const CloudEvent& e) {
  boost::json::object o;
  o["specversion"] = "1.0";
  o["id"] = e.id;
  o["source"] = e.source;
  o["type"] = e.type;
  if (!e.subject.empty()) o["subject"] = e.subject;
  if (!e.time.empty()) o["time"] = e.time;
  o["datacontenttype"] = e.datacontenttype;
  if (!e.dataschema.empty()) o["dataschema"] = e.dataschema;
  if (!e.traceparent.empty()) o["traceparent"] = e.traceparent;
  if (!e.tracestate.empty()) o["tracestate"] = e.tracestate;
  boost::system::error_code ec;
  auto data = boost::json::parse(e.data, ec);
  o["data"] = ec ? boost::json::value(boost::json::object()) : std::move(data);
  return boost::json::serialize(o);
}

Result<CloudEvent> from_json(std::string_view text) {
  auto value = json::parse_value(text);
  if (!value) {
    Error error = std::move(value).error();
    if (error.code != ErrorCode::kValidationFailed) return Error::malformed("event is " + error.message);
    // The attribute the bad member is in ("data" for "data.items[0].price").
    std::string attribute = error.field.substr(0, error.field.find_first_of(".["));
    return Error::validation(std::move(attribute), "event " + error.message);
  }
  if (!value->is_object()) return Error::malformed("event must be a JSON object");
  const auto& o = value->as_object();
  auto text_of = [&](std::string_view key, bool required, std::string& out) -> Result<void> {
    const auto* v = o.if_contains(key);
    if (!v) {
      if (required)
        return Error::validation(std::string(key), "missing event attribute '" + std::string(key) + "'");
      return {};
    }
    if (!v->is_string())
      return Error::validation(std::string(key),
                               "event attribute '" + std::string(key) + "' must be a string");
    out = std::string(v->as_string());
    return {};
  };
  std::string specversion;
  MERCATO_RETURN_IF_ERROR(text_of("specversion", true, specversion));
  if (specversion != "1.0")
    return Error::validation("specversion", "unsupported CloudEvents specversion '" + specversion + "'");
  CloudEvent e;
  for (auto [key, out, required] : {std::tuple{"id", &e.id, true},
                                    {"source", &e.source, true},
                                    {"type", &e.type, true},
                                    {"subject", &e.subject, false},
                                    {"time", &e.time, false},
                                    {"datacontenttype", &e.datacontenttype, false},
                                    {"dataschema", &e.dataschema, false},
                                    {"traceparent", &e.traceparent, false},
                                    {"tracestate", &e.tracestate, false}}) {
    MERCATO_RETURN_IF_ERROR(text_of(key, required, *out));
  }
  const auto* data = o.if_contains("data");
  if (!data || !data->is_object()) return Error::validation("data", "event data must be a JSON object");
  e.data = boost::json::serialize(*data);
  MERCATO_RETURN_IF_ERROR(validate_attributes(e));
  return e;
}

Result<void> from_binary(const HeaderLookup& header, std::string_view data, CloudEvent& out) {
  auto get = [&](std::string_view name, std::string& into) {
    if (auto value = header(name)) into.assign(value->data(), value->size());
  };
  std::string specversion;
  get("ce_specversion", specversion);
  get("ce_id", out.id);
  get("ce_source", out.source);
  get("ce_type", out.type);
  get("ce_subject", out.subject);
  get("ce_time", out.time);
  get("ce_dataschema", out.dataschema);
  get("ce_traceparent", out.traceparent);
  get("ce_tracestate", out.tracestate);
  get("content-type", out.datacontenttype);
  out.data.assign(data.data(), data.size());
  if (specversion != "1.0") {
    return Error::validation("specversion",
                             "not a CloudEvents 1.0 message (ce_specversion '" + specversion + "')");
  }
  return validate(out);
}

}  // namespace mercato::events
