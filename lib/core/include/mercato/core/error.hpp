// Canonical error codes and the error value every layer passes around.
//
// Expected failures (bad input, not found, conflict, an upstream that timed out) are values of type
// `mercato::Error`, carried in `mercato::Result<T>`. Each code maps to exactly one HTTP status, in one
// place (`http_status`), so a handler never picks a status by hand.
//
//   return Error::validation("email", "must contain '@'");
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>

namespace mercato {

enum class ErrorCode {
  kValidationFailed,  // 400: a field is missing, of the wrong type, or out of range
  kMalformedRequest,  // 400: the request is not parseable (bad JSON, bad HTTP framing)
  kUnauthenticated,   // 401
  kPermissionDenied,  // 403
  kNotFound,          // 404: no such resource or route
  kMethodNotAllowed,  // 405
  kConflict,          // 409: duplicates, concurrent modification
  kPayloadTooLarge,   // 413
  kUnprocessable,     // 422: well-formed but breaks a business rule
  kRateLimited,       // 429
  kHeadersTooLarge,   // 431
  kInternal,          // 500
  kBadGateway,        // 502: an upstream answered with something unusable
  kUnavailable,       // 503: an upstream or dependency cannot be reached
  kDeadlineExceeded,  // 504: an upstream did not answer in time
};

// The wire name, e.g. "validation_failed".
std::string_view to_string(ErrorCode code) noexcept;
// The one HTTP status each code maps to.
int http_status(ErrorCode code) noexcept;
// The gRPC status code (its number) each code maps to, and the canonical code a gRPC status stands for.
int grpc_status_code(ErrorCode code) noexcept;
ErrorCode from_grpc_status_code(int grpc) noexcept;

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // The request field the error is about ("email", "items[0].quantity"), empty when none.
  std::string field;
  // Text for the log only: what must never reach a client (addresses, driver text). A 5xx error whose
  // producer set it has a `message` fit for clients (it names what failed, not where): the client gets
  // `message`, the log gets both. A 5xx without it is presumed to carry private text in `message`: the
  // client gets a generic text for the code, the log the message (http::Response::error).
  std::string detail;

  // This error with `message` for clients and everything it said so far kept in `detail`.
  Error with_public_message(std::string public_message) const;

  static Error validation(std::string field, std::string message);
  static Error malformed(std::string message);
  static Error unauthenticated(std::string message);
  static Error permission_denied(std::string message);
  static Error not_found(std::string message);
  // "<kind> <id> not found": the one answer for a thing that is not there. Repositories give it, and an
  // API gives it too for one the caller may not see, so that the two cannot be told apart.
  static Error not_found(std::string_view kind, std::string_view id);
  static Error conflict(std::string message, std::string field = {});
  static Error unprocessable(std::string message, std::string field = {});
  static Error unavailable(std::string message);
  static Error rate_limited(std::string message);
  static Error deadline_exceeded(std::string message);
  static Error bad_gateway(std::string message);
  static Error internal(std::string message);

  friend bool operator==(const Error&, const Error&) = default;
};

// What a client may be told of `error`: its message, unless it is a 5xx whose message may hold private
// text (no `detail` set: see above); then a generic text for its code.
std::string_view client_message(const Error& error) noexcept;

}  // namespace mercato
