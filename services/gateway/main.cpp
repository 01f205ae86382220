// The API gateway: one public entry point that routes /api/{service}/... to the services.
#include "api/docs.hpp"
#include "api/proxy.hpp"
#include "mercato/service/service.hpp"

namespace {

// gateway.services.<name>.upstream (host:port) and optional .request_timeout.
mercato::gateway::RouteTable read_routes(const mercato::config::Source& config) {
  using namespace mercato;
  gateway::RouteTable table;
  auto services = config.section("gateway.services");
  for (const auto& name : services.child_keys()) {
    auto s = services.section(name);
    auto text = s.required_string("upstream");
    auto endpoint = http::Endpoint::parse(text);
    if (!endpoint) {
      throw config::ConfigError("config key '" + s.path() + ".upstream': " + endpoint.error().message);
    }
    table.add({name, *endpoint, s.duration("request_timeout", std::chrono::seconds(5))});
  }
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mercato;
  return service::run(argc, argv, "gateway", [](service::Context& ctx) {
    auto& table = ctx.own(std::make_unique<gateway::RouteTable>(read_routes(ctx.config())));
    ctx.logger().info("routes loaded", {{"services", static_cast<std::uint64_t>(table.all().size())}});
    gateway::register_routes(ctx.router(), table, ctx.client());
    auto docs_dir = ctx.config().section("gateway").string("docs_dir", "node_modules/swagger-ui-dist");
    auto& docs = ctx.own(
        std::make_unique<std::map<std::string, gateway::StaticFile>>(gateway::load_swagger_ui(docs_dir)));
    if (docs.empty())
      ctx.logger().warn("Swagger UI not found; /docs is unavailable", {{"docs_dir", docs_dir}});
    gateway::register_docs_routes(ctx.router(), table, ctx.client(), docs);
  });
}
