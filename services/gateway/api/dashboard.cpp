#include "api/dashboard.hpp"

#include "api/web_files.hpp"
#include "mercato/auth/principal.hpp"

namespace mercato::gateway {

namespace {

// Scripts, styles, images and calls of this origin only; no frames, no plugins, no forms posting
// elsewhere. uPlot sets styles through the DOM (element.style), which a style-src policy does not stop.
constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void secure(http::Response& res) {
  res.headers.set("Content-Security-Policy", kPolicy);
  res.headers.set("X-Content-Type-Options", "nosniff");
  res.headers.set("Referrer-Policy", "no-referrer");
  res.headers.set("X-Frame-Options", "DENY");
}

std::string_view content_type(std::string_view name) {
  // The embedded files other than the page itself: its script and its style.
  if (name.ends_with(".js")) return "application/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

const EmbeddedFile* embedded(std::string_view name) {
  for (const auto& f : embedded_files()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// A dead letter's id goes into the service's path: only characters that need no escaping there.
bool valid_letter_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string authorization(const http::Request& req) {
  return std::string(req.headers.get("Authorization").value_or(""));
}

boost::asio::awaitable<http::Response> overview(Dashboard& dashboard, const http::Request& req) {
  (void)req;
  auto res = http::Response::json_text(200, co_await dashboard.overview());
  res.headers.set("Cache-Control", "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> dead_letters(Dashboard& dashboard, const http::Request& req) {
  auto res =
      http::Response::json_text(200, co_await dashboard.dead_letters(authorization(req), req.request_id));
  res.headers.set("Cache-Control", "no-store");
  co_return res;
}

boost::asio::awaitable<http::Response> redrive(Dashboard& dashboard, const http::Request& req) {
  std::string id(req.param("id"));
  if (!valid_letter_id(id)) {
    co_return http::Response::error(Error::validation("id", "id: not a dead letter's id"), req.request_id);
  }
  co_return co_await dashboard.redrive(std::string(req.param("service")), std::move(id), authorization(req),
                                       req.request_id);
}

}  // namespace

std::map<std::string, StaticFile> load_dashboard_assets(const std::string& dir) {
  return load_static_files(dir, {{"uPlot.iife.min.js", "application/javascript; charset=utf-8"},
                                 {"uPlot.min.css", "text/css; charset=utf-8"}});
}

void register_dashboard_routes(http::Router& router, Dashboard& dashboard, const service::Identity& identity,
                               const std::map<std::string, StaticFile>& assets) {
  using auth::Role;
  router.get("/dashboard", [](const http::Request& req) {
    const auto* page = embedded("dashboard.html");
    if (page == nullptr)
      return http::Response::error(Error::internal("dashboard page not built in"), req.request_id);
    http::Response res;
    res.headers.set("Content-Type", "text/html; charset=utf-8");
    res.headers.set("Cache-Control", "no-store");
    secure(res);
    res.body = std::string(page->bytes);
    return res;
  });
  router.get("/dashboard/assets/{file}", [&assets](const http::Request& req) {
    // Only files known at start exist here: no path from the request ever reaches the file system.
    auto name = req.param("file");
    http::Response res;
    if (name != "dashboard.html") {
      if (const auto* own = embedded(name)) {
        res.headers.set("Content-Type", content_type(name));
        res.body = std::string(own->bytes);
      } else if (auto it = assets.find(std::string(name)); it != assets.end()) {
        res.headers.set("Content-Type", it->second.content_type);
        res.body = it->second.body;
      }
    }
    if (res.body.empty()) {
      std::string why =
          name.starts_with("uPlot") ? " (npm package uplot is not installed; run ./mercato deps)" : "";
      return http::Response::error(Error::not_found("no such file under /dashboard/assets" + why),
                                   req.request_id);
    }
    // The gateway's own files change with its build: revalidated, not cached for long.
    res.headers.set("Cache-Control", "no-cache");
    secure(res);
    return res;
  });
  // The handlers are coroutine functions, not coroutine lambdas: a lambda's captures would live in the
  // closure, not in the coroutine frame.
  router.add_async(http::Method::kGet, "/dashboard/api/overview",
                   service::guard_async(identity, Role::kAdmin, [&dashboard](const auto& req, const auto&) {
                     return overview(dashboard, req);
                   }));
  router.add_async(http::Method::kGet, "/dashboard/api/dead-letters",
                   service::guard_async(identity, Role::kAdmin, [&dashboard](const auto& req, const auto&) {
                     return dead_letters(dashboard, req);
                   }));
  router.add_async(http::Method::kPost, "/dashboard/api/dead-letters/{service}/{id}/redrive",
                   service::guard_async(identity, Role::kAdmin, [&dashboard](const auto& req, const auto&) {
                     return redrive(dashboard, req);
                   }));
}

}  // namespace mercato::gateway
