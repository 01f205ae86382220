// The service catalog: every process of Mercato as its description, services/<name>/service.conf,
// says it is — compiled in, so a binary knows the routes of every service without reading a file at
// start. The build generates the table from the descriptions (lib/catalog/CMakeLists.txt); the scripts
// read the same files (scripts/services.sh). How to add a service: docs/adding-a-service.md.
//
//   const auto* user = mercato::catalog::find("user");
//   user->port;                                   // 8081, the default port
//   mercato::catalog::find_route("auth")->name;   // "user": /api/auth/... goes to the user service
//
// What follows from a name by convention, and is not repeated here: the binary
// build/services/<name>/mercato-<name>, the configuration config/<name>.yaml and the contract
// api/<name>.yaml.
//
// Thread-safety: the catalog is constant data; every function may be called from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace mercato::catalog {

enum class Kind {
  kService,  // a domain service behind the gateway
  kGateway,  // the one public entry point
};

enum class Storage {
  kNone,    // no database of its own
  kSqlite,  // a SQLite file by default (./mercato up: var/<name>/<name>.db); other engines by database.url
};

struct Service {
  std::string_view name;
  Kind kind = Kind::kService;
  std::uint16_t port = 0;  // the default port (./mercato up: MERCATO_<NAME>_PORT overrides it)
  // /api/<route>/... on the gateway goes to this service as /<route>/..., e.g. "users", "auth".
  std::span<const std::string_view> routes;
  // Exact paths outside /api/ the gateway forwards unchanged, e.g. "/.well-known/jwks.json".
  std::span<const std::string_view> paths;
  Storage storage = Storage::kNone;
  // The services it calls directly (./mercato up gives it upstreams.<other> for each).
  std::span<const std::string_view> calls;
};

// Every described process, the gateway among them, in the order of their default ports.
std::span<const Service> all();
// The process described as `name`, or nullptr.
const Service* find(std::string_view name);
// The service whose routes include `route` (the first segment after /api/), or nullptr.
const Service* find_route(std::string_view route);
// The service whose paths include exactly `path`, or nullptr.
const Service* find_path(std::string_view path);

}  // namespace mercato::catalog
