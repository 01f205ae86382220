#include "mercato/observability/trace_context.hpp"

#include <string_view>

#include "mercato/core/ids.hpp"

namespace mercato::obs {
namespace {

constexpr std::size_t kVersion00Length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2

// The spec allows only lowercase hex ("HEXDIGLC"); uppercase is a malformed header, not a variant.
bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

unsigned hex_value(char c) {
  return c <= '9' ? static_cast<unsigned>(c - '0') : static_cast<unsigned>(c - 'a' + 10);
}

}  // namespace

std::optional<TraceContext> TraceContext::parse(std::string_view h) {
  if (h.size() < kVersion00Length) return std::nullopt;
  std::string_view version = h.substr(0, 2);
  std::string_view trace_id = h.substr(3, 32);
  std::string_view span_id = h.substr(36, 16);
  std::string_view flags = h.substr(53, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  if (!is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags)) return std::nullopt;
  if (all_zero(trace_id) || all_zero(span_id)) return std::nullopt;
  const bool v00 = version == "00";
  if (v00 && h.size() != kVersion00Length) return std::nullopt;
  // A later version may append fields, but only after another '-'.
  if (!v00 && h.size() > kVersion00Length && h[kVersion00Length] != '-') return std::nullopt;
  auto flag_byte = static_cast<std::uint8_t>(hex_value(flags[0]) << 4 | hex_value(flags[1]));
  // We cannot know what a future version's other flag bits mean, so keep only "sampled".
  if (!v00) flag_byte &= 1U;
  return TraceContext{std::string(trace_id), std::string(span_id), flag_byte};
}

TraceContext TraceContext::new_root() {
  return TraceContext{mercato::random_hex(16), mercato::random_hex(8), 1};
}

TraceContext TraceContext::child() const { return TraceContext{trace_id, mercato::random_hex(8), flags}; }

std::string TraceContext::to_traceparent() const {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(kVersion00Length);
  out += "00-";
  out += trace_id;
  out += '-';
  out += span_id;
  out += '-';
  out += kHex[flags >> 4];
  out += kHex[flags & 0xfU];
  return out;
}

}  // namespace mercato::obs
