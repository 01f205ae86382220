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

// GET /dashboard (docs/observability.md "Dashboard"): the gateway's live view of the system.
struct DashboardSettings {
  bool enabled = true;
  // How often every instance's /health/ready and /metrics are read while someone watches (no one: never).
  std::chrono::milliseconds refresh{1000};
  std::chrono::milliseconds probe_timeout{500};  // an instance that does not answer within it is "down"
  int history = 120;                             // chart points kept per service (refreshes)
  // A link for a trace id: "{trace_id}" in it is replaced (e.g. a trace viewer's page); "" shows the id.
  std::string trace_url;
  std::string assets_dir = "node_modules/uplot/dist";  // the chart library's files (npm package uplot)
};

struct GatewaySettings {
  RouteTable routes;        // gateway.services (routes_config.hpp)
  std::string policy_file;  // the traffic policy (README "Traffic policy"); "" = none
  // How often the policy file is checked for changes; 0: only on SIGHUP.
  std::chrono::milliseconds policy_poll{1000};
  std::string docs_dir = "node_modules/swagger-ui-dist";  // Swagger UI's files for /docs
  DashboardSettings dashboard;                            // gateway.dashboard
};

GatewaySettings read_settings(const config::Source& config);

}  // namespace mercato::gateway
