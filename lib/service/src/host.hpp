// What the two hosts share: run() (one service per process) and run_monolith() (several). Private to
// lib/service.
#pragma once

#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "live_config.hpp"
#include "mercato/discovery/discovery.hpp"
#include "mercato/http/client.hpp"
#include "mercato/http/local.hpp"
#include "mercato/http/server.hpp"
#include "mercato/observability/otlp.hpp"
#include "mercato/observability/tracing_settings.hpp"
#include "mercato/service/service.hpp"

namespace mercato::service {

// discovery: how a service finds the services it calls and lets others find it (config section
// `discovery`, README "Service discovery"). Static: fixed addresses from `upstreams.*`; etcd: registered
// and watched (lib/discovery).
struct DiscoverySettings {
  bool etcd = false;  // mode: static | etcd
  discovery::Settings agent;
  std::string advertise_host;  // the address others call this instance at (default: server.host)
  std::string version = "v1";
  std::string zone = "local";
  int weight = 100;
};

// One service being hosted: its configuration, the objects the host makes for it, and its server.
// Members are destroyed by drain() in the order the host needs, not by declaration order.
struct Instance {
  std::string name;
  std::unique_ptr<config::Source> source;
  http::ServerSettings server_settings;
  std::size_t threads = 1;  // server.threads: the I/O threads when the service runs alone
  obs::LogLevel log_level = obs::LogLevel::kInfo;
  http::ClientSettings client_settings;
  DiscoverySettings discovery_settings;
  obs::TracingSettings tracing;  // OTEL_* variables (tracing_settings.hpp)
  std::unique_ptr<obs::Logger> logger;
  std::unique_ptr<obs::Registry> metrics;
  // Tracing on only: the exporter (after the logger and metrics it uses, so destroyed before them) and
  // the tracer the server, client, gRPC and bus hold (before them, so destroyed after them).
  std::unique_ptr<obs::BatchSpanProcessor> span_exporter;
  std::unique_ptr<obs::Tracer> tracer;
  std::unique_ptr<http::Client> client;
  std::unique_ptr<LiveConfig> live;             // discovery.mode etcd only; outlives the agent
  std::unique_ptr<discovery::Agent> discovery;  // discovery.mode etcd only
  std::unique_ptr<Context> context;
  std::unique_ptr<http::Server> server;
};

// Reads the file and the variables of `envp` starting with `prefix`. Throws config::ConfigError.
std::unique_ptr<Instance> load_instance(std::string name, const std::string& path, char** envp,
                                        std::string_view prefix);
// Builds the service on `io` (logger, metrics, client, context, setup, standard routes) and checks that
// every configuration key was read. Throws config::ConfigError or another std::exception.
// `local`, `local_grpc`: the other modules of the process (the monolith), or nullptr.
void build_instance(Instance& in, http::IoPool& io, const std::function<void(Context&)>& setup,
                    const std::string& process_name, const http::LocalServers* local,
                    const rpc::LocalServers* local_grpc);
// Makes the server from the context's router and binds it; starts the gRPC server when the service has
// one (it takes the HTTP/2 connections of the same port). Throws when the port cannot be bound.
void listen(Instance& in, http::IoPool& io);
// With discovery.mode etcd: registers the listening instance (once its readiness checks pass).
void announce(Instance& in);
// With discovery.mode etcd: deregisters every instance, then waits the longest deregister_delay, so that
// callers stop sending before the servers stop taking work.
void leave(const std::vector<Instance*>& instances);
// Stops every server gracefully (at once, then waits for all), stops the pool, destroys the services.
void drain(const std::vector<Instance*>& instances, http::IoPool& io);

void print_startup_error(std::string_view name, std::string_view what);

// The command line both hosts take: --config FILE and --check-config.
struct CommandLine {
  std::string config_path;
  bool check_only = false;
};
// Parses argc/argv into `line` (its config_path is the default until --config says otherwise). nullopt:
// go on; a value: exit with it (0 after --help, 2 for a bad option; CLI11 has printed why).
std::optional<int> parse_command_line(int argc, char** argv, const std::string& title,
                                      const std::string& config_help, CommandLine& line);

// SIGTERM, SIGINT and SIGHUP, blocked in every thread from construction on (construct it before any
// thread starts) and awaited by the main thread.
class StopSignals {
 public:
  StopSignals();
  // Returns the stop signal; calls `on_reload` for each SIGHUP before it.
  int wait(const std::function<void()>& on_reload);

 private:
  sigset_t set_;
};

}  // namespace mercato::service
