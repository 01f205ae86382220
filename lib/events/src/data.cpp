#include "mercato/events/data.hpp"

#include <boost/json/parse.hpp>
#include <limits>

namespace mercato::events {

Result<boost::json::object> data_object(const CloudEvent& event, int known_version) {
  if (auto version = schema_version(event); version > known_version) {
    return Error::unprocessable(event.type + " v" + std::to_string(version) +
                                " is newer than this service understands");
  }
  boost::system::error_code ec;
  auto parsed = boost::json::parse(event.data, ec);
  if (ec || !parsed.is_object()) return Error::malformed(event.type + " data is not a JSON object");
  return std::move(parsed.as_object());
}

Result<std::string> text_member(const boost::json::object& data, std::string_view key, bool required,
                                std::string_view field) {
  std::string name(field.empty() ? key : field);
  const auto* v = data.if_contains(key);
  if (v == nullptr) {
    if (required) return Error::validation(name, "event data lacks '" + name + "'");
    return std::string();
  }
  if (!v->is_string()) return Error::validation(name, "'" + name + "' must be a string");
  return std::string(v->as_string());
}

Result<std::int64_t> integer_member(const boost::json::object& data, std::string_view key,
                                    std::string_view field) {
  std::string name(field.empty() ? key : field);
  const auto* v = data.if_contains(key);
  if (v == nullptr) return Error::validation(name, "event data lacks '" + name + "'");
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() &&
      v->as_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(v->as_uint64());
  return Error::validation(name, "'" + name + "' must be an integer");
}

std::string saga_of(const CloudEvent& event) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(event.data, ec);
  if (ec || !parsed.is_object()) return {};
  const auto* v = parsed.as_object().if_contains("saga");
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace mercato::events
