// API documentation at the gateway: GET /docs is a Swagger UI page listing every routed service's
// contract; GET /docs/specs/{service}.json fetches that service's /openapi.json; the UI's own files
// (from the swagger-ui-dist npm package, which ./mercato deps installs) are read once at start and
// served from memory under /docs/.
//
// Thread-safety: read-only after construction.
#pragma once

#include <initializer_list>
#include <map>
#include <string>

#include "domain/routes.hpp"
#include "mercato/http/client.hpp"
#include "mercato/http/router.hpp"

namespace mercato::gateway {

struct StaticFile {
  std::string content_type;
  std::string body;
};

// The files `names` (base name, content type) found in `dir`, read once; a file that is missing is left
// out (the npm package behind `dir` is not installed). What /docs and /dashboard serve from npm.
std::map<std::string, StaticFile> load_static_files(
    const std::string& dir, std::initializer_list<std::pair<const char*, const char*>> names);

// The Swagger UI files found in `dir` (empty when the package is not installed).
std::map<std::string, StaticFile> load_swagger_ui(const std::string& dir);

void register_docs_routes(http::Router& router, const RouteTable& table, http::Client& client,
                          const std::map<std::string, StaticFile>& files);

}  // namespace mercato::gateway
