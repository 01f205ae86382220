#include "mercato/auth/principal.hpp"

namespace mercato::auth {

std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::kAnonymous:
      return "anonymous";
    case Role::kCustomer:
      return "customer";
    case Role::kAdmin:
      return "admin";
    case Role::kService:
      return "service";
  }
  return "anonymous";
}

std::optional<Role> parse_role(std::string_view text) noexcept {
  // "anonymous" is what no token says: a token claiming it is refused like any unknown role.
  if (text == "customer") return Role::kCustomer;
  if (text == "admin") return Role::kAdmin;
  if (text == "service") return Role::kService;
  return std::nullopt;
}

Result<Principal> principal_of(const Claims& claims) {
  auto role = parse_role(claims.role);
  if (!role) return Error::unauthenticated("token has no known role");
  if (claims.subject.empty()) return Error::unauthenticated("token has no subject");
  return Principal{.role = *role, .subject = claims.subject};
}

Error refusal(const Principal& who, Roles allowed) {
  if (who.role == Role::kAnonymous) {
    return Error::unauthenticated("sign in first: this route needs an access token (Authorization: Bearer)");
  }
  std::string names;
  for (Role r : {Role::kCustomer, Role::kAdmin, Role::kService}) {
    if (!allowed.contains(r)) continue;
    if (!names.empty()) names += ", ";
    names += to_string(r);
  }
  return Error::permission_denied("this route is for: " + (names.empty() ? std::string("nobody") : names));
}

}  // namespace mercato::auth
