# shellcheck shell=bash
# `./mercato lint`: bash -n and shellcheck on the shell scripts, and clang-format --dry-run on the C++
# sources (lib/, services/, tests/, bench/, tools/, fuzz/). Exits non-zero on any finding. Installs the [dev] packages.

lint_shell_files() {
  echo "${MERCATO_ROOT}/mercato"
  echo "${MERCATO_ROOT}/.ci/run"
  find "${MERCATO_ROOT}/scripts" "${MERCATO_ROOT}/bench" -name '*.sh' -type f 2>/dev/null | sort
}

cmd_lint() {
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
    'lib/*.cpp' 'lib/*.hpp' 'services/*.cpp' 'services/*.hpp' 'tests/*.cpp' 'tests/*.hpp' \
    'bench/*.cpp' 'bench/*.hpp' 'tools/*.cpp' 'tools/*.hpp' 'fuzz/*.cpp')
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
  ((failed == 0)) || die "lint found problems"
  log_info "lint clean"
}
