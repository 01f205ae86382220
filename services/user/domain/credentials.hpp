// Accounts' credentials and sessions, as rules: roles, what a password must be, and the refresh-token
// record a session is made of. Pure logic: no I/O, no hashing (the hash is an adapter's business).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::user {

// What a token's `role` claim says. Accounts registered through the API are customers; an admin is made
// by the operator (bootstrap, a later step).
enum class Role { kCustomer, kAdmin };
std::string_view to_string(Role role) noexcept;
std::optional<Role> parse_role(std::string_view text) noexcept;

// Password bounds, counted in Unicode code points (the text is valid UTF-8 by the time it gets here):
// at least 8 (NIST SP 800-63B's floor for a chosen secret) and at most 128, so a passphrase fits and
// the work of hashing a request stays bounded. Every other character, spaces included, is allowed.
inline constexpr std::size_t kMinPasswordLength = 8;
inline constexpr std::size_t kMaxPasswordLength = 128;
Result<void> check_password(std::string_view password);

// What the store keeps of an account besides the User: never returned by a route, never in an event.
struct Credentials {
  std::string user_id;
  std::string password_hash;  // an encoded argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
  Role role = Role::kCustomer;

  friend bool operator==(const Credentials&, const Credentials&) = default;
};

// One refresh token of a session. The token itself is never stored, only its SHA-256; tokens are
// rotated on each use, and all the tokens descending from one login share a family, so that a token
// presented twice (a copy was stolen) can revoke everything that login led to.
struct RefreshToken {
  std::string token_hash;  // SHA-256 of the token, hex
  std::string family_id;
  std::string user_id;
  SystemTime issued_at{};
  SystemTime expires_at{};

  friend bool operator==(const RefreshToken&, const RefreshToken&) = default;
};

// What a valid refresh token grants: a new pair for this account.
struct Grant {
  std::string user_id;
  Role role = Role::kCustomer;
  std::string family_id;

  friend bool operator==(const Grant&, const Grant&) = default;
};

}  // namespace mercato::user
