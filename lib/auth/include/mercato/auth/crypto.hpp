// The few primitives around tokens that are not signatures: random bytes from the operating system's
// CSPRNG and SHA-256 (OpenSSL underneath), and a comparison whose time does not depend on the data.
//
//   std::string secret = auth::random_bytes(32);                 // an opaque refresh token's bytes
//   std::string stored = auth::sha256_hex(auth::base64url_encode(secret));
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mercato::auth {

// `n` bytes from OpenSSL's CSPRNG (seeded by the kernel). Throws std::runtime_error if the generator
// fails, which OpenSSL documents as only possible when it cannot be seeded at all.
std::string random_bytes(std::size_t n);
// SHA-256 of `data` as 32 raw bytes, and as 64 lower-case hex characters.
std::string sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
// true when a == b, in a time that depends only on the sizes.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace mercato::auth
