# shellcheck shell=bash
# `./mercato test [CTEST_ARGS...]`: deps, build (-DMERCATO_WERROR=ON when CI=true), start the servers
# the tests need, then `ctest --test-dir build --output-on-failure -j2 --timeout 300`. Exits non-zero
# on any failure, and when no test was found (so a broken test registration cannot pass silently).
# MERCATO_TEST_JOBS overrides -j2. Extra arguments go to ctest, e.g. `./mercato test -R Circuit`.

TEST_SERVER_PIDS=()

# start_test_servers: HOOK for servers that tests need (PostgreSQL, Redis, NATS, etcd, ...). None yet.
# Start each with test_server_spawn (so it is stopped by PID when the run ends, pass or fail), wait until
# it accepts connections, and export its address for the tests to read. For example:
#
#   local port; port="$(free_port)"
#   test_server_spawn "${MERCATO_VAR_DIR}/test/redis.log" \
#     redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no
#   wait_port "$port" 20 || die "redis-server did not start (see var/test/redis.log)"
#   export MERCATO_TEST_REDIS_URL="redis://127.0.0.1:${port}"
#
# Add the server's Debian package to [core] in scripts/packages.txt.
start_test_servers() {
  :
}

# test_server_spawn LOGFILE COMMAND...: runs COMMAND in the background, output to LOGFILE.
test_server_spawn() {
  local log="$1"
  shift
  mkdir -p "$(dirname "$log")"
  log_note "starting test server: $*"
  "${PROC_LAUNCHER[@]}" "$@" >>"$log" 2>&1 </dev/null &
  TEST_SERVER_PIDS+=("$!")
}

# wait_port PORT TIMEOUT_SECONDS: waits until something accepts connections on 127.0.0.1:PORT.
wait_port() {
  local deadline
  deadline=$(($(now_ms) + $2 * 1000))
  until port_in_use "$1"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

test_servers_stop() {
  if ((${#TEST_SERVER_PIDS[@]})); then
    proc_stop 10 "${TEST_SERVER_PIDS[@]}"
    TEST_SERVER_PIDS=()
  fi
}

cmd_test() {
  case "${1:-}" in
    -h | --help)
      echo "usage: ./mercato test [ARGS for ctest, e.g. -R CircuitBreaker]"
      return 0
      ;;
  esac
  build_project
  trap test_servers_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_test_servers
  log_info "ctest --test-dir build --output-on-failure -j${MERCATO_TEST_JOBS:-2} --timeout 300 --no-tests=error${*:+ $*}"
  ctest --test-dir "$MERCATO_BUILD_DIR" --output-on-failure -j"${MERCATO_TEST_JOBS:-2}" --timeout 300 \
    --no-tests=error "$@"
}
