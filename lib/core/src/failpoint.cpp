#include "mercato/core/failpoint.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace mercato {
namespace {

const std::string& armed() {
  static const std::string kList = [] {
    const char* v = std::getenv("MERCATO_FAILPOINTS");
    return v ? "," + std::string(v) + "," : std::string();
  }();
  return kList;
}

}  // namespace

void failpoint(std::string_view name) noexcept {
  const auto& list = armed();
  if (list.empty()) return;
  if (list.find("," + std::string(name) + ",") != std::string::npos) std::raise(SIGKILL);
}

void failpoint(std::string_view name, std::string_view qualifier) noexcept {
  const auto& list = armed();
  if (list.empty()) return;
  failpoint(name);
  if (list.find("," + std::string(name) + ":" + std::string(qualifier) + ",") != std::string::npos)
    std::raise(SIGKILL);
}

}  // namespace mercato
