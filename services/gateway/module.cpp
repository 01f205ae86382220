// The API gateway: one public entry point that routes /api/{service}/... to the services.
#include "module.hpp"

#include <set>

#include "api/dashboard.hpp"
#include "api/docs.hpp"
#include "api/proxy.hpp"
#include "app/dashboard.hpp"
#include "app/gateway_settings.hpp"
#include "app/policy_loader.hpp"
#include "mercato/discovery/discovery.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::gateway {

void set_up(service::Context& ctx) {
  auto settings = gateway::read_settings(ctx.config());
  auto& table = ctx.own(std::make_unique<gateway::RouteTable>(std::move(settings.routes)));
  ctx.logger().info("routes loaded", {{"services", static_cast<std::uint64_t>(table.all().size())}});
  // The traffic policy (config/gateway-policy.yaml): reloaded on SIGHUP and when the file changes.
  auto& policy = ctx.own(std::make_unique<gateway::PolicyLoader>(settings.policy_file, table, ctx.client(),
                                                                 ctx.metrics(), ctx.logger()));
  // With discovery (discovery.mode etcd), each service's registered instances replace its configured
  // address, and version-labelled subsets select among them.
  if (auto* agent = ctx.discovery(); agent != nullptr) {
    auto& members = ctx.own(std::make_unique<gateway::Membership>());
    policy.follow(members);
    std::set<std::string> services;
    for (const auto& [_, route] : table.all()) services.insert(route.service);
    for (const auto& service : services) {
      agent->watch(service,
                   [&members, &table, &policy, service](const std::vector<discovery::Instance>& all) {
                     std::vector<gateway::Member> list;
                     list.reserve(all.size());
                     for (const auto& i : all) list.push_back({i.http, i.version});
                     for (const auto& [name, route] : table.all()) {
                       if (route.service == service) members.update(name, list, policy.holder().current());
                     }
                   });
    }
  }
  // Live configuration: the whole traffic policy under the key `policy` (./mercato config set gateway
  // policy).
  ctx.add_live_setting("policy",
                       [&policy](const std::optional<std::string>& text) { return policy.apply_live(text); });
  policy.watch(settings.policy_poll);
  ctx.on_reload([&policy] { (void)policy.reload(); });
  // Tokens are verified with the keys of the service that serves /.well-known/jwks.json (the user
  // service), unless auth.jwks_file names a file.
  std::optional<http::Endpoint> issuer;
  if (const auto* users = table.find_path("/.well-known/jwks.json")) issuer = users->endpoint;
  auto& identity = service::attach_identity(ctx, issuer);
  auto& entry = ctx.own(std::make_unique<gateway::Entry>(gateway::Entry{table, policy.holder(), identity}));
  gateway::register_routes(ctx.router(), entry);
  auto& docs = ctx.own(std::make_unique<std::map<std::string, gateway::StaticFile>>(
      gateway::load_swagger_ui(settings.docs_dir)));
  if (docs.empty())
    ctx.logger().warn("Swagger UI not found; /docs is unavailable", {{"docs_dir", settings.docs_dir}});
  gateway::register_docs_routes(ctx.router(), table, ctx.client(), docs);
  // The operators' live page (docs/observability.md "Dashboard").
  if (settings.dashboard.enabled) {
    auto& dashboard =
        ctx.own(std::make_unique<gateway::Dashboard>(settings.dashboard, table, policy.holder(), ctx.client(),
                                                     ctx.metrics(), [&ctx] { return ctx.ready(); }));
    auto& assets = ctx.own(std::make_unique<std::map<std::string, gateway::StaticFile>>(
        gateway::load_dashboard_assets(settings.dashboard.assets_dir)));
    if (assets.empty())
      ctx.logger().warn("uPlot not found; the dashboard shows no charts",
                        {{"assets_dir", settings.dashboard.assets_dir}});
    gateway::register_dashboard_routes(ctx.router(), dashboard, identity, assets);
  }
}

}  // namespace mercato::gateway
