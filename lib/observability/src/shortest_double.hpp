// The text of a finite double as the JSON logs and the Prometheus exposition both write it (private to
// lib/observability): the shortest form that reads back to the same value, in plain notation where it is
// readable (0.0005, 12345678) and exponent notation for the extremes; both forms are valid JSON and
// valid Prometheus sample values. Each caller writes NaN and the infinities its own format's way.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

namespace mercato::obs {

inline void append_shortest_double(std::string& out, double d) {
  const double mag = std::fabs(d);
  const auto fmt =
      (mag == 0 || (mag >= 1e-4 && mag < 1e21)) ? std::chars_format::fixed : std::chars_format::scientific;
  std::array<char, 64> buf;
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d, fmt);
  out.append(buf.data(), ec == std::errc() ? ptr : buf.data());
}

}  // namespace mercato::obs
