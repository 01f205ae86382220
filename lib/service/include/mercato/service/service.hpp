// The service host: everything a Mercato service process needs besides its own logic.
//
// `run` parses the command line (--config FILE, --check-config), loads typed settings from the YAML
// file and APP_* environment variables, builds the logger, metrics registry, I/O threads, a shared HTTP
// client and the server, adds /health/live, /health/ready and /metrics, and shuts down gracefully on
// SIGTERM or SIGINT. A service supplies only a setup function that reads its own settings, builds its
// objects and registers routes and readiness checks:
//
//   int main(int argc, char** argv) {
//     return mercato::service::run(argc, argv, "user", [](mercato::service::Context& ctx) {
//       auto& db = ctx.own(open_database(ctx.config().section("database")));
//       ctx.add_readiness_check("database", [&db] { return db.ping(); });
//       register_routes(ctx.router(), db);
//     });
//   }
//
// Unknown configuration keys and bad values stop the process before it listens, naming the key.
// Threading: setup runs on the main thread before any I/O thread starts; the objects it registers are
// used from the I/O threads afterwards and destroyed, in reverse order, after the server has stopped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mercato/config/config.hpp"
#include "mercato/core/result.hpp"
#include "mercato/http/client.hpp"
#include "mercato/http/io_pool.hpp"
#include "mercato/http/router.hpp"
#include "mercato/observability/logging.hpp"
#include "mercato/observability/metrics.hpp"
#include "mercato/observability/tracing.hpp"

namespace mercato::discovery {
class Agent;
}
namespace mercato::http {
struct ServerSettings;
}
namespace mercato::rpc {
class LocalServers;
}  // namespace mercato::rpc

namespace mercato::service {

class Identity;      // identity.hpp
class BlockingPool;  // blocking.hpp

using ReadinessCheck = std::function<Result<void>()>;
// A setting that may change while the service runs (Context::add_live_setting): validates `value` with the
// same rules as the configuration file and applies it, or answers why not (the last good value stays).
// nullopt: the live value was removed — go back to the file's.
using LiveSetting = std::function<Result<void>(const std::optional<std::string>& value)>;

// A live value read with the same typed getter a configuration file's value is read with, so it is
// checked by the same rules and refused with the same message: `read` gets the value as the section of
// its parent key ("saga" for "saga.step_timeout") and reads the last part as it would from the file.
//   auto step = live_value<std::chrono::milliseconds>("saga.step_timeout", "5s",
//       [](const config::Section& s) { return s.duration("step_timeout", {}); });
Result<config::Source> live_source(std::string_view key, std::string_view value);
template <typename T, typename Read>
Result<T> live_value(std::string_view key, std::string_view value, Read read) {
  auto source = live_source(key, value);
  if (!source) return std::move(source).error();
  auto dot = key.rfind('.');
  try {
    return T(read(source->section(dot == std::string_view::npos ? std::string_view{} : key.substr(0, dot))));
  } catch (const config::ConfigError& e) {
    return Error::validation(std::string(key), e.what());
  }
}

class Context {
 public:
  Context(std::string name, const config::Source& config, const obs::Logger& logger, obs::Registry& metrics,
          http::IoPool& io, http::Client& client, std::string process_name = {});
  ~Context();

  const std::string& name() const noexcept { return name_; }
  // The process this service runs in: its own name when it runs alone, "monolith" when it is one module
  // of the monolith (monolith.hpp). What modules of one process share is named by it, e.g. the default
  // in-process event broker (inprocess://<process_name>).
  const std::string& process_name() const noexcept { return process_name_; }
  // The broker a module's bus uses when its `events.url` is not set: the process's in-process broker,
  // inprocess://<process_name>, unless the process names another (the monolith: on its events.file).
  std::string default_events_url() const {
    return default_events_url_.empty() ? "inprocess://" + process_name_ : default_events_url_;
  }
  void set_default_events_url(std::string url) { default_events_url_ = std::move(url); }
  const config::Source& config() const noexcept { return config_; }
  const obs::Logger& logger() const noexcept { return logger_; }
  obs::Registry& metrics() noexcept { return metrics_; }
  http::IoPool& io() noexcept { return io_; }
  // A client shared by the whole service (settings from the `client` section).
  http::Client& client() noexcept { return client_; }
  http::Router& router() noexcept { return router_; }

  // The address of another service this one calls: config key `upstreams.<name>` ("host:port"),
  // e.g. APP_UPSTREAMS__USER=127.0.0.1:8081 (./mercato up sets these). Throws config::ConfigError
  // naming the key when it is missing or malformed.
  http::Endpoint upstream(std::string_view name) const;

  // The instances of another service this one calls, now and whenever they change. discovery.mode
  // static: once, at once, with `upstreams.<name>`. discovery.mode etcd: with the registered instances
  // whenever they change (on the discovery agent's thread; `on_change` must be thread-safe against the
  // I/O threads), and before etcd first answers, with `upstreams.<name>` if it is set.
  // `transport`: which of the instances' addresses (kGrpc: only instances that serve gRPC; statically the
  // same `upstreams.<name>`, since a service's port serves both).
  enum class Transport { kHttp, kGrpc };
  void watch_upstream(std::string_view name, std::function<void(std::vector<http::Endpoint>)> on_change,
                      Transport transport = Transport::kHttp);
  // The discovery agent (discovery.mode etcd), or nullptr.
  discovery::Agent* discovery() const noexcept { return discovery_; }
  void set_discovery(discovery::Agent& agent) { discovery_ = &agent; }

  // Live configuration (discovery.mode etcd; README "Live configuration"): `key` may then be set in etcd
  // under <prefix>/config/<service>/<key> (./mercato config set <service> <key> <value>) and is applied
  // through `apply` while the service runs. Every service has log.level; add others in setup.
  void add_live_setting(std::string key, LiveSetting apply) {
    live_settings_.emplace_back(std::move(key), std::move(apply));
  }
  const std::vector<std::pair<std::string, LiveSetting>>& live_settings() const { return live_settings_; }

  // gRPC (README "gRPC between services"): a service that serves or calls gRPC links
  // mercato_service_grpc and asks it for its server and channels (grpc.hpp: grpc_server(ctx),
  // grpc_channels(ctx)); that is what puts its GrpcSide here. lib/service itself does not link gRPC, so a
  // service without it does not load gRPC's libraries (about 4 MB resident; docs/benchmarks.md, 14).
  // The host starts the side's server, hands it the HTTP/2 connections of the service's own port,
  // registers the port as the instance's gRPC address and shuts it down before the I/O threads stop.
  class GrpcSide {
   public:
    virtual ~GrpcSide() = default;
    // Whether the service serves gRPC (a server was asked for).
    virtual bool serving() const noexcept = 0;
    // With the HTTP server's limits (messages, metadata, idle connections).
    virtual void start(const http::ServerSettings& limits) = 0;
    virtual void adopt(int fd) = 0;
    virtual void shutdown(std::chrono::milliseconds grace) = 0;
    // Drops the server, and with it the services it holds, before the objects they call into go.
    virtual void release_server() noexcept = 0;
  };
  GrpcSide* grpc_side() const noexcept { return grpc_.get(); }
  void set_grpc_side(std::unique_ptr<GrpcSide> side) { grpc_ = std::move(side); }
  bool has_grpc_server() const noexcept { return grpc_ != nullptr && grpc_->serving(); }
  // The other modules' gRPC servers in this process (the monolith), or nullptr.
  const rpc::LocalServers* local_grpc() const noexcept { return local_grpc_; }
  void set_local_grpc(const rpc::LocalServers* local) { local_grpc_ = local; }

  // The tracer of this service's spans (tracing.hpp), or nullptr when tracing is off (no OTLP endpoint
  // configured). Set by the host before setup runs; what setup builds (the bus, gRPC) takes it from here.
  const obs::Tracer* tracer() const noexcept { return tracer_; }
  void set_tracer(const obs::Tracer* tracer) { tracer_ = tracer; }

  // Where the service's synchronous HTTP handlers run when its storage is a network database: a pool of
  // database.connections threads (lib/storage sets it, database.offload), so a slow query or a lock
  // wait holds a pool thread, not the I/O thread and every other connection on it. The host turns each
  // synchronous route that setup added into one that runs on this pool (and /health/ready, which asks
  // the database); /health/live and /metrics stay on the I/O thread, so a saturated pool never fails a
  // liveness probe. A full pool (database.max_waiting) answers 503 with Retry-After. An asynchronous
  // route that touches storage runs that part through run_on_storage (below). nullptr: inline (SQLite).
  BlockingPool* storage_pool() const noexcept { return storage_pool_; }
  void set_storage_pool(BlockingPool& pool) { storage_pool_ = &pool; }

  // Who is calling (identity.hpp): set by attach_identity, once; nullptr before.
  Identity* identity() const noexcept { return identity_; }
  void set_identity(Identity& identity) { identity_ = &identity; }

  // Keeps `object` alive until the server has stopped; returns a reference to it.
  template <typename T>
  T& own(std::unique_ptr<T> object) {
    T& ref = *object;
    owned_.push_back(std::shared_ptr<void>(std::move(object)));
    return ref;
  }

  // /health/ready answers 503 naming every check that fails.
  void add_readiness_check(std::string name, ReadinessCheck check);
  const std::vector<std::pair<std::string, ReadinessCheck>>& readiness_checks() const { return checks_; }
  // Whether every readiness check passes now (what registration in discovery and gRPC health wait for).
  bool ready() const;

  // Called on SIGHUP (kill -HUP <pid>), on the main thread, in the order added: reload what can change
  // without a restart (the gateway's traffic policy). A hook reports its own failures (log them); the
  // service keeps running either way.
  void on_reload(std::function<void()> hook) { reload_hooks_.push_back(std::move(hook)); }
  void reload() const {
    for (const auto& hook : reload_hooks_) hook();
  }

 private:
  std::string name_;
  std::string process_name_;
  std::string default_events_url_;
  const config::Source& config_;
  const obs::Logger& logger_;
  obs::Registry& metrics_;
  http::IoPool& io_;
  http::Client& client_;
  http::Router router_;
  std::vector<std::pair<std::string, ReadinessCheck>> checks_;
  std::vector<std::function<void()>> reload_hooks_;
  std::vector<std::pair<std::string, LiveSetting>> live_settings_;
  std::vector<std::shared_ptr<void>> owned_;
  Identity* identity_ = nullptr;
  BlockingPool* storage_pool_ = nullptr;
  const obs::Tracer* tracer_ = nullptr;
  discovery::Agent* discovery_ = nullptr;
  const rpc::LocalServers* local_grpc_ = nullptr;
  std::unique_ptr<GrpcSide> grpc_;  // its server is released before owned_ goes (~Context)
};

// A service as the host runs it: its name (config/<name>.yaml, api/<name>.yaml, logs, metrics) and the
// setup function that builds it on a Context. Each service defines one in services/<name>/module.hpp;
// its own binary runs it alone (run below), the monolith runs several in one process (monolith.hpp).
struct Module {
  std::string_view name;
  void (*setup)(Context&) = nullptr;
};

// Runs the service until SIGTERM/SIGINT; returns the process exit code (0 after a clean shutdown,
// 2 for bad configuration or command line, 1 when the server cannot start).
int run(int argc, char** argv, std::string_view name, const std::function<void(Context&)>& setup);
int run(int argc, char** argv, const Module& module);

// Adds /health/live, /health/ready and /metrics to the context's router (run() does this itself;
// exposed for tests that build a server by hand).
void add_standard_routes(Context& context);
// With a storage pool (Context::storage_pool): every synchronous route added so far runs on it; nothing
// otherwise. run() calls it after setup, before add_standard_routes; exposed for tests.
void offload_sync_routes(Context& context);

}  // namespace mercato::service
