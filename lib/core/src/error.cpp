#include "mercato/core/error.hpp"

#include <array>

namespace mercato {

namespace {

// Each canonical code's name (in error bodies and logs), HTTP status and gRPC status code, in one row.
struct CodeFacts {
  ErrorCode code;
  std::string_view name;
  int status;
  int grpc;  // the gRPC status code's number (grpc/status.h): the same on every gRPC implementation
};

constexpr std::array<CodeFacts, 15> kCodes{{
    {ErrorCode::kValidationFailed, "validation_failed", 400, 3},
    {ErrorCode::kMalformedRequest, "malformed_request", 400, 3},
    {ErrorCode::kUnauthenticated, "unauthenticated", 401, 16},
    {ErrorCode::kPermissionDenied, "permission_denied", 403, 7},
    {ErrorCode::kNotFound, "not_found", 404, 5},
    {ErrorCode::kMethodNotAllowed, "method_not_allowed", 405, 12},
    {ErrorCode::kConflict, "conflict", 409, 10},
    {ErrorCode::kPayloadTooLarge, "payload_too_large", 413, 8},
    {ErrorCode::kUnprocessable, "unprocessable", 422, 9},
    {ErrorCode::kRateLimited, "rate_limited", 429, 8},
    {ErrorCode::kHeadersTooLarge, "headers_too_large", 431, 8},
    {ErrorCode::kInternal, "internal", 500, 13},
    {ErrorCode::kBadGateway, "bad_gateway", 502, 2},
    {ErrorCode::kUnavailable, "unavailable", 503, 14},
    {ErrorCode::kDeadlineExceeded, "deadline_exceeded", 504, 4},
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

int grpc_status_code(ErrorCode code) noexcept { return facts_of(code).grpc; }

// Several codes share a gRPC code (INVALID_ARGUMENT, RESOURCE_EXHAUSTED); the way back takes the one a
// caller should see, and places the codes no row uses.
ErrorCode from_grpc_status_code(int grpc) noexcept {
  switch (grpc) {
    case 1:  // CANCELLED: the call was given up before an answer
      return ErrorCode::kUnavailable;
    case 2:  // UNKNOWN
      return ErrorCode::kBadGateway;
    case 3:   // INVALID_ARGUMENT
    case 11:  // OUT_OF_RANGE
      return ErrorCode::kValidationFailed;
    case 4:
      return ErrorCode::kDeadlineExceeded;
    case 5:
      return ErrorCode::kNotFound;
    case 6:   // ALREADY_EXISTS
    case 10:  // ABORTED
      return ErrorCode::kConflict;
    case 7:
      return ErrorCode::kPermissionDenied;
    case 8:  // RESOURCE_EXHAUSTED
      return ErrorCode::kRateLimited;
    case 9:  // FAILED_PRECONDITION
      return ErrorCode::kUnprocessable;
    case 12:  // UNIMPLEMENTED
      return ErrorCode::kMethodNotAllowed;
    case 14:
      return ErrorCode::kUnavailable;
    case 16:
      return ErrorCode::kUnauthenticated;
    default:  // INTERNAL, DATA_LOSS, and numbers no gRPC defines
      return ErrorCode::kInternal;
  }
}

std::string_view client_message(const Error& error) noexcept {
  if (http_status(error.code) < 500 || !error.detail.empty()) return error.message;
  switch (error.code) {
    case ErrorCode::kBadGateway:
      return "a service this request needs gave an invalid answer; the log has the detail under this "
             "request id";
    case ErrorCode::kUnavailable:
      return "a service this request needs is unavailable; retry later";
    case ErrorCode::kDeadlineExceeded:
      return "the request could not be completed in time";
    default:
      return "internal error; the log has the detail under this request id";
  }
}

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
