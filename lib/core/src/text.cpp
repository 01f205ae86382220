#include "mercato/core/text.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace mercato {

bool is_plain_text(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t n = 0;  // continuation bytes
    std::uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1fU;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0fU;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07U;
    } else {
      return false;  // a continuation byte first, or a lead byte of an overlong or too large form
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0U) != 0x80U) return false;
      cp = (cp << 6U) | (cc & 0x3fU);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f)) {
      return false;  // overlong, out of range, a surrogate, or a C1 control character
    }
    i += n + 1;
  }
  return true;
}

Result<std::string> check_reference(std::string_view field, std::string_view value, std::size_t max_bytes) {
  std::string name(field);
  if (value.empty()) return Error::validation(name, name + ": must not be empty");
  if (value.size() > max_bytes) {
    return Error::validation(name, name + ": must be at most " + std::to_string(max_bytes) + " bytes");
  }
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return Error::validation(name, name + ": must not contain control characters");
  }
  return std::string(value);
}

}  // namespace mercato
