// Text checks for bytes that arrive from outside and travel on (path parameters, event attributes).
//
//   if (!mercato::is_plain_text(value)) return Error::validation("id", "not UTF-8 text");
//   MERCATO_ASSIGN_OR_RETURN(auto order_id, mercato::check_reference("order_id", request.order_id, 128));
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"

namespace mercato {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF) without control characters (C0 U+0000–U+001F, DEL, C1 U+0080–U+009F): text that can be
// stored (a NUL cuts a PostgreSQL string), logged (CR/LF split lines), written into JSON and read back.
// Hand-written: a dozen lines, and neither Boost nor the standard library offers a UTF-8 validator.
bool is_plain_text(std::string_view s) noexcept;

// A reference a request carries to something kept elsewhere (an order id, a customer id): 1 to
// `max_bytes` bytes without C0 control characters or DEL. Returns it as a string, or a validation error
// naming `field` ("order_id: must not be empty").
Result<std::string> check_reference(std::string_view field, std::string_view value, std::size_t max_bytes);

}  // namespace mercato
