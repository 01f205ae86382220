#include "mercato/core/error.hpp"

namespace mercato {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kValidationFailed:
      return "validation_failed";
    case ErrorCode::kMalformedRequest:
      return "malformed_request";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kMethodNotAllowed:
      return "method_not_allowed";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kPayloadTooLarge:
      return "payload_too_large";
    case ErrorCode::kUnprocessable:
      return "unprocessable";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kHeadersTooLarge:
      return "headers_too_large";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kBadGateway:
      return "bad_gateway";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kDeadlineExceeded:
      return "deadline_exceeded";
  }
  return "internal";
}

int http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kValidationFailed:
    case ErrorCode::kMalformedRequest:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnprocessable:
      return 422;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kHeadersTooLarge:
      return 431;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kBadGateway:
      return 502;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kDeadlineExceeded:
      return 504;
  }
  return 500;
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
