#!/usr/bin/env bash
# `./mercato build` recovers by itself from a configure that failed or was interrupted.
#
# A throw-away checkout holds the real ./mercato and scripts/ beside a tiny CMake project whose configure
# fails while a file named `missing-package` exists (as a find_package of a package not installed does).
# The test configures with the file present (must fail, leaving CMakeCache.txt and no build.ninja, the
# state a new user was stuck in), removes it and builds again (must succeed), then deletes build.ninja
# as an interrupted configure would and builds again (must succeed). Each step's output is shown on
# failure. No Debian packages are touched (MERCATO_SKIP_DEPS=1).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d -t mercato-build-recovery-XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$root/mercato" "$work/"
cp -r "$root/scripts" "$work/"
cat >"$work/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(recovery LANGUAGES NONE)
if(EXISTS ${CMAKE_SOURCE_DIR}/missing-package)
  message(FATAL_ERROR "a required package is missing")
endif()
add_custom_target(hello ALL COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/built)
CMAKE
export MERCATO_SKIP_DEPS=1 CI=false
unset MERCATO_CMAKE_ARGS

fail() {
  echo "FAILED: $1" >&2
  [[ -f "$work/out.log" ]] && sed 's/^/    /' "$work/out.log" >&2
  exit 1
}
build() { (cd "$work" && ./mercato build) >"$work/out.log" 2>&1; }

touch "$work/missing-package"
if build; then fail "the configure should have failed while the package is missing"; fi
[[ -f "$work/build/CMakeCache.txt" ]] || fail "the failed configure left no CMakeCache.txt (test setup)"
[[ ! -f "$work/build/build.ninja" ]] || fail "the failed configure left a build.ninja (test setup)"

rm "$work/missing-package"
build || fail "after a failed configure, ./mercato build did not recover"
[[ -f "$work/build/built" ]] || fail "the build after the recovered configure did not run"
echo "ok: recovered from a failed configure"

rm -f "$work/build/build.ninja" "$work/build/built"
build || fail "after an interrupted configure (no build.ninja), ./mercato build did not recover"
[[ -f "$work/build/built" ]] || fail "the build after the interrupted configure did not run"
echo "ok: recovered from an interrupted configure"

sed -i '/^CMAKE_GENERATOR:/d' "$work/build/CMakeCache.txt"
rm -f "$work/build/build.ninja" "$work/build/built"
build || fail "with a cache cut short before its generator, ./mercato build did not recover"
[[ -f "$work/build/built" ]] || fail "the build after the fresh configure did not run"
echo "ok: recovered from a cache without its generator"
