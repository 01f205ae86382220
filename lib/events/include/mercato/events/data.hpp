// Reading another service's event data tolerantly (docs/adr/0006-events.md): the data must be a JSON
// object of a version this consumer knows; unknown members are ignored; a missing or mistyped member
// is a validation error naming it (the bus retries, then dead-letters the event).
//
//   auto data = events::data_object(event);                 // kUnprocessable for a newer version
//   auto order_id = events::text_member(*data, "order_id");
//   auto amount = events::integer_member(*data, "amount_cents");
//   auto city = events::text_member(*address, "city", true, "shipping_address.city");
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/events/event.hpp"

namespace mercato::events {

// The event's data as an object, if its dataschema version is at most `known_version`.
Result<boost::json::object> data_object(const CloudEvent& event, int known_version = 1);
// A string member; "" when absent and not `required`. Errors name `field` (default: `key`).
Result<std::string> text_member(const boost::json::object& data, std::string_view key, bool required = true,
                                std::string_view field = {});
// An integer member (required). Errors name `field` (default: `key`).
Result<std::int64_t> integer_member(const boost::json::object& data, std::string_view key,
                                    std::string_view field = {});

// The order saga's mode an event's data names in its `saga` member ("orchestration", "choreography",
// "none"); "" when it names none or the data cannot be read. In choreography a participant acts on the
// events that name it and passes the name on in its own answer (docs/saga.md).
std::string saga_of(const CloudEvent& event);
inline constexpr std::string_view kChoreography = "choreography";
inline bool choreographed(const CloudEvent& event) { return saga_of(event) == kChoreography; }

}  // namespace mercato::events
