#include "mercato/service/monolith.hpp"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "host.hpp"
#include "mercato/service/grpc.hpp"
#include "mercato/service/memory.hpp"

extern char** environ;

namespace mercato::service {
namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

struct MonolithSettings {
  std::vector<const Module*> modules;  // in the order of the compiled-in list: set-up order matters
  std::string config_dir;
  std::size_t threads = 2;
  obs::LogLevel log_level = obs::LogLevel::kInfo;
  std::string events_url;  // every module's default: the in-process broker, durable on events.file

  static MonolithSettings read(const config::Source& source, std::span<const Module> available) {
    MonolithSettings s;
    auto root = source.root();
    auto wanted = root.string_list("modules");
    std::set<std::string, std::less<>> chosen;
    for (const auto& name : wanted) {
      auto known =
          std::find_if(available.begin(), available.end(), [&](const Module& m) { return m.name == name; });
      if (known == available.end()) {
        std::string names;
        for (const auto& m : available) names += (names.empty() ? "" : ", ") + std::string(m.name);
        throw config::ConfigError("config key 'modules': unknown module '" + name + "' (known: " + names +
                                  ")");
      }
      if (!chosen.insert(name).second)
        throw config::ConfigError("config key 'modules': '" + name + "' is listed twice");
    }
    for (const auto& m : available) {
      if (wanted.empty() || chosen.contains(m.name)) s.modules.push_back(&m);
    }
    s.config_dir = root.string("config_dir", "config");
    auto events_file = source.section("events").string("file", "");
    s.events_url = "inprocess://monolith" + (events_file.empty() ? "" : "?file=" + events_file);
    s.threads = static_cast<std::size_t>(source.section("server").integer("threads", 2, 1, 256));
    s.log_level = *obs::parse_log_level(
        source.section("log").choice("level", "info", {"debug", "info", "warn", "error"}));
    return s;
  }
};

}  // namespace

int run_monolith(int argc, char** argv, std::span<const Module> available) {
  (void)return_large_blocks_to_the_system();
  CommandLine line{.config_path = "config/monolith.yaml"};
  if (auto code = parse_command_line(
          argc, argv, "Mercato monolith: the gateway and the services in one process",
          "YAML configuration file (APP_MONOLITH__* environment variables override it)", line))
    return *code;
  const auto& [config_path, check_only] = line;

  StopSignals signals;
  MonolithSettings settings;
  std::unique_ptr<http::IoPool> io;  // declared first: destroyed after the modules that use it
  http::LocalServers local;
  rpc::LocalServers local_grpc;
  std::vector<std::unique_ptr<Instance>> modules;
  std::string current = "monolith";
  try {
    auto source = config::Source::load(config_path, environ, "APP_MONOLITH__");
    settings = MonolithSettings::read(source, available);
    source.check_all_used();
    for (const Module* m : settings.modules) {
      current = std::string(m->name);
      // No directory: every module on its built-in defaults and its environment, as a service binary
      // started without --config.
      auto file = settings.config_dir.empty() ? std::string() : settings.config_dir + "/" + current + ".yaml";
      modules.push_back(load_instance(current, file, environ, "APP_" + upper(current) + "__"));
    }
    // Servers bind with SO_REUSEPORT (one acceptor per I/O thread), so two modules on one port would both
    // bind and share its connections at random: refused here, naming both.
    std::map<std::uint16_t, std::string> owner;
    for (const auto& in : modules) {
      auto port = in->server_settings.port;
      if (port == 0) continue;
      if (auto [it, fresh] = owner.emplace(port, in->name); !fresh) {
        current = in->name;
        throw config::ConfigError("config key 'server.port': " + std::to_string(port) +
                                  " is also the port of '" + it->second + "'");
      }
    }
  } catch (const config::ConfigError& e) {
    print_startup_error(current, std::string("configuration error: ") + e.what());
    return 2;
  }
  obs::Logger logger("monolith", settings.log_level);
  io = std::make_unique<http::IoPool>(settings.threads);
  // NOLINTNEXTLINE(modernize-loop-convert): i indexes settings.modules too
  for (std::size_t i = 0; i < modules.size(); ++i) {
    auto& in = *modules[i];
    try {
      build_instance(
          in, *io,
          [m = settings.modules[i], &settings](Context& ctx) {
            ctx.set_default_events_url(settings.events_url);
            m->setup(ctx);
          },
          "monolith", &local, &local_grpc);
    } catch (const config::ConfigError& e) {
      logger.error("configuration error", {{"module", in.name}, {"error", e.what()}});
      return 2;
    } catch (const std::exception& e) {
      logger.error("start-up failed", {{"module", in.name}, {"error", e.what()}});
      return 1;
    }
  }
  if (check_only) {
    std::cout << "configuration is valid\n";
    return 0;
  }
  for (auto& in : modules) {
    try {
      listen(*in, *io);
    } catch (const std::exception& e) {
      logger.error("cannot listen", {{"module", in->name},
                                     {"host", in->server_settings.host},
                                     {"port", static_cast<std::uint64_t>(in->server_settings.port)},
                                     {"error", e.what()}});
      return 1;
    }
    // Before the pool's threads start, so no call can miss a local server (LocalServers is then read-only).
    local.add(*in->server);
    if (in->context->has_grpc_server()) local_grpc.add(in->server->port(), grpc_server(*in->context));
  }
  io->start();
  for (auto& in : modules) {
    in->logger->info("listening", {{"host", in->server_settings.host},
                                   {"port", static_cast<std::uint64_t>(in->server->port())},
                                   {"process", "monolith"}});
  }
  for (auto& in : modules) announce(*in);
  logger.info("started", {{"modules", static_cast<std::uint64_t>(modules.size())},
                          {"threads", static_cast<std::uint64_t>(settings.threads)}});

  int signal_number = signals.wait([&] {
    logger.info("reloading (SIGHUP)");
    for (auto& in : modules) in->context->reload();
  });
  logger.info("shutting down", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  std::vector<Instance*> all;
  all.reserve(modules.size());
  for (auto& in : modules) all.push_back(in.get());
  leave(all);
  drain(all, *io);
  logger.info("stopped");
  return 0;
}

}  // namespace mercato::service
