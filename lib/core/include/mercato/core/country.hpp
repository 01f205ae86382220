// ISO 3166-1 alpha-2 country codes: the ones officially assigned, not just any two capital letters
// (a carrier cannot deliver to "ZZ"). Shared by every service that accepts an address.
//
//   if (!mercato::is_iso3166_alpha2(country)) return Error::validation("address.country", ...);
//
// Thread-safety: a pure function over a constant table.
#pragma once

#include <string_view>

namespace mercato {

// True for an officially assigned code in upper case ("DE", "US"); false for "de", "ZZ", "UK".
bool is_iso3166_alpha2(std::string_view code) noexcept;

}  // namespace mercato
