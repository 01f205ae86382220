// JSON request bodies: parsing with clear errors and field-by-field validation.
//
// Every handler that accepts JSON follows the same steps, so every malformed request gets the same kind
// of answer (400 naming the field) instead of an exception or a silent default:
//
//   auto body = json::parse_object(request.body);        // not JSON / not an object → malformed_request
//   if (!body) return body.error();
//   json::FieldReader in(*body);
//   auto email = in.string("email", json::kRequired, {.min = 3, .max = 254});
//   auto name = in.string("name", json::kRequired, {.min = 1, .max = 200});
//   if (auto done = in.finish(); !done) return done.error();   // first problem, or an unknown field
//   use(*email, *name);
//
// Thread-safety: FieldReader is a single-use local value.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mercato/core/result.hpp"

namespace mercato::json {

// Parses `text` as one JSON object. Trailing garbage, invalid UTF-8, depth > 32, non-objects and an
// object with the same key twice (at any depth) are rejected with ErrorCode::kMalformedRequest; a number
// beyond the range of a double (2e951) with kValidationFailed naming where it is ("items[0].price").
Result<boost::json::object> parse_object(std::string_view text);

// A body a route reads nothing from: none (or only white space), or an empty object. Anything else is
// refused as parse_object and FieldReader::finish refuse it (a member is an unknown field), so a client
// sending a field such as "reason" learns that it is not honoured rather than having it ignored.
Result<void> parse_no_fields(std::string_view text);

// Parses `text` as one JSON value of any type, for JSON that is not a request body (event data): the
// same rules as parse_object except that duplicate keys are kept as Boost.JSON keeps them (the last
// wins). A number beyond the range of a double is refused rather than read as infinity, which JSON
// cannot express: serialized again it would be "Infinity", and no reader could read it back.
Result<boost::json::value> parse_value(std::string_view text);

// Compact serialization.
std::string serialize(const boost::json::value& value);

enum Presence { kRequired, kOptional };

struct StringRule {
  std::size_t min = 0;  // in bytes, after validation as UTF-8 (Boost.JSON guarantees valid UTF-8)
  std::size_t max = 1024;
};

class FieldReader {
 public:
  // `path` prefixes field names in errors, e.g. "items[0]" gives "items[0].quantity".
  explicit FieldReader(const boost::json::object& object, std::string path = {});

  std::optional<std::string> string(std::string_view key, Presence presence, StringRule rule = {});
  std::optional<std::int64_t> integer(std::string_view key, Presence presence, std::int64_t min,
                                      std::int64_t max);
  std::optional<bool> boolean(std::string_view key, Presence presence);
  const boost::json::array* array(std::string_view key, Presence presence);
  const boost::json::object* object(std::string_view key, Presence presence);

  // Records `key` as allowed without reading it (for fields read some other way).
  void allow(std::string_view key);
  // The first problem seen, otherwise a validation error naming the first field nobody asked for.
  Result<void> finish();
  bool failed() const noexcept { return error_.has_value(); }

 private:
  const boost::json::value* lookup(std::string_view key, Presence presence);
  // The same, and a failure "`key`: <expected>" when the value is there but not of `kind`.
  const boost::json::value* lookup(std::string_view key, Presence presence, boost::json::kind kind,
                                   std::string_view expected);
  void fail(std::string_view key, std::string message);
  std::string field_name(std::string_view key) const;

  const boost::json::object& object_;
  std::string path_;
  std::vector<std::string> known_;
  std::optional<Error> error_;
};

// The steps at the top of this file in one: parses `text` as an object, hands a FieldReader over it to
// `read`, and returns what `read` made of the fields, or the first problem (the parse's, a field's, an
// unknown field's). `read` may return anything when a field failed: that value is dropped.
//   auto login = json::read_object(request.body, [](json::FieldReader& in) {
//     return Login{in.string("email", json::kRequired, rule).value_or(""),
//                  in.string("password", json::kRequired, rule).value_or("")};
//   });
template <typename Read>
auto read_object(std::string_view text, Read&& read) -> Result<std::invoke_result_t<Read&, FieldReader&>> {
  MERCATO_ASSIGN_OR_RETURN(auto body, parse_object(text));
  FieldReader in(body);
  auto value = read(in);
  MERCATO_RETURN_IF_ERROR(in.finish());
  return value;
}

}  // namespace mercato::json
