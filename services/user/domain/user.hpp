// The user aggregate and its rules. Pure logic: no I/O, no HTTP, no SQL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mercato/core/result.hpp"
#include "mercato/core/time.hpp"

namespace mercato::user {

// Error::not_found for a user: the same answer whether it is missing or hidden from the caller.
inline Error user_not_found(std::string_view id) { return Error::not_found("user", id); }

struct User {
  std::string id;
  std::string email;  // normalized: see normalize_email
  std::string name;
  SystemTime created_at{};
  SystemTime updated_at{};

  friend bool operator==(const User&, const User&) = default;
};

// Checks an address's shape (local@domain.tld, RFC 5321 lengths, no spaces or control characters) and
// lower-cases the domain, which is case-insensitive. The local part is kept as given; uniqueness is
// checked case-insensitively by the repository, so Ann@x.io and ann@x.io cannot both register.
Result<std::string> normalize_email(std::string_view email);

// A display name: 1..200 bytes once surrounding spaces are trimmed, no control characters.
Result<std::string> normalize_name(std::string_view name);

struct UserPatch {
  std::optional<std::string> email;
  std::optional<std::string> name;
};

// Applies a validated patch; returns whether anything changed.
bool apply(User& user, const UserPatch& patch, SystemTime now);

}  // namespace mercato::user
