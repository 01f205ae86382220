#!/usr/bin/env bash
# The build enforces a service's layers (cmake/mercato_layers.cmake): an include against the direction
# domain ← app ← adapters/api, or of a library a layer does not link, fails the build.
#
# A throw-away CMake project uses the real cmake/mercato_layers.cmake on a tiny service (one source per
# layer) and two stand-in libraries (mercato_core, mercato_http: interface targets with one header each).
# As written it builds; then one include at a time is changed to a forbidden one and the build must fail
# with "No such file", and the allowed ones must keep building. Each step's output is shown on failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d -t mercato-layers-XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/cmake" "$work/libs/core/mercato/core" "$work/libs/http/mercato/http" \
  "$work/svc/domain" "$work/svc/app" "$work/svc/adapters" "$work/svc/api"
cp "$root/cmake/mercato_layers.cmake" "$work/cmake/"
echo 'inline int core_value() { return 1; }' >"$work/libs/core/mercato/core/core.hpp"
echo 'inline int http_value() { return 2; }' >"$work/libs/http/mercato/http/http.hpp"
cat >"$work/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(layers LANGUAGES CXX)
include(cmake/mercato_layers.cmake)
add_library(mercato_core INTERFACE)
target_include_directories(mercato_core INTERFACE libs/core)
add_library(mercato_http INTERFACE)
target_include_directories(mercato_http INTERFACE libs/http)
add_subdirectory(svc)
CMAKE
cat >"$work/svc/CMakeLists.txt" <<'CMAKE'
mercato_service_layers(svc
  DOMAIN domain/thing.cpp DOMAIN_LIBS mercato_core
  APP app/use.cpp
  ADAPTERS adapters/store.cpp
  API api/handlers.cpp API_LIBS mercato_http)
add_library(svc_all STATIC all.cpp)
target_link_libraries(svc_all PRIVATE svc_service)
CMAKE
echo 'int domain_fn();' >"$work/svc/domain/thing.hpp"
echo 'int app_fn();' >"$work/svc/app/use.hpp"
echo 'int adapters_fn();' >"$work/svc/adapters/store.hpp"
echo 'int api_fn();' >"$work/svc/api/handlers.hpp"
# What each layer may include, as written: its own headers, the layers below it, its libraries.
write_sources() {
  printf '#include "domain/thing.hpp"\n#include "mercato/core/core.hpp"\nint domain_fn() { return core_value(); }\n' \
    >"$work/svc/domain/thing.cpp"
  printf '#include "app/use.hpp"\n#include "domain/thing.hpp"\nint app_fn() { return domain_fn(); }\n' \
    >"$work/svc/app/use.cpp"
  printf '#include "adapters/store.hpp"\n#include "app/use.hpp"\nint adapters_fn() { return app_fn(); }\n' \
    >"$work/svc/adapters/store.cpp"
  printf '#include "api/handlers.hpp"\n#include "app/use.hpp"\n#include "mercato/http/http.hpp"\nint api_fn() { return app_fn() + http_value(); }\n' \
    >"$work/svc/api/handlers.cpp"
  # The wiring and the tests see everything.
  printf '#include "adapters/store.hpp"\n#include "api/handlers.hpp"\nint all_fn() { return adapters_fn() + api_fn(); }\n' \
    >"$work/svc/all.cpp"
}

fail() {
  echo "FAILED: $1" >&2
  [[ -f "$work/out.log" ]] && sed 's/^/    /' "$work/out.log" >&2
  exit 1
}
build() { cmake -S "$work" -B "$work/build" -G Ninja >"$work/out.log" 2>&1 && cmake --build "$work/build" >>"$work/out.log" 2>&1; }

write_sources
build || fail "the layered service as written should build"

# refused FILE INCLUDE WHY: adding INCLUDE to FILE must fail the build with "No such file".
refused() {
  write_sources
  sed -i "1i #include \"$2\"" "$work/svc/$1"
  if build; then fail "$1 including $2 built, but $3"; fi
  grep -q "No such file" "$work/out.log" || fail "$1 including $2 failed, but not for the missing header"
}
refused domain/thing.cpp app/use.hpp "the domain may not depend on the app"
refused domain/thing.cpp adapters/store.hpp "the domain may not depend on adapters"
refused domain/thing.cpp mercato/http/http.hpp "the domain links only mercato_core"
refused app/use.cpp api/handlers.hpp "the app may not depend on the API"
refused app/use.cpp adapters/store.hpp "the app may not depend on adapters"
refused adapters/store.cpp api/handlers.hpp "adapters may not depend on the API"
refused api/handlers.cpp adapters/store.hpp "the API may not depend on adapters"

write_sources
build || fail "the layered service as written should build again"
echo "layers: the build refused every include against the layers' direction"
