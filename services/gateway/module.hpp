// The API gateway as a module: the one set-up function that both its own binary (main.cpp) and the
// monolith (apps/monolith) run, so both topologies run the same code (docs/topologies.md).
#pragma once

#include "mercato/service/service.hpp"

namespace mercato::gateway {

// Builds the gateway on `ctx`: reads its routes and traffic policy, registers the proxy and the docs.
void set_up(service::Context& ctx);

inline constexpr service::Module kModule{"gateway", &set_up};

}  // namespace mercato::gateway
