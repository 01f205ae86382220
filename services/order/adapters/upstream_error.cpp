#include "adapters/upstream_error.hpp"

#include <string>

namespace mercato::order {

Error upstream_error(std::string_view service, const Error& e) {
  Error out = e;
  out.field.clear();
  // A refusal that is already fit for clients (an open circuit) is kept.
  if (!e.detail.empty()) {
    out.message = std::string(service) + ": " + e.message;
    return out;
  }
  switch (e.code) {
    case ErrorCode::kDeadlineExceeded:
      return out.with_public_message("the " + std::string(service) + " did not answer in time");
    case ErrorCode::kBadGateway:
      return out.with_public_message("the " + std::string(service) + " gave an invalid answer");
    default:
      return out.with_public_message("the " + std::string(service) + " is unavailable");
  }
}

Error unexpected_answer(std::string_view service, std::string_view what) {
  auto e = Error::bad_gateway(std::string(service) + " answered with " + std::string(what));
  e.detail = "an answer the order service does not expect";
  return e;
}

}  // namespace mercato::order
