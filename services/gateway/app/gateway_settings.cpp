#include "app/gateway_settings.hpp"

#include "app/routes_config.hpp"

namespace mercato::gateway {

GatewaySettings read_settings(const config::Source& config) {
  GatewaySettings s{.routes = read_routes(config)};
  auto section = config.section("gateway");
  s.policy_file = section.string("policy_file", s.policy_file);
  s.policy_poll = section.duration("policy_poll", s.policy_poll);
  s.docs_dir = section.string("docs_dir", s.docs_dir);
  return s;
}

}  // namespace mercato::gateway
