#include "mercato/http/query.hpp"

#include <charconv>

#include "mercato/core/text.hpp"

namespace mercato::http {

QueryReader::QueryReader(const Request& request) {
  std::string_view rest = request.query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    auto eq = pair.find('=');
    params_.emplace_back(percent_decode(pair.substr(0, eq)),
                         eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1)));
  }
}

void QueryReader::fail(std::string_view name, std::string_view what) {
  if (error_) return;  // the first problem is the one reported
  std::string field(name);
  error_ = Error::validation(field, field + ": " + std::string(what));
}

const std::string* QueryReader::lookup(std::string_view name) {
  const std::string* found = nullptr;
  for (const auto& [key, value] : params_) {
    if (key != name) continue;
    if (found != nullptr) {
      fail(name, "query parameter must be sent at most once");
      return nullptr;
    }
    found = &value;
  }
  if (found != nullptr && !is_plain_text(*found)) {
    fail(name, "must be UTF-8 text without NUL or other control characters");
    return nullptr;
  }
  return found;
}

std::optional<std::string> QueryReader::string(std::string_view name, Presence presence) {
  const auto* value = lookup(name);
  if (value == nullptr || (value->empty() && presence == kRequired)) {
    if (presence == kRequired) fail(name, "query parameter is required");
    return std::nullopt;
  }
  return *value;
}

std::int64_t QueryReader::integer(std::string_view name, const IntegerRule& rule) {
  const auto* text = lookup(name);
  if (text == nullptr) return rule.fallback;
  const char* first = text->data();
  const char* last = first + text->size();
  std::int64_t value = 0;
  // from_chars takes exactly an optional '-' and digits: no '+', no spaces, no "0x".
  auto [end, ec] = std::from_chars(first, last, value);
  bool whole = !text->empty() && end == last;
  if (whole && ec == std::errc::result_out_of_range && rule.above == AboveMax::kCap && text->front() != '-') {
    return rule.max;  // digits beyond int64: above any maximum
  }
  if (whole && ec == std::errc() && value >= rule.min) {
    if (value <= rule.max) return value;
    if (rule.above == AboveMax::kCap) return rule.max;
  }
  fail(name, rule.above == AboveMax::kCap ? "must be an integer of at least " + std::to_string(rule.min)
                                          : "must be an integer between " + std::to_string(rule.min) +
                                                " and " + std::to_string(rule.max));
  return rule.fallback;
}

Result<void> QueryReader::finish() const {
  if (error_) return *error_;
  return {};
}

}  // namespace mercato::http
