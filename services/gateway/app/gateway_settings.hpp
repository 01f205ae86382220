// The gateway's settings, typed: its routes (routes_config.hpp) and the rest of the `gateway` section of
// config/gateway.yaml, read and checked once at start-up.
//
//   auto settings = gateway::read_settings(ctx.config());   // throws config::ConfigError naming the key
//
// Thread-safety: plain values; read_settings runs at start-up.
#pragma once

#include <chrono>
#include <string>

#include "domain/routes.hpp"
#include "mercato/config/config.hpp"

namespace mercato::gateway {

struct GatewaySettings {
  RouteTable routes;        // gateway.services (routes_config.hpp)
  std::string policy_file;  // the traffic policy (README "Traffic policy"); "" = none
  // How often the policy file is checked for changes; 0: only on SIGHUP.
  std::chrono::milliseconds policy_poll{1000};
  std::string docs_dir = "node_modules/swagger-ui-dist";  // Swagger UI's files for /docs
};

GatewaySettings read_settings(const config::Source& config);

}  // namespace mercato::gateway
