// Text checks for bytes that arrive from outside and travel on (path parameters, event attributes).
//
//   if (!mercato::is_plain_text(value)) return Error::validation("id", "not UTF-8 text");
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace mercato {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF) without control characters (C0 U+0000–U+001F, DEL, C1 U+0080–U+009F): text that can be
// stored (a NUL cuts a PostgreSQL string), logged (CR/LF split lines), written into JSON and read back.
// Hand-written: a dozen lines, and neither Boost nor the standard library offers a UTF-8 validator.
bool is_plain_text(std::string_view s) noexcept;

}  // namespace mercato
