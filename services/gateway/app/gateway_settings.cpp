#include "app/gateway_settings.hpp"

#include "app/routes_config.hpp"

namespace mercato::gateway {

GatewaySettings read_settings(const config::Source& config) {
  GatewaySettings s{.routes = read_routes(config)};
  auto section = config.section("gateway");
  s.policy_file = section.string("policy_file", s.policy_file);
  s.policy_poll = section.duration("policy_poll", s.policy_poll);
  s.docs_dir = section.string("docs_dir", s.docs_dir);
  auto dashboard = section.section("dashboard");
  auto& d = s.dashboard;
  d.enabled = dashboard.boolean("enabled", d.enabled);
  d.refresh = dashboard.duration("refresh", d.refresh);
  if (d.refresh < std::chrono::milliseconds(100))
    throw config::ConfigError(
        "gateway.dashboard.refresh: at least 100ms (each refresh reads every instance)");
  d.probe_timeout = dashboard.duration("probe_timeout", d.probe_timeout);
  if (d.probe_timeout <= std::chrono::milliseconds(0) || d.probe_timeout > d.refresh * 10)
    throw config::ConfigError("gateway.dashboard.probe_timeout: above 0 and at most ten refreshes");
  d.history = static_cast<int>(dashboard.integer("history", d.history, 2, 3600));
  d.trace_url = dashboard.string("trace_url", d.trace_url);
  if (!d.trace_url.empty() && !(d.trace_url.starts_with("http://") || d.trace_url.starts_with("https://")))
    throw config::ConfigError("gateway.dashboard.trace_url: an http:// or https:// address (or empty)");
  d.assets_dir = dashboard.string("assets_dir", d.assets_dir);
  return s;
}

}  // namespace mercato::gateway
