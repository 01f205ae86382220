// base64url without padding (RFC 4648 §5), the encoding of every part of a JWT and of JWK key material.
//
//   std::string text = auth::base64url_encode(bytes);          // "eyJhbGciOi..."
//   std::optional<std::string> bytes = auth::base64url_decode(text);
//
// Decoding is strict, because a token is compared byte for byte after signing: padding, characters
// outside the url-safe alphabet, a length of 1 mod 4 and non-zero leftover bits are all refused, so
// each byte string has exactly one accepted encoding.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mercato::auth {

std::string base64url_encode(std::string_view bytes);
// nullopt when `text` is not the canonical unpadded base64url of some byte string.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace mercato::auth
