# shellcheck shell=bash
# `./mercato lint [--all] [--base REF] [-j N]`: bash -n and shellcheck on the shell scripts,
# clang-format --dry-run on the C++ sources (lib/, services/, apps/, tests/, bench/, tools/, fuzz/), and
# clang-tidy (the repository's .clang-tidy) on C++ translation units of build/compile_commands.json.
# Exits non-zero on any finding; clang-tidy's findings are listed once each (a header's finding is seen
# by every unit that includes it), sorted by file, then counted by check. Installs the [dev] packages.
#
# Which translation units clang-tidy checks: a unit costs about 13 s of CPU (the Beast/Asio headers),
# the whole tree (about 270 units) about an hour of CPU, so by default only
#   - the units changed since the merge-base with REF (default main), committed or not, untracked too;
#   - and, for a changed header, every unit that includes it, directly or through other headers (found
#     by the #include "..." lines of our sources, matched against the header's path).
# --all checks every unit of ours in the compile database (never a system header; headers only under
# lib/ services/ apps/ tools/ bench/ tests/ fuzz/, not the build's generated ones). A service's own
# headers reached through its layer views (build/services/<svc>/layers/<layer>/, cmake/mercato_layers.cmake)
# are checked too and reported under services/<svc>/.
# -j N (default: nproc) units run in parallel, each under nice -n 10. build/compile_commands.json is
# written by the build; when it is missing, lint runs ./mercato build first.
#
# Timing (2 cores): a change to one .cpp, 15-35 s of clang-tidy (measured 22-33 s on a busy machine);
# --all, about an hour of CPU: 30 minutes with both cores free, over an hour beside other builds.

lint_shell_files() {
  echo "${MERCATO_ROOT}/mercato"
  echo "${MERCATO_ROOT}/.ci/run"
  find "${MERCATO_ROOT}/scripts" "${MERCATO_ROOT}/bench" -name '*.sh' -type f 2>/dev/null | sort
}

# The top-level folders of our C++ (the clang-tidy header filter and the include search use them too).
_lint_cpp_dirs=(lib services apps tests bench tools fuzz)

# lint_compile_db_units: our translation units in build/compile_commands.json, relative to the root.
lint_compile_db_units() {
  local dirs
  dirs="$(
    IFS='|'
    echo "${_lint_cpp_dirs[*]}"
  )"
  jq -r '.[].file' "${MERCATO_BUILD_DIR}/compile_commands.json" |
    sed "s|^${MERCATO_ROOT}/||" | grep -E "^(${dirs})/" | sort -u
}

# lint_changed_files BASE: the files that differ from BASE (the working tree against it, so
# uncommitted changes count) plus untracked ones; deleted files are left out.
lint_changed_files() {
  local base="$1" file
  {
    git -C "$MERCATO_ROOT" diff --name-only "$base" --
    git -C "$MERCATO_ROOT" ls-files -o --exclude-standard
  } | sort -u | while IFS= read -r file; do
    [[ -f "${MERCATO_ROOT}/${file}" ]] && echo "$file"
  done
}

# lint_units_including CHANGED_FILE...: the sources of ours that include one of the given files,
# directly or through other headers, and the given files themselves. An `#include "a/b.hpp"` counts
# as including every file whose path ends in /a/b.hpp (a name shared by two folders costs a few extra
# units, never a missed one).
lint_units_including() {
  local -a sources
  mapfile -t sources < <(cd "$MERCATO_ROOT" && git ls-files -co --exclude-standard -- \
    "${_lint_cpp_dirs[@]/%//*.cpp}" "${_lint_cpp_dirs[@]/%//*.hpp}" \
    "${_lint_cpp_dirs[@]/%//*.ipp}" "${_lint_cpp_dirs[@]/%//*.inc}")
  ((${#sources[@]})) || return 0
  # "file<TAB>included name" for every quoted include, then the closure in awk.
  (
    cd "$MERCATO_ROOT" || exit 1
    grep -HE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "${sources[@]}" || true
  ) | sed -E 's/^([^:]*):[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)".*/\1\t\2/; s#\t(\.\.?/)+#\t#' |
    awk -F'\t' -v changed="$*" '
      BEGIN { n = split(changed, c, " "); for (i = 1; i <= n; i++) hit[c[i]] = 1 }
      { from[NR] = $1; name[NR] = $2 }
      END {
        do {
          grew = 0
          for (r = 1; r <= NR; r++) {
            if (from[r] in hit) continue
            for (h in hit) {
              len = length(name[r])
              if (h == name[r] || (length(h) > len && substr(h, length(h) - len) == "/" name[r])) {
                hit[from[r]] = 1; grew = 1; break
              }
            }
          }
        } while (grew)
        for (h in hit) print h
      }' | sort -u
}

# lint_tidy_units ALL BASE: the translation units clang-tidy checks (relative paths), one a line.
lint_tidy_units() {
  local all="$1" base="$2"
  if [[ "$all" == 1 ]]; then
    lint_compile_db_units
    return 0
  fi
  local -a changed
  mapfile -t changed < <(lint_changed_files "$base" | grep -E '\.(cpp|hpp|ipp|inc)$' || true)
  ((${#changed[@]})) || return 0
  comm -12 <(lint_compile_db_units) <(lint_units_including "${changed[@]}")
}

# lint_tidy_run JOBS UNIT...: clang-tidy on each unit, JOBS at a time; prints the findings (deduplicated)
# and returns non-zero when there are any or a unit could not be checked.
lint_tidy_run() {
  local jobs="$1"
  shift
  local dirs out
  dirs="$(
    IFS='|'
    echo "${_lint_cpp_dirs[*]}"
  )"
  out="$(mktemp -d -t mercato-tidy-XXXXXX)"
  local started
  started="$(now_ms)"
  # Each unit writes its output to its own file, and its exit status beside it.
  # shellcheck disable=SC2016  # the script's variables are its own, expanded by the inner bash
  printf '%s\0' "$@" | xargs -0 -P "$jobs" -I{} bash -c '
    root="$1" build="$2" out="$3" filter="$4" unit="$5"
    log="${out}/$(printf %s "$unit" | tr / _)"
    begin=$SECONDS
    nice -n 10 clang-tidy-14 -p "$build" --quiet --header-filter="$filter" "${root}/${unit}" \
      >"${log}.out" 2>&1
    echo $? >"${log}.rc"
    printf "    %-70s %3ds\n" "$unit" $((SECONDS - begin)) >&2
  ' _ "$MERCATO_ROOT" "$MERCATO_BUILD_DIR" "$out" \
    "^${MERCATO_ROOT}/(${dirs})/|^${MERCATO_BUILD_DIR}/services/[^/]+/layers/" {}
  log_note "clang-tidy: $# unit(s) in $((($(now_ms) - started) / 1000)) s"
  local failed=0 rc_file
  local -a broken=()
  for rc_file in "$out"/*.rc; do
    [[ "$(cat "$rc_file")" == 0 ]] && continue
    # A unit with findings only still exits 0; non-zero means it did not compile (or clang-tidy failed).
    broken+=("$(basename "$rc_file" .rc)")
  done
  local findings
  findings="$(cat "$out"/*.out |
    grep -E '^/[^:]+:[0-9]+:[0-9]+: (warning|error): .*\[[^]]+\]$' |
    sed -E "s|^${MERCATO_BUILD_DIR}/services/([^/]+)/layers/[^/]+/|${MERCATO_ROOT}/services/\1/|" |
    sed "s|^${MERCATO_ROOT}/||" | sort -t: -k1,1 -k2,2n -k3,3n -u || true)"
  if [[ -n "$findings" ]]; then
    log_error "clang-tidy: $(wc -l <<<"$findings") finding(s):"
    printf '%s\n' "$findings" >&2
    log_note "by check:"
    sed -E 's/.*\[([^]]+)\]$/\1/' <<<"$findings" | tr ',' '\n' | sort | uniq -c | sort -rn |
      while read -r count check; do log_note "$(printf '%5d  %s' "$count" "$check")"; done
    failed=1
  fi
  if ((${#broken[@]})); then
    log_error "clang-tidy could not check ${#broken[@]} unit(s) (their output follows):"
    local unit
    for unit in "${broken[@]}"; do
      echo "--- ${unit}" >&2
      grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' \
        "${out}/${unit}.out" | head -n 30 >&2 || true
    done
    failed=1
  fi
  rm -rf "$out"
  return "$failed"
}

cmd_lint() {
  local all=0 base=main jobs
  jobs="$(nproc)"
  while (($#)); do
    case "$1" in
      --all) all=1 ;;
      --base)
        base="${2:?--base needs a REF}"
        shift
        ;;
      -j)
        jobs="${2:?-j needs a number}"
        shift
        ;;
      -j*) jobs="${1#-j}" ;;
      -h | --help)
        echo "usage: ./mercato lint [--all] [--base REF] [-j N]   (see scripts/lint.sh)"
        return 0
        ;;
      *) die "lint: unknown argument $1 (see ./mercato lint --help)" ;;
    esac
    shift
  done
  deps_ensure dev
  local failed=0 file
  local -a shell_files cpp_files
  mapfile -t shell_files < <(lint_shell_files)
  log_info "bash -n + shellcheck: ${#shell_files[@]} scripts"
  for file in "${shell_files[@]}"; do
    bash -n "$file" || failed=1
  done
  (cd "$MERCATO_ROOT" && shellcheck -x "${shell_files[@]}") || failed=1
  mapfile -t cpp_files < <(cd "$MERCATO_ROOT" && git ls-files -co --exclude-standard -- \
    "${_lint_cpp_dirs[@]/%//*.cpp}" "${_lint_cpp_dirs[@]/%//*.hpp}")
  if ((${#cpp_files[@]})); then
    log_info "clang-format --dry-run: ${#cpp_files[@]} files"
    local -a unformatted=()
    for file in "${cpp_files[@]}"; do
      clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
    done
    if ((${#unformatted[@]})); then
      log_error "${#unformatted[@]} file(s) differ from .clang-format (fix: clang-format -i FILE...):"
      printf '    %s\n' "${unformatted[@]}" >&2
      failed=1
    fi
  fi

  if [[ ! -f "${MERCATO_BUILD_DIR}/compile_commands.json" ]]; then
    log_info "no build/compile_commands.json yet: building first"
    build_project
  fi
  if [[ "$all" == 0 ]] && ! base="$(git -C "$MERCATO_ROOT" merge-base HEAD "$base" 2>/dev/null)"; then
    log_warn "no merge-base with ${base}: clang-tidy checks the whole tree"
    all=1
  fi
  local -a units
  mapfile -t units < <(lint_tidy_units "$all" "$base")
  if ((${#units[@]} == 0)); then
    log_info "clang-tidy: no translation unit changed since ${base:0:12} (--all checks every one)"
  else
    log_info "clang-tidy: ${#units[@]} translation unit(s)$([[ "$all" == 1 ]] && echo ", the whole tree" ||
      echo " changed since ${base:0:12} or including a changed header"), ${jobs} at a time"
    lint_tidy_run "$jobs" "${units[@]}" || failed=1
  fi
  ((failed == 0)) || die "lint found problems"
  log_info "lint clean"
}
