#include "mercato/core/error.hpp"

#include <array>

namespace mercato {

namespace {

// Each canonical code's name (in error bodies and logs) and HTTP status, in one row.
struct CodeFacts {
  ErrorCode code;
  std::string_view name;
  int status;
};

constexpr std::array<CodeFacts, 15> kCodes{{
    {ErrorCode::kValidationFailed, "validation_failed", 400},
    {ErrorCode::kMalformedRequest, "malformed_request", 400},
    {ErrorCode::kUnauthenticated, "unauthenticated", 401},
    {ErrorCode::kPermissionDenied, "permission_denied", 403},
    {ErrorCode::kNotFound, "not_found", 404},
    {ErrorCode::kMethodNotAllowed, "method_not_allowed", 405},
    {ErrorCode::kConflict, "conflict", 409},
    {ErrorCode::kPayloadTooLarge, "payload_too_large", 413},
    {ErrorCode::kUnprocessable, "unprocessable", 422},
    {ErrorCode::kRateLimited, "rate_limited", 429},
    {ErrorCode::kHeadersTooLarge, "headers_too_large", 431},
    {ErrorCode::kInternal, "internal", 500},
    {ErrorCode::kBadGateway, "bad_gateway", 502},
    {ErrorCode::kUnavailable, "unavailable", 503},
    {ErrorCode::kDeadlineExceeded, "deadline_exceeded", 504},
}};

// The row of `code`; kInternal's for a value no row lists (only a cast can make one).
constexpr const CodeFacts& facts_of(ErrorCode code) noexcept {
  for (const auto& row : kCodes) {
    if (row.code == code) return row;
  }
  return kCodes[11];
}
static_assert(facts_of(static_cast<ErrorCode>(-1)).code == ErrorCode::kInternal);

// One row per code, in the enum's order, so a code inserted into ErrorCode without its row fails to
// build. A code appended after the last row is not caught here (a switch's -Wswitch would have): it
// would read as internal, 500, until its row is added.
constexpr bool one_row_per_code_in_order() {
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i].code != static_cast<ErrorCode>(i)) return false;
  }
  return true;
}
static_assert(one_row_per_code_in_order());

}  // namespace

std::string_view to_string(ErrorCode code) noexcept { return facts_of(code).name; }

int http_status(ErrorCode code) noexcept { return facts_of(code).status; }

Error Error::validation(std::string field, std::string message) {
  return {ErrorCode::kValidationFailed, std::move(message), std::move(field)};
}
Error Error::malformed(std::string message) { return {ErrorCode::kMalformedRequest, std::move(message), {}}; }
Error Error::unauthenticated(std::string message) {
  return {ErrorCode::kUnauthenticated, std::move(message), {}};
}
Error Error::permission_denied(std::string message) {
  return {ErrorCode::kPermissionDenied, std::move(message), {}};
}
Error Error::not_found(std::string message) { return {ErrorCode::kNotFound, std::move(message), {}}; }
Error Error::not_found(std::string_view kind, std::string_view id) {
  return not_found(std::string(kind) + " " + std::string(id) + " not found");
}
Error Error::conflict(std::string message, std::string field) {
  return {ErrorCode::kConflict, std::move(message), std::move(field)};
}
Error Error::unprocessable(std::string message, std::string field) {
  return {ErrorCode::kUnprocessable, std::move(message), std::move(field)};
}
Error Error::unavailable(std::string message) { return {ErrorCode::kUnavailable, std::move(message), {}}; }

Error Error::rate_limited(std::string message) { return {ErrorCode::kRateLimited, std::move(message), {}}; }
Error Error::deadline_exceeded(std::string message) {
  return {ErrorCode::kDeadlineExceeded, std::move(message), {}};
}
Error Error::bad_gateway(std::string message) { return {ErrorCode::kBadGateway, std::move(message), {}}; }
Error Error::internal(std::string message) { return {ErrorCode::kInternal, std::move(message), {}}; }

Error Error::with_public_message(std::string public_message) const {
  Error out = *this;
  out.detail = detail.empty() ? message : message + " (" + detail + ")";
  out.message = std::move(public_message);
  return out;
}

}  // namespace mercato
