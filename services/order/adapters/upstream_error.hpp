// How the order service words a failed call to another service, whatever the transport: the service is
// named for the client, the transport's own text (which may hold an address) kept for the log.
#pragma once

#include <string_view>

#include "mercato/core/error.hpp"

namespace mercato::order {

// A failed call (no answer, no answer in time, an unusable one, a refusal of our resilience policy).
Error upstream_error(std::string_view service, const Error& e);
// An answer the order service does not expect (an HTTP status, a gRPC code).
Error unexpected_answer(std::string_view service, std::string_view what);

}  // namespace mercato::order
