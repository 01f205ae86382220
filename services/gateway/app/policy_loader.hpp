// Keeps the gateway's traffic policy current: reads the policy file (YAML, domain/policy.hpp), and on
// SIGHUP or when the file changes (its modification time or size, checked every `poll`) reads it again.
// A policy that cannot be read or fails validation is refused with a log line naming the problem, and
// the one in force stays. The same thread lifts outlier ejections every outlier-detection interval.
//
// Metrics: mercato_gateway_policy_reloads_total{result="applied"|"rejected"}.
//
// Thread-safety: reload() may be called from any thread (serialised inside); the watcher (a
// core::Periodic) is stopped by the destructor.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "app/membership.hpp"
#include "app/traffic.hpp"
#include "mercato/core/periodic.hpp"

namespace mercato::gateway {

// The policy a policy file's text says (YAML, the format of domain/policy.hpp; `label` names the file
// in messages): kMalformedRequest when the text is not YAML, kValidationFailed naming the key when the
// policy is not valid. Empty text is the default policy. What PolicyLoader::load() runs on the file's
// content, and what fuzz/gateway_policy_fuzz.cpp runs on arbitrary text. A pure function.
Result<Policy> parse_policy_yaml(std::string_view text, const RouteTable& routes,
                                 const std::string& label = "<policy>");

class PolicyLoader {
 public:
  // `path` empty: no policy file, the default policy (domain/policy.hpp) and nothing to watch.
  PolicyLoader(std::string path, const RouteTable& routes, http::Client& client, obs::Registry& metrics,
               const obs::Logger& logger);
  ~PolicyLoader();
  PolicyLoader(const PolicyLoader&) = delete;
  PolicyLoader& operator=(const PolicyLoader&) = delete;

  // The policy as the file says now: kValidationFailed naming the key, or the reason the file cannot
  // be read or parsed.
  Result<std::shared_ptr<const Traffic>> load() const;
  // Loads and swaps the policy in; otherwise logs why and keeps the one in force.
  Result<void> reload();
  // Starts the watcher thread (file changes every `poll`, 0 = never; outlier ejections lifted). Once.
  void watch(std::chrono::milliseconds poll);

  // The live policy (live configuration key `policy` in etcd, the YAML of a policy file): validated and
  // swapped in like a file, and then in force over the file until removed (nullopt: back to the file).
  Result<void> apply_live(const std::optional<std::string>& text);

  PolicyHolder& holder() { return *holder_; }
  // Service discovery's instances, applied to each policy loaded from now on (and to the one in force).
  // Set once, before watch(); `membership` must outlive this loader.
  void follow(const Membership& membership);

 private:
  struct Stamp {
    std::filesystem::file_time_type modified{};
    std::uintmax_t size = 0;
    bool exists = false;
    friend bool operator==(const Stamp&, const Stamp&) = default;
  };
  Stamp stamp() const;
  // Swaps `next` in (with the discovered instances) or logs why not; `source` names it in the log.
  // Called with reload_mutex_ held.
  Result<void> swap_in(Result<std::shared_ptr<const Traffic>> next, const std::string& source);
  void record(const char* result);
  // How long the watcher waits between turns, and one turn.
  std::chrono::milliseconds tick(std::chrono::milliseconds poll) const;
  void check(std::chrono::milliseconds poll);

  std::string path_;
  const RouteTable& routes_;
  http::Client& client_;
  obs::Registry& metrics_;
  const obs::Logger& logger_;
  std::unique_ptr<PolicyHolder> holder_;
  std::atomic<const Membership*> membership_{nullptr};
  std::mutex reload_mutex_;
  Stamp loaded_;                         // guarded by reload_mutex_
  std::optional<std::string> override_;  // the live policy in force; guarded by reload_mutex_
  std::chrono::steady_clock::time_point next_outliers_{};  // the watcher thread's own
  std::optional<core::Periodic> watcher_;                  // last: stopped before the members it uses go
};

}  // namespace mercato::gateway
