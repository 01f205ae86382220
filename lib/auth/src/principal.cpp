#include "mercato/auth/principal.hpp"

#include "mercato/core/enum_names.hpp"

namespace mercato::auth {

namespace {
constexpr auto kRoleNames = enum_names<Role>({{Role::kAnonymous, "anonymous"},
                                              {Role::kCustomer, "customer"},
                                              {Role::kAdmin, "admin"},
                                              {Role::kService, "service"}});
}  // namespace

std::string_view to_string(Role role) noexcept { return kRoleNames.name(role, "anonymous"); }

std::optional<Role> parse_role(std::string_view text) noexcept {
  // "anonymous" is what no token says: a token claiming it is refused like any unknown role.
  auto role = kRoleNames.parse(text);
  if (role == Role::kAnonymous) return std::nullopt;
  return role;
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
