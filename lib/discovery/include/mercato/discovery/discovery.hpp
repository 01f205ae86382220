// Service discovery on etcd: each instance registers itself under a lease it keeps alive, and callers
// watch the instances of the services they call. The article's Consul registry, on etcd.
//
//   discovery::Agent agent(settings, logger, metrics);                  // one per service (module)
//   agent.watch("user", [&](const std::vector<Instance>& all) {           // on the agent's thread
//     upstream.set_instances(http_endpoints(all));
//   });
//   agent.register_instance(self, ready);                                // once listening
//   ...
//   agent.deregister(std::chrono::seconds(2));                           // SIGTERM: leave first,
//   std::this_thread::sleep_for(settings.deregister_delay);             // let callers see it, then drain
//
// Keys: <prefix>/services/<service>/<instance id> → {"http":"host:port","grpc":"host:port",
// "version":"v1","zone":"local","weight":100}, attached to a lease of `ttl`, refreshed every ttl/3. A
// crashed instance's key disappears when its lease expires; a lease lost while etcd was away is
// granted anew and the key written again.
//
// etcd down: watchers keep the last instances they saw and retry with backoff; a watch resumes from
// the last revision it saw, so no change made meanwhile is missed (if etcd has compacted that revision
// away, the service's instances are read anew). status() says what is degraded, for /health/ready.
//
// Metrics: mercato_discovery_instances{service} (what a watcher currently sees),
// mercato_discovery_registered (1 while this instance's key is in etcd), mercato_discovery_errors_total{op}.
//
// Thread-safety: the Agent's methods may be called from any thread; callbacks run on its own thread,
// one at a time, so what they update must be safe to read from other threads.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/core/result.hpp"
#include "mercato/http/client.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"

namespace mercato::discovery {

struct Instance {
  std::string service;
  std::string id;
  http::Endpoint http;
  std::optional<http::Endpoint> grpc;
  std::string version = "v1";
  std::string zone = "local";
  int weight = 100;

  friend bool operator==(const Instance&, const Instance&) = default;
};

// The registered value (JSON) of an instance, and back; decode refuses what it cannot use, naming why.
std::string encode(const Instance& instance);
Result<Instance> decode(std::string service, std::string id, std::string_view value);
std::vector<http::Endpoint> http_endpoints(const std::vector<Instance>& instances);
// The gRPC addresses of those instances that serve gRPC.
std::vector<http::Endpoint> grpc_endpoints(const std::vector<Instance>& instances);

struct Settings {
  std::vector<http::Endpoint> etcd;  // at least one
  std::string prefix = "/mercato";   // keys under <prefix>/services/
  std::chrono::seconds ttl{10};      // of the registration's lease
  // After deregistering on SIGTERM, how long to keep serving before draining: callers need this long to
  // see the instance leave (their watches deliver in milliseconds; this covers a slow one).
  std::chrono::milliseconds deregister_delay{1000};
  std::chrono::milliseconds retry_min{100};  // backoff after an etcd failure, doubling up to retry_max
  std::chrono::milliseconds retry_max{3000};
  std::chrono::milliseconds call_timeout{2000};  // each etcd call
};

// Checks the values (ttl within 2 s..1 h, delays non-negative, a prefix that starts with '/').
Result<void> validate(const Settings& settings);

class Agent {
 public:
  Agent(Settings settings, const obs::Logger& logger, obs::Registry& metrics);
  ~Agent();  // stops the agent's thread; does not deregister (a crash does not either)
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Keeps `self` registered until deregister() or destruction; first once `ready()` is true (polled every
  // 100 ms on the agent's thread; it must be thread-safe).
  void register_instance(Instance self, std::function<bool()> ready = {});
  // Removes this instance's key now (revokes its lease); waits at most `timeout`. Safe to call twice.
  void deregister(std::chrono::milliseconds timeout);

  // Calls `on_change` with every instance of `service` once they are first read, then after each change.
  void watch(std::string service, std::function<void(const std::vector<Instance>&)> on_change);

  // Live configuration (the article's Consul KV watch): calls `on_change` with every key under
  // <prefix>/config/<service>/ (relative to it: "log.level", "policy") and its value, once read and after
  // each change, on the agent's thread. Validating and applying is the caller's (service::Context).
  void watch_config(const std::string& service,
                    std::function<void(const std::map<std::string, std::string>&)> on_change);

  struct Status {
    bool etcd_reachable = true;  // the last etcd call succeeded
    bool registered = false;
    std::string last_error;  // empty when none since the last success
  };
  Status status() const;
  const Settings& settings() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A new instance id: "<service>-<port>-<8 hex digits>" (unique across restarts on one port).
std::string new_instance_id(std::string_view service, std::uint16_t port);

}  // namespace mercato::discovery
