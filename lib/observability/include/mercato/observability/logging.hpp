// Structured logs: one JSON object per line on a file descriptor (stderr by default), ready for any log
// shipper that reads JSON lines.
//
//   mercato::obs::Logger log("user", mercato::obs::LogLevel::kInfo);
//   log.info("listening", {{"port", 8080}});
//   mercato::obs::LogContext ctx{request_id, trace_id};
//   log.warn("slow upstream", {{"upstream", "catalog"}, {"elapsed_ms", 812.5}}, &ctx);
//
// produces
//
//   {"time":"2026-11-29T19:26:53.123Z","level":"info","service":"user","message":"listening","port":8080}
//
// Strings are JSON-escaped (control characters as \uXXXX; bytes that are not valid UTF-8 become U+FFFD),
// so a log line is always valid JSON whatever a client sent. Fields are written in the order given, after
// the fixed keys; a field that reuses a fixed key ("time", "level", ...) yields a duplicate JSON key, so
// don't.
//
// Thread-safety: Logger is immutable after construction; all member functions may be called from any
// thread. Each line is written with a single write(2) call, so lines from concurrent callers do not
// interleave (guaranteed by POSIX for pipes up to PIPE_BUF bytes and in practice for files and ttys).
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace mercato::obs {

// Severity, lowest first.
enum class LogLevel { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error" (exact, lower-case) → the level; anything else → nullopt.
std::optional<LogLevel> parse_log_level(std::string_view text);
// The level's lower-case name as it appears in log lines.
std::string_view to_string(LogLevel level) noexcept;

// Request-scoped identifiers added to a line when non-empty. Views: the caller keeps the strings alive
// for the duration of the log call.
struct LogContext {
  std::string_view request_id;
  std::string_view trace_id;
};

namespace detail {
// Integer types a LogField stores as a number: everything integral except bool and the character types.
template <typename T>
concept LogInteger =
    std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> && !std::same_as<T, char8_t> &&
    !std::same_as<T, char16_t> && !std::same_as<T, char32_t> && !std::same_as<T, wchar_t>;
// Exactly bool, so that nothing converts to it implicitly.
template <typename T>
concept LogBool = std::same_as<T, bool>;
}  // namespace detail

// One key/value pair of a log line. Built implicitly from a brace pair: {"port", 8080}, {"path", path},
// {"ok", true}, {"ratio", 0.5}. String values are views: valid for the duration of the log call, which is
// all a field lives for when written inline as above.
class LogField {
 public:
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;

  // Text values.
  LogField(std::string_view key, std::string_view value) noexcept : key_(key), value_(value) {}
  LogField(std::string_view key, const char* value) noexcept
      : key_(key), value_(std::string_view(value == nullptr ? "" : value)) {}
  LogField(std::string_view key, const std::string& value) noexcept
      : key_(key), value_(std::string_view(value)) {}
  // Signed integers (any width) as int64, unsigned ones as uint64. char types are excluded so that a
  // stray character is not logged as a number by surprise.
  template <detail::LogInteger T>
  LogField(std::string_view key, T value) noexcept : key_(key), value_(widen(value)) {}
  // Floating point; NaN and infinities are written as null (JSON has no spelling for them).
  template <std::floating_point T>
  LogField(std::string_view key, T value) noexcept : key_(key), value_(static_cast<double>(value)) {}
  // Booleans. A template so that a string literal never converts to bool (pointer → bool is a standard
  // conversion and would otherwise beat the string overloads).
  template <detail::LogBool T>
  LogField(std::string_view key, T value) noexcept : key_(key), value_(std::in_place_type<bool>, value) {}

  // The field name as written (escaped) in the line.
  std::string_view key() const noexcept { return key_; }
  // The value.
  const Value& value() const noexcept { return value_; }

 private:
  template <detail::LogInteger T>
  static Value widen(T value) noexcept {
    if constexpr (std::is_signed_v<T>) {
      return Value(std::in_place_type<std::int64_t>, value);
    } else {
      return Value(std::in_place_type<std::uint64_t>, value);
    }
  }

  std::string_view key_;
  Value value_;
};

// Appends `text` to `out` as a JSON string literal (with the quotes), escaping '"', '\\' and control
// characters and replacing bytes that are not valid UTF-8 with U+FFFD. Exposed for other JSON writers.
void append_json_string(std::string& out, std::string_view text);

// Writes JSON log lines for one service.
class Logger {
 public:
  // `service` is written into every line; lines below `min_level` are dropped; `fd` is not owned (not
  // closed by the Logger) and must stay open for the Logger's lifetime.
  Logger(std::string service, LogLevel min_level, int fd = 2);

  // Whether a line at `level` would be written; check before building expensive fields.
  bool enabled(LogLevel level) const noexcept { return level >= min_level_.load(std::memory_order_relaxed); }
  // The minimum level: the one passed at construction, until set_min_level changes it.
  LogLevel min_level() const noexcept { return min_level_.load(std::memory_order_relaxed); }
  // Changes the minimum level while the service runs (live configuration: log.level); thread-safe.
  void set_min_level(LogLevel level) noexcept { min_level_.store(level, std::memory_order_relaxed); }

  // Writes one line if `level` is enabled. Write errors are ignored: logging must never take the
  // service down.
  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {},
           const LogContext* ctx = nullptr) const;
  // Shorthands for log(LogLevel::k..., ...).
  void debug(std::string_view message, std::initializer_list<LogField> fields = {},
             const LogContext* ctx = nullptr) const {
    log(LogLevel::kDebug, message, fields, ctx);
  }
  void info(std::string_view message, std::initializer_list<LogField> fields = {},
            const LogContext* ctx = nullptr) const {
    log(LogLevel::kInfo, message, fields, ctx);
  }
  void warn(std::string_view message, std::initializer_list<LogField> fields = {},
            const LogContext* ctx = nullptr) const {
    log(LogLevel::kWarn, message, fields, ctx);
  }
  void error(std::string_view message, std::initializer_list<LogField> fields = {},
             const LogContext* ctx = nullptr) const {
    log(LogLevel::kError, message, fields, ctx);
  }

  // The line `log` would write (including the trailing '\n'), for tests and for sinks other than a fd.
  std::string format(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {},
                     const LogContext* ctx = nullptr) const;

 private:
  std::string service_;
  std::atomic<LogLevel> min_level_;
  int fd_;
};

}  // namespace mercato::obs
