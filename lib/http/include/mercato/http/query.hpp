// Query parameters read by type, each problem a 400 (validation_failed) naming the parameter — the
// query-string counterpart of json::FieldReader, so every list endpoint refuses bad input the same way.
//
//   http::QueryReader query(req);
//   auto customer = query.string("customer_id", http::kRequired);
//   auto page = query.integer("page", {.fallback = 1, .min = 1, .max = 1'000'000});
//   if (auto done = query.finish(); !done) return http::Response::error(done.error(), req.request_id);
//   use(*customer, page);
//
// Every value read is percent-decoded ('+' is a space) and must be plain text (core/text.hpp): a query
// value reaches storage and logs just as a path parameter does. A parameter read here that appears twice
// is refused: two readers that pick different copies (first, last) can be played against each other,
// the reason duplicate JSON keys are refused too. Parameters nobody reads are ignored (a client's cache
// buster, say), unlike unknown JSON fields: a query names what to read, a body what to change.
//
// Thread-safety: QueryReader is a single-use local value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/http/message.hpp"

namespace mercato::http {

enum Presence { kRequired, kOptional };

// What an integer above `max` means: a 400, or `max` (a page size the server bounds but a client may
// ask more of; the answer then says the size it used).
enum class AboveMax { kRefuse, kCap };

struct IntegerRule {
  std::int64_t fallback = 0;  // when the parameter is absent
  std::int64_t min = 0;
  std::int64_t max = 0;
  AboveMax above = AboveMax::kRefuse;
};

class QueryReader {
 public:
  // Splits and decodes `request.query` once; the reader does not keep a reference to the request.
  explicit QueryReader(const Request& request);

  // The value of `name`. kRequired: absent or empty is an error ("<name>: query parameter is required";
  // an empty value names nothing) and nullopt comes back only with the error recorded. kOptional: nullopt
  // when absent; an empty value is returned as "" for the caller's own rule to judge.
  std::optional<std::string> string(std::string_view name, Presence presence);
  // A decimal integer (digits with an optional leading '-'; no '+', spaces or fraction) within
  // [rule.min, rule.max] — or above it, read as rule.max, with AboveMax::kCap. rule.fallback when the
  // parameter is absent, and also when it is wrong (then finish() has the error: check it first).
  std::int64_t integer(std::string_view name, const IntegerRule& rule);

  // The first problem seen, if any.
  Result<void> finish() const;
  bool failed() const noexcept { return error_.has_value(); }

 private:
  // The decoded value of `name`: nullptr when absent; on a repeat or a value that is not plain text the
  // error is recorded and nullptr returned.
  const std::string* lookup(std::string_view name);
  void fail(std::string_view name, std::string_view what);

  std::vector<std::pair<std::string, std::string>> params_;  // decoded, in the order sent
  std::optional<Error> error_;
};

}  // namespace mercato::http
