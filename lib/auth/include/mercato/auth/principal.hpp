// Who is calling, and what they may do: the principal a verified token names, and the role sets routes
// are guarded by (docs/security.md, "Who may call what").
//
//   auth::Principal who = auth::principal_of(claims).value();      // from a verified token
//   if (!who.in(auth::kStaff)) return Error::permission_denied(...);
//   if (!who.may_see(order.customer_id)) return Error::not_found("no order " + id);   // never 403
//
// Roles:
//   anonymous  no token: public reads, registration, login;
//   customer   an account registered through the API: their own profile, orders, payments, shipments,
//              notifications (`subject` is their user id);
//   admin      an operator: catalog and stock, refunds, cancellations, every read;
//   service    another Mercato service, by its own credentials (`subject` is "service:<name>"): the
//              routes only the saga and the services' calls to each other use, and reads.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mercato/auth/jwt.hpp"
#include "mercato/core/result.hpp"

namespace mercato::auth {

enum class Role : std::uint8_t { kAnonymous = 1, kCustomer = 2, kAdmin = 4, kService = 8 };

// The `role` claim's text ("customer", "admin", "service"; "anonymous" is never in a token).
std::string_view to_string(Role role) noexcept;
std::optional<Role> parse_role(std::string_view text) noexcept;

// A set of roles, e.g. Roles{Role::kAdmin} | Role::kService.
class Roles {
 public:
  constexpr Roles() = default;
  constexpr Roles(Role role) : bits_(static_cast<std::uint8_t>(role)) {}  // NOLINT: a role is a set of one
  constexpr Roles operator|(Roles other) const {
    return Roles(static_cast<std::uint8_t>(bits_ | other.bits_));
  }
  constexpr bool contains(Role role) const { return (bits_ & static_cast<std::uint8_t>(role)) != 0; }

 private:
  constexpr explicit Roles(std::uint8_t bits) : bits_(bits) {}
  std::uint8_t bits_ = 0;
};
constexpr Roles operator|(Role a, Role b) { return Roles(a) | b; }

// The role sets routes use.
inline constexpr Roles kEveryone = Role::kAnonymous | Role::kCustomer | Role::kAdmin | Role::kService;
inline constexpr Roles kSignedIn = Role::kCustomer | Role::kAdmin | Role::kService;
inline constexpr Roles kStaff = Role::kAdmin | Role::kService;  // an operator or a service
inline constexpr Roles kAdminOnly = Role::kAdmin;
inline constexpr Roles kServiceOnly = Role::kService;

struct Principal {
  Role role = Role::kAnonymous;
  std::string subject;  // the user id; "service:<name>" for a service; empty when anonymous

  bool in(Roles roles) const { return roles.contains(role); }
  bool is_staff() const { return in(kStaff); }
  // May this principal see objects of `customer_id`? Their owner and staff may; anyone else is told the
  // object does not exist (a 404, so existence does not leak).
  bool may_see(std::string_view customer_id) const {
    return is_staff() || (role == Role::kCustomer && subject == customer_id);
  }

  friend bool operator==(const Principal&, const Principal&) = default;
};

inline Principal anonymous() { return {}; }

// The principal of verified claims; kUnauthenticated when the role claim is missing or unknown, or the
// subject is empty.
Result<Principal> principal_of(const Claims& claims);

// The refusal for a principal outside `allowed`: 401 "sign in" for anonymous callers (they may be allowed
// once signed in), 403 naming the roles otherwise.
Error refusal(const Principal& who, Roles allowed);

}  // namespace mercato::auth
