# shellcheck shell=bash
# `./mercato load [--no-build] [OPTIONS]`: the load generator (tools/load, binary mercato-load) against
# the running system. Builds the mercato-load target (unless --no-build), points it at the gateway of
# the running ./mercato up (MERCATO_GATEWAY_PORT, else var/run/ports, else 8080 — as `./mercato check`
# finds its ports) and has it run `./mercato check` at the end. OPTIONS go to mercato-load: `./mercato
# load --help` lists them; the summary, the phases and the --json schema are described at the top of
# tools/load/main.cpp. The exit status is mercato-load's: 0 passed, 1 failed (checker, errors, setup),
# 2 bad options.
# Credentials: mercato-load stocks the products as the admin — MERCATO_ADMIN_TOKEN when set, else a login
# with the password ./mercato up keeps in var/secrets/admin-password (it reads MERCATO_VAR_DIR as this
# script does) — and logs its customers in itself; the checker it runs logs in the same way.

cmd_load() {
  local binary="${MERCATO_BUILD_DIR}/tools/load/mercato-load" build=1 own_gateway=0 arg port
  if [[ "${1:-}" == --no-build ]]; then
    build=0
    shift
  fi
  for arg in "$@"; do
    case "$arg" in
      -h | --help)
        [[ -x "$binary" ]] || build_project --target mercato-load >&2
        exec "$binary" --help
        ;;
      --gateway | --gateway=*) own_gateway=1 ;;
    esac
  done
  if ((build)); then
    build_project --target mercato-load >&2
  fi
  [[ -x "$binary" ]] || die "no $binary (./mercato build --target mercato-load)"

  local -a args=(--check-command "'${MERCATO_ROOT}/mercato' check")
  if ((!own_gateway)); then
    # Not probed here: mercato-load checks its options first (exit 2), then says if nothing answers.
    port="$(_check_port "$MERCATO_GATEWAY_NAME")"
    args+=(--gateway "127.0.0.1:${port}")
  fi
  exec "$binary" "${args[@]}" "$@"
}
