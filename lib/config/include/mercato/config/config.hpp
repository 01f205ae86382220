// Typed settings for each component, read once at start-up from a YAML file plus environment overrides.
//
// The file is a tree of maps; every leaf is addressed by a dotted key ("server.port"). An environment
// variable named <prefix><LEVEL1>__<LEVEL2>... overrides the leaf with the same path: upper-case in the
// environment, lower-case in the file, "__" between levels and a single "_" kept inside a key, so
// APP_SERVER__MAX_BODY_BYTES=2MiB overrides server.max_body_bytes. The environment wins over the file.
//
// Every getter records which keys it read. After all components have read their settings,
// `check_all_used()` rejects any key nobody read (a typo such as "server.prot"), and every getter
// rejects a value of the wrong shape; both throw ConfigError with a message naming the key and where it
// came from, which main() prints before exiting.
//
//   auto source = mercato::config::Source::load("config/user.yaml", environ);
//   auto server = source.section("server");
//   std::uint16_t port = server.port("port", 8080);
//   auto timeout = server.duration("request_timeout", std::chrono::seconds(5));
//   source.check_all_used();   // throws: unknown configuration key 'server.prot' (in config/user.yaml)
//
// Thread-safety: Source and Section are cheap handles onto one shared, immutable set of values; the only
// mutable state (which keys were read) sits behind a mutex, so all member functions may be called from
// any thread. In practice configuration is read on one thread during start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mercato::config {

// Every configuration problem: unreadable or malformed file, bad value, missing or unknown key.
// Thrown only during start-up; the message is meant for the operator as-is.
class ConfigError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

class Section;

namespace detail {
struct State;
}  // namespace detail

// The loaded configuration: file values, environment overrides and the record of which keys were read.
class Source {
 public:
  // YAML file at `yaml_path` (empty = no file; a missing or unparseable file throws ConfigError naming
  // the path and, for a parse error, yaml-cpp's line and column) plus the variables of `envp` (a
  // NULL-terminated environ-style array, may be null) whose names start with `prefix`.
  static Source load(const std::string& yaml_path, char** envp, std::string_view prefix = "APP_");

  // For tests: YAML text plus an environment map such as {{"APP_SERVER__PORT", "9000"}}. Entries of
  // `env` without `prefix` are ignored, as in `load`. Values from `yaml` are reported as "(in <yaml>)".
  static Source from_strings(std::string_view yaml, const std::map<std::string, std::string>& env = {},
                             std::string_view prefix = "APP_");

  // The section at a dotted path ("server", "gateway.services"). A missing section is empty, so every
  // getter returns its fallback.
  Section section(std::string_view path) const;
  // The whole tree; keys are then full dotted paths.
  Section root() const;

  // Throws ConfigError listing, one per line, every key present in the file or the environment that no
  // getter read, e.g. "unknown configuration key 'server.prot' (in config/user.yaml)" or
  // "unknown configuration key 'server.prot' (from APP_SERVER__PROT)".
  void check_all_used() const;

 private:
  explicit Source(std::shared_ptr<detail::State> state);
  std::shared_ptr<detail::State> state_;
};

// A view of the keys below one dotted path. Getters take a key relative to the section (it may itself
// be dotted: "tls.cert_file"), mark it as used, and throw ConfigError when the value has the wrong shape;
// the message names the full key, the value and where it came from, e.g.
// "config key 'server.port' = 'abc' (from APP_SERVER__PORT): expected an integer in [1, 65535]".
// A key written with an empty YAML value ("port:" or "port: ~") counts as absent.
class Section {
 public:
  // The value as text, or `fallback` when absent. An empty value is returned as is.
  std::string string(std::string_view key, std::string_view fallback) const;
  // The value as text, or nullopt when absent.
  std::optional<std::string> optional_string(std::string_view key) const;
  // The value as text; throws naming the full key and its environment variable when absent or empty.
  std::string required_string(std::string_view key) const;
  // A decimal integer in [min, max], or `fallback` when absent.
  std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) const;
  // A TCP/UDP port in [0, 65535]; 0 asks the OS for an ephemeral port.
  std::uint16_t port(std::string_view key, std::uint16_t fallback) const;
  // true/false, yes/no, on/off, 1/0 (case-insensitive).
  bool boolean(std::string_view key, bool fallback) const;
  // A finite decimal number in [min, max].
  double number(std::string_view key, double fallback, double min, double max) const;
  // "250ms", "5s", "2m", "1h"; a bare integer means milliseconds. Negative or fractional values, other
  // units and more than a year (8760h: no setting means longer, and a time point that far ahead of the
  // clock would overflow) are errors.
  std::chrono::milliseconds duration(std::string_view key, std::chrono::milliseconds fallback) const;
  // A byte count: "1048576", "512B", "64KiB", "1MiB", "2GiB", "1TiB" (powers of 1024) or "10KB", "5MB",
  // "1GB", "1TB" (powers of 1000). A space between number and unit is allowed.
  std::uint64_t bytes(std::string_view key, std::uint64_t fallback) const;
  // One of `allowed` (exact match), e.g. a log level; `fallback` when absent.
  std::string choice(std::string_view key, std::string_view fallback,
                     std::initializer_list<std::string_view> allowed) const;
  // A YAML sequence of scalars, or an environment value "a,b,c" (items trimmed, an empty value is an
  // empty list, an empty item is an error). Empty when absent.
  std::vector<std::string> string_list(std::string_view key) const;
  // The nested section `key` below this one.
  Section section(std::string_view key) const;
  // Names of the keys (leaves or sub-sections) directly below this section in the file or the
  // environment, sorted and without duplicates; for maps such as gateway.services.<name>. Listing does
  // not mark anything as used.
  std::vector<std::string> child_keys() const;
  // The dotted path of this section ("server"); empty for the root.
  std::string path() const;

 private:
  friend class Source;
  Section(std::shared_ptr<detail::State> state, std::string path);
  std::string full_key(std::string_view key) const;
  std::shared_ptr<detail::State> state_;
  std::string path_;
};

}  // namespace mercato::config
