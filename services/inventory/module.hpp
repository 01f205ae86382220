// The inventory service as a module: the one set-up function that both its own binary (main.cpp) and the
// monolith (apps/monolith) run, so both topologies run the same code (docs/topologies.md).
#pragma once

#include "mercato/service/service.hpp"

namespace mercato::inventory {

// Builds the inventory service on `ctx`: reads its settings, opens its storage, registers its routes and
// consumers.
void set_up(service::Context& ctx);

inline constexpr service::Module kModule{"inventory", &set_up};

}  // namespace mercato::inventory
