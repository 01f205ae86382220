# shellcheck shell=bash
# `./mercato build`: deps, configure once (CMake + Ninja + ccache into build/), then an incremental
# build. With CI=true the build uses -DMERCATO_WERROR=ON (an existing build/ is reconfigured if needed).
#
# Environment:
#   MERCATO_BUILD_TYPE          CMAKE_BUILD_TYPE for the first configure (default RelWithDebInfo)
#   MERCATO_CMAKE_ARGS          extra arguments for the first configure, e.g. "-DFOO=ON"
#   CMAKE_BUILD_PARALLEL_LEVEL  parallel jobs (default: Ninja's, cores + 2)

# _cmake_cache_value NAME: the value of NAME in build/CMakeCache.txt (empty when absent).
_cmake_cache_value() {
  local cache="${MERCATO_BUILD_DIR}/CMakeCache.txt"
  [[ -f "$cache" ]] || return 0
  sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n 1
}

# build_configure: configures build/ if it is not configured yet, or not completely (a configure that
# failed or was interrupted), or lacks -Werror under CI.
# ccache keys on paths relative to the checkout and ignores the build directory, so a fresh clone in
# another folder (CI, fresh-clone-check) reuses what an earlier build compiled. Debug info then names
# paths relative to the checkout (gdb: `set substitute-path` or run from the checkout).
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$MERCATO_ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

build_configure() {
  local cache="${MERCATO_BUILD_DIR}/CMakeCache.txt"
  local -a args=()
  if is_ci; then
    args+=(-DMERCATO_WERROR=ON)
  fi
  if [[ -f "$cache" ]]; then
    local generator
    generator="$(_cmake_cache_value CMAKE_GENERATOR)"
    [[ -z "$generator" || "$generator" == Ninja ]] ||
      die "build/ was configured with the '$generator' generator; remove build/ and run ./mercato build again"
    # A configure that failed (a missing package) or was interrupted leaves CMakeCache.txt without
    # build.ninja, and Ninja cannot start from that: configure again in full. CMake retries what it did
    # not find, and what it found stays cached. A cache without even its generator is a first configure
    # cut short: it is started afresh.
    if [[ -z "$generator" ]]; then
      log_info "build/CMakeCache.txt is incomplete (an interrupted configure): configuring afresh"
      rm -f "$cache"
    elif [[ ! -f "${MERCATO_BUILD_DIR}/build.ninja" ]]; then
      log_info "build/ has no build.ninja (an earlier configure failed or was interrupted): configuring again"
    else
      if is_ci && [[ "$(_cmake_cache_value MERCATO_WERROR)" != ON ]]; then
        log_info "reconfiguring build/ with -DMERCATO_WERROR=ON (CI)"
        cmake -S "$MERCATO_ROOT" -B "$MERCATO_BUILD_DIR" "${args[@]}"
      fi
      return 0
    fi
  fi
  local -a extra=()
  if [[ -n "${MERCATO_CMAKE_ARGS:-}" ]]; then
    read -r -a extra <<<"$MERCATO_CMAKE_ARGS"
  fi
  log_info "configuring build/ (${MERCATO_BUILD_TYPE:-RelWithDebInfo}${args[*]:+, ${args[*]}})"
  cmake -S "$MERCATO_ROOT" -B "$MERCATO_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE="${MERCATO_BUILD_TYPE:-RelWithDebInfo}" "${args[@]}" "${extra[@]}"
}

# build_project [CMAKE_BUILD_ARGS...]: deps + configure + incremental build.
build_project() {
  deps_ensure core
  deps_npm
  build_configure
  log_info "building (cmake --build build${*:+ $*})"
  cmake --build "$MERCATO_BUILD_DIR" "$@"
}

cmd_build() {
  case "${1:-}" in
    -h | --help)
      echo "usage: ./mercato build [ARGS for cmake --build, e.g. --target mercato-user]"
      return 0
      ;;
  esac
  build_project "$@"
}
