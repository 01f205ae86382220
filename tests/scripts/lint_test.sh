#!/usr/bin/env bash
# Which translation units `./mercato lint` hands to clang-tidy (scripts/lint.sh) on a throw-away
# repository: a unit changed since the merge-base with main, uncommitted or untracked; for a changed
# header, every unit including it directly or through other headers (also by a "../" path), and none
# that does not; a unit outside the compile database is never checked; --all is the whole database.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d -t mercato-lint-XXXXXX)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

mkdir -p "$work/lib/core/include/mercato/core" "$work/lib/core/src" "$work/services/user/api" \
  "$work/apps/monolith" "$work/build"
cd "$work"
echo 'inline int base() { return 1; }' >lib/core/include/mercato/core/base.hpp
printf '#include "mercato/core/base.hpp"\ninline int mid() { return base(); }\n' \
  >lib/core/include/mercato/core/mid.hpp
printf '#include "mercato/core/mid.hpp"\nint a() { return mid(); }\n' >lib/core/src/a.cpp
echo 'int b() { return 2; }' >lib/core/src/b.cpp
printf '#include "api/handlers.hpp"\nint c() { return h(); }\n' >services/user/api/handlers.cpp
echo 'inline int h() { return 3; }' >services/user/api/handlers.hpp
printf '#include "../services/user/api/handlers.hpp"\nint main() { return h(); }\n' >apps/monolith/main.cpp
echo 'int d() { return 4; }' >lib/core/src/not_in_db.cpp
{
  echo '['
  for unit in lib/core/src/a.cpp lib/core/src/b.cpp services/user/api/handlers.cpp apps/monolith/main.cpp; do
    echo "{\"directory\": \"$work/build\", \"file\": \"$work/$unit\", \"command\": \"c++ -c $work/$unit\"},"
  done
  echo '{"directory": "/", "file": "/usr/include/x.cpp", "command": "c++ -c x.cpp"}]'
} >build/compile_commands.json
echo 'build/' >.gitignore
git init -q -b main .
git -c user.name=t -c user.email=t@t add -A
git -c user.name=t -c user.email=t@t commit -q -m base
git checkout -q -b work

units() { (
  MERCATO_ROOT="$work" MERCATO_BUILD_DIR="$work/build"
  # shellcheck source=scripts/lint.sh
  source "$root/scripts/lint.sh"
  lint_tidy_units "$1" "$(git merge-base HEAD main)" | paste -sd ' ' -
); }
expect() {
  local got
  got="$(units "$1")"
  [[ "$got" == "$2" ]] || fail "$3: expected '$2', got '$got'"
}

expect 0 "" "nothing changed"
expect 1 "apps/monolith/main.cpp lib/core/src/a.cpp lib/core/src/b.cpp services/user/api/handlers.cpp" "--all"
echo '// changed' >>lib/core/src/b.cpp
expect 0 "lib/core/src/b.cpp" "an uncommitted unit"
git -c user.name=t -c user.email=t@t commit -qam "b"
expect 0 "lib/core/src/b.cpp" "a committed unit"
echo '// changed' >>lib/core/include/mercato/core/base.hpp
expect 0 "lib/core/src/a.cpp lib/core/src/b.cpp" "a header included through another"
git checkout -q lib/core/include/mercato/core/base.hpp
echo '// changed' >>services/user/api/handlers.hpp
expect 0 "apps/monolith/main.cpp lib/core/src/b.cpp services/user/api/handlers.cpp" "a header included by a ../ path"
git checkout -q services/user/api/handlers.hpp
echo 'int e() { return 5; }' >lib/core/src/new.cpp
echo '// changed' >>lib/core/src/not_in_db.cpp
expect 0 "lib/core/src/b.cpp" "units outside the compile database"
echo "lint unit selection: ok"
