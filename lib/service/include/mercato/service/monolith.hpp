// The monolith: several services (modules) in one process, built by the same setup functions as their
// own binaries (service::Module), so the code that runs is the same in both topologies
// (docs/topologies.md, ADR 0011).
//
//   int main(int argc, char** argv) {
//     static constexpr mercato::service::Module kModules[] = {user::kModule, order::kModule, ...};
//     return mercato::service::run_monolith(argc, argv, kModules);
//   }
//
// Configuration (`--config`, default config/monolith.yaml; environment APP_MONOLITH__*):
//   modules: [user, order, gateway]  which of the compiled-in modules run here (default: all of them);
//                                    a module left out runs as its own process, reached over the network
//   config_dir: config               module M reads <config_dir>/M.yaml, overridden by APP_M__* variables
//                                    (APP_ORDER__SERVER__PORT=9082), exactly as its own binary reads
//                                    config/M.yaml and APP_*; "" reads no files (built-in defaults and
//                                    the environment only, as a binary started without --config)
//   server.threads: 2                the I/O threads every module's server and client share
//   events.file: var/monolith/events.db  the in-process broker's SQLite file: events published and not
//                                    yet handled survive a crash or a restart ("" or absent: memory only)
//   log.level: info                  the host's own messages; each module keeps its log section
// Each module keeps its port, routes, database, metrics registry and readiness: the public API and the
// ports are those of the separate processes. Calls between modules of the process are function calls
// (http::LocalServers); events go through the in-process broker `inprocess://monolith` (on events.file)
// unless a module's events.url says otherwise.
//
// Start-up is all or nothing: a bad key in any module's file stops the process, naming the module and
// the key. Shutdown on SIGTERM/SIGINT drains every module's server, then destroys the modules in reverse
// order of set-up. SIGHUP runs every module's reload hooks.
#pragma once

#include <span>

#include "mercato/service/service.hpp"

namespace mercato::service {

// Returns the process exit code, as run() does.
int run_monolith(int argc, char** argv, std::span<const Module> modules);

}  // namespace mercato::service
