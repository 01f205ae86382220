// Timestamps on the wire are RFC 3339 in UTC with millisecond precision: "2026-11-29T19:26:53.123Z".
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mercato {

using SystemTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

SystemTime now_utc();
// Milliseconds since the Unix epoch: how storage adapters keep timestamps in integer columns.
constexpr std::int64_t to_unix_ms(SystemTime t) noexcept { return t.time_since_epoch().count(); }
constexpr SystemTime from_unix_ms(std::int64_t ms) noexcept {
  return SystemTime{std::chrono::milliseconds{ms}};
}
std::string format_rfc3339(SystemTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z" and numeric offsets ("+03:00"); nullopt when malformed.
std::optional<SystemTime> parse_rfc3339(std::string_view text);

}  // namespace mercato
