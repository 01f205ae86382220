// GET /dashboard: the operators' live page (docs/observability.md "Dashboard").
//
//   GET  /dashboard                                        the page (no data in it: anyone may load it)
//   GET  /dashboard/assets/{file}                          its script and style, and the chart library's
//                                                          files (npm package uplot), from memory
//   GET  /dashboard/api/overview                           admin: services, instances, health, rates,
//                                                          circuits (app/dashboard.hpp)
//   GET  /dashboard/api/dead-letters                       admin: every service's dead letters
//   POST /dashboard/api/dead-letters/{service}/{id}/redrive  admin: hand one back to its handler
//
// The page signs in through the public API (POST /api/auth/login) and keeps the token in the tab's
// sessionStorage; it sends it as a bearer token, never as a cookie, so no other site can make a signed-in
// request on the operator's behalf. Orders and their saga timelines come from the order service's own
// API through the gateway (/api/orders, /api/orders/{id}/saga, /api/orders/{id}/events). The page and
// its files are sent with a Content-Security-Policy that allows scripts and styles of this origin only.
//
// Thread-safety: read-only after construction.
#pragma once

#include <map>
#include <string>

#include "api/docs.hpp"
#include "app/dashboard.hpp"
#include "mercato/http/router.hpp"
#include "mercato/service/identity.hpp"

namespace mercato::gateway {

// The chart library's files found in `dir` (empty when the package is not installed).
std::map<std::string, StaticFile> load_dashboard_assets(const std::string& dir);

void register_dashboard_routes(http::Router& router, Dashboard& dashboard, const service::Identity& identity,
                               const std::map<std::string, StaticFile>& assets);

}  // namespace mercato::gateway
