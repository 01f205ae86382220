#include "mercato/catalog/catalog.hpp"

#include <algorithm>
#include <array>

namespace mercato::catalog {
namespace {

// kServices, generated from services/*/service.conf at configure time. It lives in this one translation
// unit (not in the header) so that editing a description recompiles this file and relinks, nothing more.
#include "services.inc"

bool contains(std::span<const std::string_view> list, std::string_view wanted) {
  return std::find(list.begin(), list.end(), wanted) != list.end();
}

}  // namespace

std::span<const Service> all() { return kServices; }

const Service* find(std::string_view name) {
  for (const auto& s : kServices)
    if (s.name == name) return &s;
  return nullptr;
}

const Service* find_route(std::string_view route) {
  for (const auto& s : kServices)
    if (contains(s.routes, route)) return &s;
  return nullptr;
}

const Service* find_path(std::string_view path) {
  for (const auto& s : kServices)
    if (contains(s.paths, path)) return &s;
  return nullptr;
}

}  // namespace mercato::catalog
