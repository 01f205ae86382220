#include "mercato/observability/logging.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <utility>

#include "mercato/core/enum_names.hpp"
#include "mercato/core/time.hpp"
#include "shortest_double.hpp"

namespace mercato::obs {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not one. Follows the
// table in RFC 3629 §4: rejects overlong forms, UTF-16 surrogates and code points above U+10FFFF, so
// the output is valid UTF-8 that any JSON parser accepts.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0) lo = 0xa0;  // overlong
    if (b0 == 0xed) hi = 0x9f;  // surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0) lo = 0x90;  // overlong
    if (b0 == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return len;
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  append_shortest_double(out, d);
}

template <typename Int>
void append_int(std::string& out, Int n) {
  std::array<char, 24> buf{};
  auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), n);
  out.append(buf.data(), ec == std::errc() ? ptr : buf.data());
}

void append_value(std::string& out, const LogField::Value& v) {
  std::visit(
      [&out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          append_json_string(out, x);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          append_double(out, x);
        } else {
          append_int(out, x);
        }
      },
      v);
}

void append_key(std::string& out, std::string_view key) {
  out += ',';
  append_json_string(out, key);
  out += ':';
}

constexpr auto kLogLevelNames = enum_names<LogLevel>({{LogLevel::kDebug, "debug"},
                                                      {LogLevel::kInfo, "info"},
                                                      {LogLevel::kWarn, "warn"},
                                                      {LogLevel::kError, "error"}});
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) { return kLogLevelNames.parse(text); }

std::string_view to_string(LogLevel level) noexcept { return kLogLevelNames.name(level, "unknown"); }

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            // DEL is legal JSON but invisible on a terminal; escaping it costs nothing.
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::size_t len = utf8_sequence_length(text, i);
    if (len == 0) {
      // Replace one byte at a time: simple, and never swallows a valid character that follows.
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  out += '"';
}

Logger::Logger(std::string service, LogLevel min_level, int fd)
    : service_(std::move(service)), min_level_(min_level), fd_(fd) {}

std::string Logger::format(LogLevel level, std::string_view message, std::initializer_list<LogField> fields,
                           const LogContext* ctx) const {
  std::string line;
  line.reserve(128 + message.size() + fields.size() * 24);
  line += R"({"time":")";
  line += mercato::format_rfc3339(mercato::now_utc());
  line += R"(","level":")";
  line += to_string(level);
  line += '"';
  append_key(line, "service");
  append_json_string(line, service_);
  append_key(line, "message");
  append_json_string(line, message);
  if (ctx != nullptr) {
    if (!ctx->request_id.empty()) {
      append_key(line, "request_id");
      append_json_string(line, ctx->request_id);
    }
    if (!ctx->trace_id.empty()) {
      append_key(line, "trace_id");
      append_json_string(line, ctx->trace_id);
    }
  }
  for (const LogField& f : fields) {
    append_key(line, f.key());
    append_value(line, f.value());
  }
  line += "}\n";
  return line;
}

void Logger::log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields,
                 const LogContext* ctx) const {
  if (!enabled(level)) return;
  const std::string line = format(level, message, fields, ctx);
  // One write(2) per line is what keeps concurrent lines whole, so there is no lock and no buffering.
  // A short write (full disk, pipe reader gone slow) is finished rather than dropped; EINTR is retried;
  // any other error is ignored because there is nowhere left to report it.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace mercato::obs
