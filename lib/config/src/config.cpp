#include "mercato/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

namespace mercato::config {
namespace detail {

// One leaf of the flattened tree. YAML maps become dotted keys; sequences stay lists so string_list can
// return them without a second parser; an empty YAML value is kept (as kNull) rather than dropped so
// that a misspelt key with no value is still reported by check_all_used.
struct Entry {
  enum class Kind { kScalar, kList, kNull };
  Kind kind = Kind::kNull;
  std::string text;
  std::vector<std::string> list;
  std::string origin;  // "in config/user.yaml" or "from APP_SERVER__PORT", for messages
  bool from_env = false;
  bool used = false;  // guarded by State::mutex
};

using EntryMap = std::map<std::string, Entry, std::less<>>;

struct State {
  std::string file_label;  // the path for messages; empty when there is no file
  std::string prefix;
  EntryMap file;
  EntryMap env;
  // Only `Entry::used` changes after loading. A mutex costs nothing at start-up and spares callers from
  // having to reason about which thread reads its settings.
  std::mutex mutex;
};

}  // namespace detail

namespace {

using detail::Entry;
using detail::EntryMap;
using detail::State;

// What a getter sees: a copy taken under the lock, so parsing and error formatting run without it.
struct Value {
  Entry::Kind kind = Entry::Kind::kNull;
  std::string text;
  std::vector<std::string> list;
  std::string origin;
  bool from_env = false;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string env_name(const State& state, std::string_view key) {
  std::string out = state.prefix;
  for (char c : key) {
    if (c == '.') {
      out += "__";
    } else {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string format_double(double d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

[[noreturn]] void bad_value(std::string_view key, const Value& v, std::string_view expected) {
  std::string msg = "config key '" + std::string(key) + "' = '" + v.text + "' (" + v.origin + "): expected ";
  msg += expected;
  throw ConfigError(msg);
}

// --- loading ---------------------------------------------------------------------------------------

std::string yaml_position(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  // yaml-cpp counts from 0; editors count from 1.
  return " at line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

// Deeper than any real configuration. The bound matters for more than tidiness: an alias inside the
// map its anchor names ("a: &x {b: *x}") is a node that contains itself, and yaml-cpp loads it as
// such, so walking it would recurse until the stack overflows (found by fuzz/config_fuzz.cpp).
constexpr int kMaxDepth = 32;

void flatten(const YAML::Node& node, const std::string& path, const std::string& label, EntryMap& out,
             int depth = 0) {
  const std::string origin = "in " + label;
  if (depth > kMaxDepth) {
    throw ConfigError(label + yaml_position(node.Mark()) + ": config key '" + path.substr(0, 200) +
                      "...' is nested more than " + std::to_string(kMaxDepth) +
                      " levels deep (an alias that contains itself?)");
  }
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      std::set<std::string> seen;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          throw ConfigError(label + yaml_position(kv.first.Mark()) +
                            ": configuration keys must be plain names");
        }
        const std::string& name = kv.first.Scalar();
        // A dot would make "a.b: 1" indistinguishable from "a: {b: 1}" once flattened.
        if (name.empty() || name.find('.') != std::string::npos) {
          throw ConfigError(label + yaml_position(kv.first.Mark()) + ": invalid configuration key '" + name +
                            "' (keys are non-empty and contain no '.')");
        }
        std::string child = path.empty() ? name : path + "." + name;
        // yaml-cpp keeps both copies of a repeated key; silently taking one would hide a mistake.
        if (!seen.insert(name).second) {
          throw ConfigError(label + yaml_position(kv.first.Mark()) + ": duplicate configuration key '" +
                            child + "'");
        }
        flatten(kv.second, child, label, out, depth + 1);
      }
      return;
    }
    case YAML::NodeType::Sequence: {
      Entry e;
      e.kind = Entry::Kind::kList;
      e.origin = origin;
      for (const auto& item : node) {
        if (!item.IsScalar()) {
          throw ConfigError(label + yaml_position(item.Mark()) + ": config key '" + path +
                            "': list items must be plain values");
        }
        e.list.push_back(item.Scalar());
      }
      out[path] = std::move(e);
      return;
    }
    case YAML::NodeType::Scalar: {
      Entry e;
      e.kind = Entry::Kind::kScalar;
      e.text = node.Scalar();
      e.origin = origin;
      out[path] = std::move(e);
      return;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: {
      if (path.empty()) return;  // an empty document
      Entry e;
      e.kind = Entry::Kind::kNull;
      e.origin = origin;
      out[path] = std::move(e);
      return;
    }
  }
}

void parse_yaml(std::string_view text, const std::string& label, EntryMap& out) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError(label + ": invalid YAML" + yaml_position(e.mark) + ": " + e.msg);
  }
  if (!root.IsMap() && !root.IsNull()) {
    throw ConfigError(label + ": the top level of a configuration file must be a map of sections");
  }
  try {
    flatten(root, "", label, out);
  } catch (const YAML::Exception& e) {
    throw ConfigError(label + ": invalid YAML" + yaml_position(e.mark) + ": " + e.msg);
  }
}

void add_env(State& state, std::string_view name, std::string_view value) {
  if (name.size() < state.prefix.size() || name.substr(0, state.prefix.size()) != state.prefix) return;
  std::string_view rest = name.substr(state.prefix.size());
  std::string key;
  while (true) {
    auto sep = rest.find("__");
    std::string_view part = rest.substr(0, sep);
    if (part.empty()) {
      throw ConfigError("environment variable '" + std::string(name) +
                        "' does not name a configuration key (expected " + state.prefix + "SECTION__KEY)");
    }
    if (!key.empty()) key += '.';
    key += lower(part);
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 2);
  }
  Entry e;
  e.kind = Entry::Kind::kScalar;
  e.text = std::string(value);
  e.origin = "from " + std::string(name);
  e.from_env = true;
  auto [it, inserted] = state.env.emplace(key, std::move(e));
  if (!inserted) {
    throw ConfigError("environment variables " + it->second.origin.substr(5) + " and " + std::string(name) +
                      " both set configuration key '" + key + "'");
  }
}

// --- reading ---------------------------------------------------------------------------------------

bool has_children(const EntryMap& m, const std::string& key) {
  std::string prefix = key + ".";
  auto it = m.lower_bound(prefix);
  return it != m.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

// Looks a key up (environment first), marks it used, and returns a copy. A key that only exists as a
// section is an error: reading "server" as a value when the file has server.port is a code or file
// mistake, and falling back silently would hide it.
std::optional<Value> lookup(State& state, const std::string& key) {
  std::unique_lock lock(state.mutex);
  auto env_it = state.env.find(key);
  auto file_it = state.file.find(key);
  if (env_it != state.env.end()) env_it->second.used = true;
  if (file_it != state.file.end()) file_it->second.used = true;
  const Entry* e = nullptr;
  if (env_it != state.env.end()) {
    e = &env_it->second;
  } else if (file_it != state.file.end()) {
    e = &file_it->second;
  }
  if (e == nullptr) {
    if (has_children(state.file, key) || has_children(state.env, key)) {
      lock.unlock();
      throw ConfigError("config key '" + key + "' is a section, expected a single value");
    }
    return std::nullopt;
  }
  if (e->kind == Entry::Kind::kNull) return std::nullopt;
  return Value{e->kind, e->text, e->list, e->origin, e->from_env};
}

// The scalar text of `key`, or nullopt when absent; a list where a value is expected is an error.
std::optional<Value> scalar(State& state, const std::string& key) {
  auto v = lookup(state, key);
  if (v && v->kind == Entry::Kind::kList) {
    throw ConfigError("config key '" + key + "' (" + v->origin + "): expected a single value, found a list");
  }
  return v;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view s) {
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return n;
}

// Splits "64KiB" / "64 KiB" / "250ms" into the leading digits and the unit after them.
std::pair<std::string_view, std::string_view> split_number_unit(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  return {s.substr(0, i), trim(s.substr(i))};
}

void mark_null_section_used(State& state, const std::string& path) {
  // "services:" with nothing under it is an explicitly empty section, not an unknown key.
  std::lock_guard lock(state.mutex);
  for (EntryMap* m : {&state.file, &state.env}) {
    auto it = m->find(path);
    if (it != m->end() && it->second.kind == Entry::Kind::kNull) it->second.used = true;
  }
}

}  // namespace

// --- Source ----------------------------------------------------------------------------------------

Source::Source(std::shared_ptr<detail::State> state) : state_(std::move(state)) {}

Source Source::load(const std::string& yaml_path, char** envp, std::string_view prefix) {
  auto state = std::make_shared<State>();
  state->prefix = std::string(prefix);
  if (!yaml_path.empty()) {
    state->file_label = yaml_path;
    std::ifstream in(yaml_path, std::ios::binary);
    if (!in) {
      throw ConfigError("cannot read configuration file '" + yaml_path + "': " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw ConfigError("cannot read configuration file '" + yaml_path + "'");
    parse_yaml(text.str(), yaml_path, state->file);
  }
  for (char** p = envp; p != nullptr && *p != nullptr; ++p) {
    std::string_view var(*p);
    auto eq = var.find('=');
    if (eq == std::string_view::npos) continue;
    add_env(*state, var.substr(0, eq), var.substr(eq + 1));
  }
  return Source(std::move(state));
}

Source Source::from_strings(std::string_view yaml, const std::map<std::string, std::string>& env,
                            std::string_view prefix) {
  auto state = std::make_shared<State>();
  state->prefix = std::string(prefix);
  state->file_label = "<yaml>";
  parse_yaml(yaml, state->file_label, state->file);
  for (const auto& [name, value] : env) add_env(*state, name, value);
  return Source(std::move(state));
}

Section Source::section(std::string_view path) const {
  mark_null_section_used(*state_, std::string(path));
  return Section(state_, std::string(path));
}

Section Source::root() const { return Section(state_, {}); }

void Source::check_all_used() const {
  std::vector<std::pair<std::string, std::string>> unused;  // key, origin
  {
    std::lock_guard lock(state_->mutex);
    for (const EntryMap* m : {&state_->file, &state_->env}) {
      for (const auto& [key, e] : *m) {
        if (!e.used) unused.emplace_back(key, e.origin);
      }
    }
  }
  if (unused.empty()) return;
  std::sort(unused.begin(), unused.end());
  std::string msg;
  for (const auto& [key, origin] : unused) {
    if (!msg.empty()) msg += '\n';
    msg += "unknown configuration key '" + key + "' (" + origin + ")";
  }
  throw ConfigError(msg);
}

// --- Section ---------------------------------------------------------------------------------------

Section::Section(std::shared_ptr<detail::State> state, std::string path)
    : state_(std::move(state)), path_(std::move(path)) {}

std::string Section::full_key(std::string_view key) const {
  if (key.empty()) throw ConfigError("empty configuration key requested in section '" + path_ + "'");
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::string Section::path() const { return path_; }

Section Section::section(std::string_view key) const {
  std::string p = full_key(key);
  mark_null_section_used(*state_, p);
  return Section(state_, std::move(p));
}

std::string Section::string(std::string_view key, std::string_view fallback) const {
  auto v = scalar(*state_, full_key(key));
  return v ? v->text : std::string(fallback);
}

std::optional<std::string> Section::optional_string(std::string_view key) const {
  auto v = scalar(*state_, full_key(key));
  if (!v) return std::nullopt;
  return v->text;
}

std::string Section::required_string(std::string_view key) const {
  std::string k = full_key(key);
  auto v = scalar(*state_, k);
  if (!v || v->text.empty()) {
    std::string where = state_->file_label.empty() ? "the configuration file" : state_->file_label;
    throw ConfigError("missing required configuration key '" + k + "' (set it in " + where + " or " +
                      env_name(*state_, k) + ")");
  }
  return v->text;
}

std::int64_t Section::integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                              std::int64_t max) const {
  std::string k = full_key(key);
  auto v = scalar(*state_, k);
  if (!v) return fallback;
  std::string_view s = trim(v->text);
  if (s.size() > 1 && s.front() == '+') s.remove_prefix(1);
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || n < min || n > max) {
    bad_value(k, *v, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return n;
}

std::uint16_t Section::port(std::string_view key, std::uint16_t fallback) const {
  return static_cast<std::uint16_t>(integer(key, fallback, 0, 65535));
}

bool Section::boolean(std::string_view key, bool fallback) const {
  std::string k = full_key(key);
  auto v = scalar(*state_, k);
  if (!v) return fallback;
  std::string s = lower(trim(v->text));
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  bad_value(k, *v, "a boolean (true/false, yes/no, on/off, 1/0)");
}

double Section::number(std::string_view key, double fallback, double min, double max) const {
  std::string k = full_key(key);
  auto v = scalar(*state_, k);
  if (!v) return fallback;
  std::string_view s = trim(v->text);
  if (s.size() > 1 && s.front() == '+') s.remove_prefix(1);
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  // from_chars accepts "inf" and "nan"; neither is a sensible setting.
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(d) || d < min ||
      d > max) {
    bad_value(k, *v, "a number in [" + format_double(min) + ", " + format_double(max) + "]");
  }
  return d;
}

std::chrono::milliseconds Section::duration(std::string_view key, std::chrono::milliseconds fallback) const {
  std::string k = full_key(key);
  auto v = scalar(*state_, k);
  if (!v) return fallback;
  constexpr std::string_view kExpected =
      "a duration such as 250ms, 5s, 2m or 1h (a bare integer means ms), at most 8760h";
  auto [digits, unit] = split_number_unit(trim(v->text));
  auto n = parse_unsigned(digits);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  }
  constexpr std::uint64_t kMax = 8760ULL * 3'600'000;  // a year, in ms
  if (!n || scale == 0 || *n > kMax / scale || *n * scale > kMax) bad_value(k, *v, kExpected);
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*n * scale));
}

std::uint64_t Section::bytes(std::string_view key, std::uint64_t fallback) const {
  std::string k = full_key(key);
  auto v = scalar(*state_, k);
  if (!v) return fallback;
  constexpr std::string_view kExpected = "a byte size such as 1048576, 64KiB, 1MiB, 2GiB or 10KB";
  static constexpr auto kUnits = std::to_array<std::pair<std::string_view, std::uint64_t>>({
      {"", 1},
      {"B", 1},
      {"KB", 1000ULL},
      {"MB", 1000ULL * 1000},
      {"GB", 1000ULL * 1000 * 1000},
      {"TB", 1000ULL * 1000 * 1000 * 1000},
      {"KiB", 1ULL << 10},
      {"MiB", 1ULL << 20},
      {"GiB", 1ULL << 30},
      {"TiB", 1ULL << 40},
  });
  auto [digits, unit] = split_number_unit(trim(v->text));
  auto n = parse_unsigned(digits);
  std::uint64_t scale = 0;
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) scale = factor;
  }
  if (!n || scale == 0 || *n > std::numeric_limits<std::uint64_t>::max() / scale) bad_value(k, *v, kExpected);
  return *n * scale;
}

std::string Section::choice(std::string_view key, std::string_view fallback,
                            std::initializer_list<std::string_view> allowed) const {
  std::string k = full_key(key);
  auto v = scalar(*state_, k);
  if (!v) return std::string(fallback);
  for (std::string_view a : allowed) {
    if (v->text == a) return v->text;
  }
  std::string expected = "one of ";
  bool first = true;
  for (std::string_view a : allowed) {
    if (!first) expected += ", ";
    expected += a;
    first = false;
  }
  bad_value(k, *v, expected);
}

std::vector<std::string> Section::string_list(std::string_view key) const {
  std::string k = full_key(key);
  auto v = lookup(*state_, k);
  if (!v) return {};
  if (v->kind == Entry::Kind::kList) return v->list;
  if (!v->from_env) {
    throw ConfigError("config key '" + k + "' = '" + v->text + "' (" + v->origin +
                      "): expected a list ([a, b] or one '- item' per line)");
  }
  // The environment has no lists; a comma-separated value is the usual convention.
  std::vector<std::string> out;
  std::string_view rest = trim(v->text);
  if (rest.empty()) return out;
  while (true) {
    auto comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) bad_value(k, *v, "a comma-separated list without empty items");
    out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<std::string> Section::child_keys() const {
  std::string prefix = path_.empty() ? std::string() : path_ + ".";
  std::set<std::string> names;
  std::lock_guard lock(state_->mutex);
  for (const EntryMap* m : {&state_->file, &state_->env}) {
    for (auto it = m->lower_bound(prefix); it != m->end(); ++it) {
      const std::string& key = it->first;
      if (key.compare(0, prefix.size(), prefix) != 0) break;
      auto end = key.find('.', prefix.size());
      names.insert(
          key.substr(prefix.size(), end == std::string::npos ? std::string::npos : end - prefix.size()));
    }
  }
  return {names.begin(), names.end()};
}

}  // namespace mercato::config
