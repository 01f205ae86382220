#include "domain/credentials.hpp"

#include "mercato/core/enum_names.hpp"

namespace mercato::user {

namespace {
constexpr auto kRoleNames = enum_names<Role>({{Role::kCustomer, "customer"}, {Role::kAdmin, "admin"}});
}  // namespace

std::string_view to_string(Role role) noexcept { return kRoleNames.name(role, "customer"); }

std::optional<Role> parse_role(std::string_view text) noexcept { return kRoleNames.parse(text); }

Result<void> check_password(std::string_view password) {
  std::size_t code_points = 0;
  for (char c : password) {
    // Continuation bytes (10xxxxxx) belong to the code point before them.
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++code_points;
  }
  if (code_points < kMinPasswordLength) {
    return Error::validation(
        "password", "password: must be at least " + std::to_string(kMinPasswordLength) + " characters");
  }
  if (code_points > kMaxPasswordLength) {
    return Error::validation(
        "password", "password: must be at most " + std::to_string(kMaxPasswordLength) + " characters");
  }
  return {};
}

}  // namespace mercato::user
