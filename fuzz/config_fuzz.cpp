// Fuzz target: the config loader (lib/config) — YAML text plus APP_* environment overrides.
//
// Input: the YAML file's text, then optionally a NUL byte and NUL-separated environment entries
// "NAME=value" (at most 8; "APP_" is put in front of a name that lacks it, so most entries count).
// Every key the loaded source has is read with every getter, each top-level section is read as an
// upstream's settings (lib/resilience) as the services do, and check_all_used runs last.
//
// Expected: ConfigError (the documented start-up failure, printed by main) or success. Any other
// exception escaping, a crash or a sanitizer report is a finding.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "mercato/config/config.hpp"
#include "mercato/resilience/upstream.hpp"

namespace {

using namespace mercato;

template <typename F>
void expect_config_error_only(F&& f) {
  try {
    f();
  } catch (const config::ConfigError&) {
    // the documented failure
  }
}

void read_all(const config::Section& section, int depth) {
  if (depth > 8) return;
  for (const auto& key : section.child_keys()) {
    expect_config_error_only([&] { read_all(section.section(key), depth + 1); });
    expect_config_error_only([&] { (void)section.string(key, ""); });
    expect_config_error_only([&] { (void)section.optional_string(key); });
    expect_config_error_only([&] { (void)section.integer(key, 0, -1000000, 1000000); });
    expect_config_error_only([&] { (void)section.port(key, 8080); });
    expect_config_error_only([&] { (void)section.boolean(key, false); });
    expect_config_error_only([&] { (void)section.number(key, 0.0, -1e9, 1e9); });
    expect_config_error_only([&] { (void)section.duration(key, std::chrono::seconds(1)); });
    expect_config_error_only([&] { (void)section.bytes(key, 1024); });
    expect_config_error_only([&] { (void)section.string_list(key); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto nul = input.find('\0');
  std::string_view yaml = input.substr(0, nul);
  std::map<std::string, std::string> env;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty() && env.size() < 8) {
      auto end = rest.find('\0');
      std::string_view entry = rest.substr(0, end);
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
      auto eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      std::string name(entry.substr(0, eq));
      if (name.rfind("APP_", 0) != 0) name = "APP_" + name;
      env[name] = std::string(entry.substr(eq + 1));
    }
  }
  expect_config_error_only([&] {
    auto source = config::Source::from_strings(yaml, env);
    auto root = source.root();
    for (const auto& key : root.child_keys()) {
      expect_config_error_only([&] { (void)resilience::read_upstream_settings(root.section(key), key); });
    }
    read_all(root, 0);
    source.check_all_used();
  });
  return 0;
}
