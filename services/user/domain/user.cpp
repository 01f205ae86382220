#include "domain/user.hpp"

#include <algorithm>
#include <cctype>

namespace mercato::user {
namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253 || domain.find('.') == std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto dot = domain.find('.', start);
    auto label = domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      // Internationalized domains arrive as UTF-8; accept non-ASCII bytes, reject ASCII punctuation.
      if (u < 0x80 && !std::isalnum(u) && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

}  // namespace

Result<std::string> normalize_email(std::string_view email) {
  auto fail = [](std::string why) { return Error::validation("email", "email: " + std::move(why)); };
  if (email.size() > 254) return fail("must be at most 254 bytes");
  auto at = email.rfind('@');
  if (at == std::string_view::npos) return fail("must contain '@'");
  auto local = email.substr(0, at);
  auto domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64) return fail("the part before '@' must be 1 to 64 bytes");
  for (char c : email) {
    auto u = static_cast<unsigned char>(c);
    if (is_control(u) || c == ' ') return fail("must not contain spaces or control characters");
  }
  if (local.find('@') != std::string_view::npos) return fail("must contain exactly one '@'");
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return fail("the part before '@' has misplaced dots");
  }
  if (!valid_domain(domain)) return fail("the domain after '@' is not a valid host name");
  std::string out(local);
  out.push_back('@');
  for (char c : domain) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

Result<std::string> normalize_name(std::string_view name) {
  auto first = name.find_first_not_of(' ');
  auto last = name.find_last_not_of(' ');
  std::string_view trimmed =
      first == std::string_view::npos ? std::string_view{} : name.substr(first, last - first + 1);
  if (trimmed.empty()) return Error::validation("name", "name: must not be empty");
  if (trimmed.size() > 200) return Error::validation("name", "name: must be at most 200 bytes");
  if (std::any_of(trimmed.begin(), trimmed.end(),
                  [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
    return Error::validation("name", "name: must not contain control characters");
  }
  return std::string(trimmed);
}

bool apply(User& user, const UserPatch& patch, SystemTime now) {
  bool changed = false;
  if (patch.email && *patch.email != user.email) {
    user.email = *patch.email;
    changed = true;
  }
  if (patch.name && *patch.name != user.name) {
    user.name = *patch.name;
    changed = true;
  }
  if (changed) user.updated_at = now;
  return changed;
}

}  // namespace mercato::user
