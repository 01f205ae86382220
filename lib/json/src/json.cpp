#include "mercato/json/json.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace mercato::json {

Result<boost::json::object> parse_object(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = 32;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec, {}, options);
  if (ec) {
    if (text.empty()) return Error::malformed("request body is empty; expected a JSON object");
    return Error::malformed("request body is not valid JSON: " + ec.message());
  }
  if (!value.is_object()) return Error::malformed("request body must be a JSON object");
  return std::move(value.as_object());
}

std::string serialize(const boost::json::value& value) { return boost::json::serialize(value); }

FieldReader::FieldReader(const boost::json::object& object, std::string path)
    : object_(object), path_(std::move(path)) {}

std::string FieldReader::field_name(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return path_ + "." + std::string(key);
}

void FieldReader::fail(std::string_view key, std::string message) {
  if (!error_) error_ = Error::validation(field_name(key), field_name(key) + ": " + std::move(message));
}

void FieldReader::allow(std::string_view key) { known_.emplace_back(key); }

const boost::json::value* FieldReader::lookup(std::string_view key, Presence presence) {
  known_.emplace_back(key);
  if (error_) return nullptr;
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (presence == kRequired) fail(key, v == nullptr ? "is required" : "must not be null");
    return nullptr;
  }
  return v;
}

std::optional<std::string> FieldReader::string(std::string_view key, Presence presence, StringRule rule) {
  const auto* v = lookup(key, presence);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    fail(key, "must be a string");
    return std::nullopt;
  }
  const auto& s = v->get_string();
  if (s.size() < rule.min) {
    fail(key,
         rule.min == 1 ? "must not be empty" : "must be at least " + std::to_string(rule.min) + " bytes");
    return std::nullopt;
  }
  if (s.size() > rule.max) {
    fail(key, "must be at most " + std::to_string(rule.max) + " bytes");
    return std::nullopt;
  }
  return std::string(s);
}

std::optional<std::int64_t> FieldReader::integer(std::string_view key, Presence presence, std::int64_t min,
                                                 std::int64_t max) {
  const auto* v = lookup(key, presence);
  if (v == nullptr) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    fail(key, "must be at most " + std::to_string(max));
    return std::nullopt;
  } else {
    // 2.0 is not accepted either: money and quantities are integers on the wire, never floats.
    fail(key, "must be an integer");
    return std::nullopt;
  }
  if (n < min || n > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> FieldReader::boolean(std::string_view key, Presence presence) {
  const auto* v = lookup(key, presence);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    fail(key, "must be true or false");
    return std::nullopt;
  }
  return v->get_bool();
}

const boost::json::array* FieldReader::array(std::string_view key, Presence presence) {
  const auto* v = lookup(key, presence);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    fail(key, "must be an array");
    return nullptr;
  }
  return &v->get_array();
}

const boost::json::object* FieldReader::object(std::string_view key, Presence presence) {
  const auto* v = lookup(key, presence);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    fail(key, "must be an object");
    return nullptr;
  }
  return &v->get_object();
}

Result<void> FieldReader::finish() {
  if (error_) return *error_;
  for (const auto& kv : object_) {
    if (std::find(known_.begin(), known_.end(), kv.key()) == known_.end()) {
      std::string name = field_name(kv.key());
      return Error::validation(name, name + ": unknown field");
    }
  }
  return {};
}

}  // namespace mercato::json
