// The dashboard's own page, script and style (services/gateway/web/), compiled into the gateway by
// cmake/embed_files.cmake: the binary always serves the page it was built with, wherever it runs (a
// container image included), with no directory to configure.
#pragma once

#include <span>
#include <string_view>

namespace mercato::gateway {

struct EmbeddedFile {
  std::string_view name;  // the file's base name, e.g. "dashboard.js"
  std::string_view bytes;
};

std::span<const EmbeddedFile> embedded_files();

}  // namespace mercato::gateway
