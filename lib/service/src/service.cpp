#include "mercato/service/service.hpp"

#include <pthread.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/object.hpp>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <thread>

#include "host.hpp"
#include "mercato/config/yaml_json.hpp"
#include "mercato/etcd/etcd.hpp"
#include "mercato/http/server.hpp"
#include "mercato/service/blocking.hpp"
#include "mercato/service/memory.hpp"

extern char** environ;

namespace mercato::service {

Context::Context(std::string name, const config::Source& config, const obs::Logger& logger,
                 obs::Registry& metrics, http::IoPool& io, http::Client& client, std::string process_name)
    : name_(std::move(name)),
      process_name_(process_name.empty() ? name_ : std::move(process_name)),
      config_(config),
      logger_(logger),
      metrics_(metrics),
      io_(io),
      client_(client) {}

Context::~Context() {
  if (grpc_) grpc_->release_server();  // it holds the owned gRPC services
  // Destroy owned objects in reverse order of creation: later objects may use earlier ones.
  while (!owned_.empty()) owned_.pop_back();
}

void Context::watch_upstream(std::string_view name,
                             std::function<void(std::vector<http::Endpoint>)> on_change,
                             Transport transport) {
  auto configured = config_.section("upstreams").optional_string(name);
  std::vector<http::Endpoint> fixed;
  if (configured) {
    auto endpoint = http::Endpoint::parse(*configured);
    if (!endpoint) {
      throw config::ConfigError("config key 'upstreams." + std::string(name) +
                                "': " + endpoint.error().message);
    }
    fixed.push_back(std::move(*endpoint));
  }
  if (discovery_ == nullptr) {
    if (!configured) (void)upstream(name);  // throws, naming the missing key
    on_change(std::move(fixed));
    return;
  }
  // Until etcd has answered, the configured address (if any) serves; then what is registered.
  if (configured) on_change(fixed);
  discovery_->watch(std::string(name), [on_change = std::move(on_change),
                                        transport](const std::vector<discovery::Instance>& all) {
    on_change(transport == Transport::kGrpc ? discovery::grpc_endpoints(all)
                                            : discovery::http_endpoints(all));
  });
}

http::Endpoint Context::upstream(std::string_view name) const {
  auto section = config_.section("upstreams");
  auto text = section.required_string(name);
  auto endpoint = http::Endpoint::parse(text);
  if (!endpoint) {
    throw config::ConfigError("config key 'upstreams." + std::string(name) +
                              "': " + endpoint.error().message);
  }
  return *endpoint;
}

Result<config::Source> live_source(std::string_view key, std::string_view value) {
  // As the environment variable that would set it: saga.step_timeout → APP_SAGA__STEP_TIMEOUT.
  std::string variable = "APP_";
  for (char c : key) {
    if (c == '.') {
      variable += "__";
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      variable += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    } else {
      return Error::validation(std::string(key), "is not a setting name");
    }
  }
  try {
    return config::Source::from_strings("", {{variable, std::string(value)}});
  } catch (const config::ConfigError& e) {
    return Error::validation(std::string(key), e.what());
  }
}

bool Context::ready() const {
  return std::all_of(checks_.begin(), checks_.end(), [](const auto& check) { return bool(check.second()); });
}

void Context::add_readiness_check(std::string name, ReadinessCheck check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

Error storage_saturated() {
  static const std::string kMessage =
      "the service's storage is saturated (database.max_waiting calls in progress) or could not commit; "
      "nothing of this call was kept, retry shortly";
  return Error::unavailable(kMessage).with_public_message(kMessage);
}

http::Response storage_busy(const http::Request& req) {
  auto res = http::Response::error(storage_saturated(), req.request_id);
  res.headers.set("Retry-After", "1");
  return res;
}

namespace {

// A synchronous handler run on the storage pool (Context::storage_pool), with the request's span as the
// pool thread's ambient context, as the server gives a synchronous route on the I/O thread. The handler
// is shared: the coroutine frame holds it, whatever becomes of the route's function object.
boost::asio::awaitable<http::Response> offloaded(BlockingPool* pool, const obs::Tracer* tracer,
                                                 std::shared_ptr<const http::SyncHandler> handler,
                                                 const http::Request& req) {
  auto out = co_await pool->run([&] {
    obs::ContextScope scope(tracer, req.trace);
    return (*handler)(req);
  });
  if (!out) co_return storage_busy(req);
  co_return std::move(*out);
}

http::AsyncHandler on_storage_pool(Context& ctx, http::SyncHandler handler) {
  return [pool = ctx.storage_pool(), tracer = ctx.tracer(),
          shared = std::make_shared<const http::SyncHandler>(std::move(handler))](const http::Request& req) {
    return offloaded(pool, tracer, shared, req);
  };
}

}  // namespace

void offload_sync_routes(Context& ctx) {
  if (ctx.storage_pool() == nullptr) return;
  ctx.router().wrap_sync([&ctx](http::SyncHandler h) { return on_storage_pool(ctx, std::move(h)); });
}

void add_standard_routes(Context& ctx) {
  auto& router = ctx.router();
  // Always on the I/O thread: a liveness probe must not wait behind a saturated storage pool.
  router.get("/health/live",
             [](const http::Request&) { return http::Response::json_text(200, R"({"status":"live"})"); });
  http::SyncHandler ready = [&ctx](const http::Request& req) {
    boost::json::object checks;
    std::string failing;
    for (const auto& [name, check] : ctx.readiness_checks()) {
      auto result = check();
      if (result) {
        checks[name] = "ok";
      } else {
        checks[name] = result.error().message;
        if (!failing.empty()) failing += "; ";
        failing += name + ": " + result.error().message;
      }
    }
    // Degraded is not unready: without etcd the service keeps serving with what it last knew.
    if (auto* agent = ctx.discovery(); agent != nullptr) {
      auto status = agent->status();
      checks["discovery"] = status.etcd_reachable ? (status.registered ? "ok" : "registering")
                                                  : "degraded: etcd unreachable (" + status.last_error + ")";
    }
    if (failing.empty()) {
      boost::json::object body{{"status", "ready"}, {"checks", std::move(checks)}};
      return http::Response::json(200, body);
    }
    boost::json::object detail{{"status", "not_ready"}, {"checks", std::move(checks)}};
    // Operators read this, through the service's own port (the gateway routes only /api/...).
    return http::Response::error_verbatim(Error::unavailable("not ready: " + failing), req.request_id,
                                          detail);
  };
  // The checks ask the database: on the storage pool when there is one.
  if (ctx.storage_pool() != nullptr)
    router.add_async(http::Method::kGet, "/health/ready", on_storage_pool(ctx, std::move(ready)));
  else
    router.get("/health/ready", std::move(ready));
  router.get("/metrics", [&ctx](const http::Request&) {
    http::Response res;
    res.status = 200;
    res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    res.body = ctx.metrics().render();
    return res;
  });
}

namespace {

// GET /openapi.json: the service's contract, converted once at start from api/<name>.yaml (or the file
// named by `service.openapi`). Without the key, a missing default file just means no such route (the
// gateway has no contract of its own); a file that was named explicitly must exist.
void add_openapi_route(Context& ctx, const config::Source& source) {
  auto configured = source.section("service").optional_string("openapi");
  std::string path = configured.value_or("api/" + ctx.name() + ".yaml");
  if (!configured && !std::filesystem::exists(path)) return;
  auto body = std::make_shared<std::string>(config::yaml_file_to_json(path));
  ctx.router().get("/openapi.json",
                   [body](const http::Request&) { return http::Response::json_text(200, *body); });
}

struct CommonSettings {
  http::ServerSettings server;
  std::size_t threads = 1;
  obs::LogLevel log_level = obs::LogLevel::kInfo;
  http::ClientSettings client;

  static CommonSettings read(const config::Source& source) {
    CommonSettings s;
    auto server = source.section("server");
    s.server.host = server.string("host", "127.0.0.1");
    s.server.port = server.port("port", 0);
    s.threads = static_cast<std::size_t>(server.integer("threads", 1, 1, 256));
    s.server.max_body_bytes = server.bytes("max_body_bytes", std::uint64_t{1024} * 1024);
    s.server.max_header_bytes = server.bytes("max_header_bytes", std::uint64_t{16} * 1024);
    s.server.request_timeout = server.duration("request_timeout", std::chrono::seconds(10));
    s.server.idle_timeout = server.duration("idle_timeout", std::chrono::seconds(60));
    s.server.shutdown_grace = server.duration("shutdown_grace", std::chrono::seconds(10));
    auto log = source.section("log");
    s.log_level = *obs::parse_log_level(log.choice("level", "info", {"debug", "info", "warn", "error"}));
    s.server.access_log = log.boolean("access", false);
    auto client = source.section("client");
    s.client.connect_timeout = client.duration("connect_timeout", std::chrono::seconds(1));
    s.client.request_timeout = client.duration("request_timeout", std::chrono::seconds(5));
    s.client.max_idle_per_endpoint =
        static_cast<std::size_t>(client.integer("max_idle_per_endpoint", 64, 0, 100000));
    s.discovery = read_discovery(source.section("discovery"), s.server.host);
    return s;
  }

  DiscoverySettings discovery;

  // Every key is read whatever the mode, so that a key set for etcd is not refused as unknown in static.
  static DiscoverySettings read_discovery(const config::Section& section, const std::string& server_host) {
    DiscoverySettings d;
    d.etcd = section.choice("mode", "static", {"static", "etcd"}) == "etcd";
    auto endpoints = etcd::parse_endpoints(section.string("etcd", "127.0.0.1:2379"));
    if (!endpoints)
      throw config::ConfigError("config key '" + section.path() + ".etcd': " + endpoints.error().message);
    d.agent.etcd = std::move(*endpoints);
    d.agent.prefix = section.string("prefix", "/mercato");
    d.agent.ttl =
        std::chrono::duration_cast<std::chrono::seconds>(section.duration("ttl", std::chrono::seconds(10)));
    d.agent.deregister_delay = section.duration("deregister_delay", std::chrono::seconds(1));
    if (auto valid = discovery::validate(d.agent); !valid) {
      throw config::ConfigError("config key '" + section.path() + "." + valid.error().field +
                                "': " + valid.error().message);
    }
    // A server listening on every address is called at loopback unless told otherwise.
    auto host = server_host == "0.0.0.0" || server_host == "::" ? std::string("127.0.0.1") : server_host;
    d.advertise_host = section.string("advertise_host", host);
    d.version = section.string("version", "v1");
    d.zone = section.string("zone", "local");
    d.weight = static_cast<int>(section.integer("weight", 100, 0, 1000));
    return d;
  }
};

}  // namespace

void print_startup_error(std::string_view name, std::string_view what) {
  // Before the logger exists the message still goes out as one JSON-ish line a human can read.
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(name.size()), name.data(),
               static_cast<int>(what.size()), what.data());
}

// ---------------------------------------------------------------------------------------------------
// What run() and run_monolith() share (host.hpp).

std::unique_ptr<Instance> load_instance(std::string name, const std::string& path, char** envp,
                                        std::string_view prefix) {
  auto in = std::make_unique<Instance>();
  in->name = std::move(name);
  in->source = std::make_unique<config::Source>(config::Source::load(path, envp, prefix));
  auto common = CommonSettings::read(*in->source);
  in->server_settings = common.server;
  in->threads = common.threads;
  in->log_level = common.log_level;
  in->client_settings = common.client;
  in->discovery_settings = common.discovery;
  // The standard OTEL_* variables, from the same environment as the APP_* ones; refused at start when bad.
  std::vector<std::pair<std::string, std::string>> otel;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (entry.starts_with("OTEL_") && eq != std::string_view::npos)
      otel.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  auto tracing = obs::read_tracing_settings(obs::env_of(std::move(otel)), in->name);
  if (!tracing) throw config::ConfigError(tracing.error().message);
  in->tracing = std::move(*tracing);
  return in;
}

namespace {
void watch_live_config(Instance& in);
}

void build_instance(Instance& in, http::IoPool& io, const std::function<void(Context&)>& setup,
                    const std::string& process_name, const http::LocalServers* local,
                    const rpc::LocalServers* local_grpc) {
  in.logger = std::make_unique<obs::Logger>(in.name, in.log_level);
  in.metrics = std::make_unique<obs::Registry>();
  in.metrics->register_process_metrics();
  if (in.tracing.enabled()) {
    in.span_exporter = std::make_unique<obs::BatchSpanProcessor>(
        in.tracing, obs::make_http_sender(*in.tracing.endpoint), *in.metrics, in.logger.get());
    in.tracer = std::make_unique<obs::Tracer>(in.tracing.sampler, in.span_exporter.get());
  }
  in.client = std::make_unique<http::Client>(io, in.client_settings, in.tracer.get());
  in.client->route_locally(local);
  in.context =
      std::make_unique<Context>(in.name, *in.source, *in.logger, *in.metrics, io, *in.client, process_name);
  in.context->set_local_grpc(local_grpc);
  in.context->set_tracer(in.tracer.get());
  if (in.discovery_settings.etcd) {
    in.discovery = std::make_unique<discovery::Agent>(in.discovery_settings.agent, *in.logger, *in.metrics);
    in.context->set_discovery(*in.discovery);
  }
  setup(*in.context);
  // A network database's round trips off the I/O thread (Context::storage_pool): every synchronous route
  // setup added; the standard routes below decide for themselves.
  offload_sync_routes(*in.context);
  if (in.discovery) watch_live_config(in);
  add_standard_routes(*in.context);
  add_openapi_route(*in.context, *in.source);
  in.source->check_all_used();
}

void listen(Instance& in, http::IoPool& io) {
  in.server = std::make_unique<http::Server>(io, in.server_settings, std::move(in.context->router()),
                                             *in.logger, *in.metrics, in.tracer.get());
  if (in.context->has_grpc_server()) {
    auto* grpc = in.context->grpc_side();
    grpc->start(in.server_settings);
    in.server->on_http2([grpc](int fd) { grpc->adopt(fd); });
  }
  in.server->start();
}

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGHUP);  // not a stop: reload (Context::on_reload)
  // Blocked in every thread (threads inherit the mask); the main thread waits for them in wait().
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int StopSignals::wait(const std::function<void()>& on_reload) {
  int signal_number = 0;
  for (;;) {
    sigwait(&set_, &signal_number);
    if (signal_number != SIGHUP) return signal_number;
    on_reload();
  }
}

namespace {

// Live configuration: log.level for every service, then the service's own live settings; the values in
// etcd are watched and applied (live_config.hpp), and GET /config/live says what became of them.
void watch_live_config(Instance& in) {
  in.live = std::make_unique<LiveConfig>(*in.logger, *in.metrics);
  in.live->add(
      "log.level", [logger = in.logger.get(), file = in.log_level](const std::optional<std::string>& v) {
        if (!v) {
          logger->set_min_level(file);
          return Result<void>{};
        }
        auto level = obs::parse_log_level(*v);
        if (!level || (*v != "debug" && *v != "info" && *v != "warn" && *v != "error"))
          return Result<void>(Error::validation("log.level", "must be one of debug, info, warn, error"));
        logger->set_min_level(*level);
        return Result<void>{};
      });
  for (const auto& [key, apply] : in.context->live_settings()) in.live->add(key, apply);
  auto* live = in.live.get();
  in.context->router().get("/config/live", [live](const http::Request&) {
    return http::Response::json(200, live->status_json());
  });
  in.discovery->watch_config(in.name,
                             [live](const std::map<std::string, std::string>& keys) { live->update(keys); });
}

}  // namespace

void announce(Instance& in) {
  if (!in.discovery) return;
  const auto& d = in.discovery_settings;
  auto port = in.server->port();
  discovery::Instance self{.service = in.name,
                           .id = discovery::new_instance_id(in.name, port),
                           .http = {d.advertise_host, port},
                           .grpc = in.context->has_grpc_server()
                                       ? std::optional<http::Endpoint>(http::Endpoint{d.advertise_host, port})
                                       : std::nullopt,
                           .version = d.version,
                           .zone = d.zone,
                           .weight = d.weight};
  const Context* ctx = in.context.get();
  in.discovery->register_instance(std::move(self), [ctx] { return ctx->ready(); });
}

void leave(const std::vector<Instance*>& instances) {
  std::chrono::milliseconds delay{0};
  for (auto* in : instances) {
    if (!in->discovery) continue;
    in->discovery->deregister(std::chrono::seconds(2));
    delay = std::max(delay, in->discovery_settings.agent.deregister_delay);
  }
  if (delay.count() == 0) return;
  // Still serving: callers that have not yet seen the instance leave keep getting answers.
  instances.front()->logger->info("deregistered; draining after the deregister delay",
                                  {{"delay_ms", static_cast<std::uint64_t>(delay.count())}});
  std::this_thread::sleep_for(delay);
}

void drain(const std::vector<Instance*>& instances, http::IoPool& io) {
  // gRPC first, while the I/O threads its handlers run on still run: it waits for calls under way.
  for (auto* in : instances) {
    if (in->context && in->context->has_grpc_server())
      in->context->grpc_side()->shutdown(in->server_settings.shutdown_grace);
  }
  std::vector<std::promise<void>> drained(instances.size());
  for (std::size_t i = 0; i < instances.size(); ++i) {
    if (instances[i]->server)
      instances[i]->server->shutdown([&drained, i] { drained[i].set_value(); });
    else
      drained[i].set_value();
  }
  for (auto& d : drained) d.get_future().wait();
  io.stop();
  io.join();
  // Discovery's thread calls into owned objects (upstreams): it stops first.
  for (auto* in : instances) in->discovery.reset();
  // Owned objects first (they may use the server's router and the client), in reverse order of set-up.
  std::for_each(instances.rbegin(), instances.rend(), [](Instance* in) { in->context.reset(); });
  std::for_each(instances.rbegin(), instances.rend(), [](Instance* in) {
    in->server.reset();
    in->client.reset();
    // The last spans (the shutdown's own requests, the relay's last round) go out before the process ends.
    if (in->span_exporter) in->span_exporter->shutdown();
  });
}

std::optional<int> parse_command_line(int argc, char** argv, const std::string& title,
                                      const std::string& config_help, CommandLine& line) {
  CLI::App app{title};
  app.add_option("--config", line.config_path, config_help);
  app.add_flag("--check-config", line.check_only, "Validate the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

int run(int argc, char** argv, const Module& module) { return run(argc, argv, module.name, module.setup); }

int run(int argc, char** argv, std::string_view name, const std::function<void(Context&)>& setup) {
  (void)return_large_blocks_to_the_system();
  CommandLine line;
  if (auto code =
          parse_command_line(argc, argv, "Mercato " + std::string(name) + " service",
                             "YAML configuration file (APP_* environment variables override it)", line))
    return *code;
  const auto& [config_path, check_only] = line;

  StopSignals signals;
  std::unique_ptr<http::IoPool> io;  // declared first: destroyed after the instance that uses it
  std::unique_ptr<Instance> in;
  try {
    in = load_instance(std::string(name), config_path, environ, "APP_");
  } catch (const config::ConfigError& e) {
    print_startup_error(name, std::string("configuration error: ") + e.what());
    return 2;
  }
  io = std::make_unique<http::IoPool>(in->threads);
  try {
    build_instance(*in, *io, setup, in->name, nullptr, nullptr);
  } catch (const config::ConfigError& e) {
    in->logger->error("configuration error", {{"error", e.what()}});
    return 2;
  } catch (const std::exception& e) {
    in->logger->error("start-up failed", {{"error", e.what()}});
    return 1;
  }
  const obs::Logger& logger = *in->logger;
  if (check_only) {
    std::cout << "configuration is valid\n";
    return 0;
  }
  try {
    listen(*in, *io);
  } catch (const std::exception& e) {
    logger.error("cannot listen", {{"host", in->server_settings.host},
                                   {"port", static_cast<std::uint64_t>(in->server_settings.port)},
                                   {"error", e.what()}});
    return 1;
  }
  io->start();
  logger.info("listening", {{"host", in->server_settings.host},
                            {"port", static_cast<std::uint64_t>(in->server->port())},
                            {"threads", static_cast<std::uint64_t>(in->threads)}});
  announce(*in);

  int signal_number = signals.wait([&] {
    logger.info("reloading (SIGHUP)");
    in->context->reload();
  });
  logger.info("shutting down", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  leave({in.get()});
  drain({in.get()}, *io);
  logger.info("stopped");
  return 0;
}

}  // namespace mercato::service
