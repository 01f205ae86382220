// The gateway's routing table, from two sources that each say one thing: *what* a service serves comes
// from its description (services/<name>/service.conf, compiled into lib/catalog: its routes and
// well-known paths), *where* it runs comes from configuration (gateway.services.<name>.upstream, which
// ./mercato up sets per running service). A described service with no address is not routed: its
// routes answer 404 like any unknown one, so a gateway started with some services serves just those.
//
//   gateway:
//     services:
//       user:                        # /api/users/..., /api/auth/..., /.well-known/jwks.json
//         upstream: 127.0.0.1:8081
//         request_timeout: 5s        # optional, 5s by default
//       echo:                        # no description: an upstream of its own (tests, benchmarks)
//         upstream: 127.0.0.1:9000   # names its routes
//         routes: [echo]
//
//   auto table = gateway::read_routes(ctx.config());   // throws config::ConfigError naming the key
//
// Thread-safety: a pure function of its arguments; runs at start-up.
#pragma once

#include <span>

#include "domain/routes.hpp"
#include "mercato/catalog/catalog.hpp"
#include "mercato/config/config.hpp"

namespace mercato::gateway {

// Reads gateway.services.<name> for each configured name: `upstream` (host:port, required),
// `request_timeout` (default 5 s), and `routes` only for a name that `catalog` does not describe (a
// described service's routes are its description's). Throws config::ConfigError naming the key for a
// bad address, a routes list where the description gives them or none where it does not, a route
// name that is not [a-z][a-z0-9-]*, a route another upstream serves, and a name that is a described
// route rather than a service ("users" for "user": the message names the key to set instead).
RouteTable read_routes(const config::Source& config,
                       std::span<const catalog::Service> catalog = catalog::all());

}  // namespace mercato::gateway
