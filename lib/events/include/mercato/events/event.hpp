// The event every Mercato service publishes and consumes: a CloudEvents 1.0 envelope with JSON data.
//
//   auto e = events::make_event("order", "order.created", order.id, data_json, trace);
//   // e.id = "<uuid>", e.source = "/mercato/order", e.time = now, e.dataschema = "...order.created/v1"
//
// Attributes (CloudEvents 1.0): id, source, type, subject (the aggregate id — also the ordering and
// partition key), time, datacontenttype ("application/json"), dataschema (the data's version:
// "urn:mercato:event:<type>:v<N>"), and the distributed-tracing extension (traceparent, tracestate).
//
// Versioning: the type never changes meaning; a new optional field in `data` keeps the version, a
// removed or re-typed field is a new version. Consumers read `data` with a tolerant reader (unknown
// fields are ignored) and refuse versions newer than they know (docs/adr/0006-events.md).
//
// Thread-safety: plain values.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato::events {

struct CloudEvent {
  std::string id;
  std::string source;
  std::string type;
  std::string subject;
  std::string time;  // RFC 3339, UTC
  std::string datacontenttype = "application/json";
  std::string dataschema;
  std::string traceparent;  // W3C trace context, empty when the event was not caused by a traced call
  std::string tracestate;
  std::string data;  // JSON text (an object)

  friend bool operator==(const CloudEvent&, const CloudEvent&) = default;
};

// A new event with a fresh id, source "/mercato/<service>", the current time and version 1 of the
// type's schema unless `version` says otherwise.
CloudEvent make_event(std::string_view service, std::string type, std::string subject, std::string data,
                      std::string traceparent = {}, int version = 1);

// The version number in `dataschema` ("urn:mercato:event:order.created:v2" → 2); 1 when absent.
int schema_version(const CloudEvent& event);

// CloudEvents JSON format (structured mode): attributes as members and `data` as a JSON value.
std::string to_json(const CloudEvent& event);
// Parses and validates (specversion "1.0"; id, source, type non-empty; data a JSON object). Unknown
// attributes are ignored, so a newer producer may add extensions.
Result<CloudEvent> from_json(std::string_view text);

// CloudEvents binary content mode (the Kafka binding): attributes from message headers ("ce_id",
// "ce_source", ..., "content-type"), the data from the message's value. `header` gives the value of the
// last header with that name, or nullopt. Fills `out` as far as the headers go, so a consumer can keep
// a message it cannot read (dead letter), and says whether it is a valid CloudEvents 1.0 event.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;
Result<void> from_binary(const HeaderLookup& header, std::string_view data, CloudEvent& out);

// Checks the required attributes and that `data` is a JSON object; used by every transport before
// publishing so a malformed event is refused at the producer, never delivered.
Result<void> validate(const CloudEvent& event);

}  // namespace mercato::events
