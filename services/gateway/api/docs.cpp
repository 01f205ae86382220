#include "api/docs.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace mercato::gateway {

std::map<std::string, StaticFile> load_static_files(
    const std::string& dir, std::initializer_list<std::pair<const char*, const char*>> names) {
  std::map<std::string, StaticFile> files;
  for (const auto& [name, type] : names) {
    std::ifstream in(std::filesystem::path(dir) / name, std::ios::binary);
    if (!in) continue;
    std::ostringstream body;
    body << in.rdbuf();
    files.emplace(name, StaticFile{type, body.str()});
  }
  return files;
}

std::map<std::string, StaticFile> load_swagger_ui(const std::string& dir) {
  return load_static_files(dir, {{"swagger-ui.css", "text/css"},
                                 {"swagger-ui-bundle.js", "application/javascript"},
                                 {"swagger-ui-standalone-preset.js", "application/javascript"},
                                 {"favicon-32x32.png", "image/png"}});
}

namespace {

std::string index_html(const RouteTable& table) {
  // One contract per service: the routes of one service (the user service's "users" and "auth") are
  // one entry, named after all of them in their described order, its contract fetched through the first.
  std::map<std::string, std::vector<const Upstream*>> services;
  for (const auto& [name, upstream] : table.all()) services[upstream.service].push_back(&upstream);
  std::string urls;
  for (auto& [service, routes] : services) {
    std::sort(routes.begin(), routes.end(),
              [](const auto* a, const auto* b) { return a->position < b->position; });
    std::string names;
    for (const auto* route : routes) names += (names.empty() ? "" : ", ") + route->name;
    if (!urls.empty()) urls += ",";
    // Route names are [a-z][a-z0-9-]* (app/routes_config.cpp and the descriptions' readers check it):
    // nothing to escape in this script.
    urls += "{url:'/docs/specs/" + routes.front()->name + ".json',name:'" + names + "'}";
  }
  return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Mercato API</title>"
         "<link rel=\"icon\" href=\"/docs/favicon-32x32.png\">"
         "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\"></head><body><div id=\"swagger-ui\"></div>"
         "<script src=\"/docs/swagger-ui-bundle.js\"></script>"
         "<script src=\"/docs/swagger-ui-standalone-preset.js\"></script>"
         "<script>window.ui = SwaggerUIBundle({urls:[" +
         urls +
         "],dom_id:'#swagger-ui',presets:[SwaggerUIBundle.presets.apis,SwaggerUIStandalonePreset],"
         "layout:'StandaloneLayout'});</script></body></html>";
}

boost::asio::awaitable<http::Response> fetch_spec(const RouteTable& table, http::Client& client,
                                                  const http::Request& req) {
  std::string name(req.param("file"));
  if (name.size() > 5 && name.ends_with(".json")) name.resize(name.size() - 5);
  const Upstream* upstream = table.find(name);
  if (upstream == nullptr) {
    co_return http::Response::error(Error::not_found("no service named '" + name + "'"), req.request_id);
  }
  http::ClientRequest get{.method = http::Method::kGet, .target = "/openapi.json"};
  get.headers.set(http::kRequestIdHeader, req.request_id);
  auto res = co_await client.send(upstream->endpoint, std::move(get), {.timeout = upstream->request_timeout});
  if (!res) {
    Error e = res.error();
    e.message = "service '" + name + "': " + e.message;
    co_return http::Response::error(e, req.request_id);
  }
  if (res->status != 200) {
    co_return http::Response::error(
        Error::bad_gateway("service '" + name + "' has no contract at /openapi.json (status " +
                           std::to_string(res->status) + ")"),
        req.request_id);
  }
  co_return http::Response::json_text(200, std::move(res->body));
}

}  // namespace

void register_docs_routes(http::Router& router, const RouteTable& table, http::Client& client,
                          const std::map<std::string, StaticFile>& files) {
  router.get("/docs", [&table, &files](const http::Request& req) {
    if (files.count("swagger-ui-bundle.js") == 0) {
      return http::Response::error(
          Error::not_found("Swagger UI is not installed (npm package swagger-ui-dist); run ./mercato deps"),
          req.request_id);
    }
    http::Response res;
    res.headers.set("Content-Type", "text/html; charset=utf-8");
    res.body = index_html(table);
    return res;
  });
  router.add_async(http::Method::kGet, "/docs/specs/{file}",
                   [&table, &client](const http::Request& req) { return fetch_spec(table, client, req); });
  router.get("/docs/{file}", [&files](const http::Request& req) {
    // Only the files loaded at start exist here: no path from the request ever reaches the file system.
    auto it = files.find(std::string(req.param("file")));
    if (it == files.end()) {
      return http::Response::error(Error::not_found("no such file under /docs"), req.request_id);
    }
    http::Response res;
    res.headers.set("Content-Type", it->second.content_type);
    res.headers.set("Cache-Control", "public, max-age=3600");
    res.body = it->second.body;
    return res;
  });
}

}  // namespace mercato::gateway
