# shellcheck shell=bash
# `./mercato test [CTEST_ARGS...]`: deps, build (-DMERCATO_WERROR=ON when CI=true), start the servers
# the tests need, then `ctest --test-dir build --output-on-failure -j2 --timeout 60`. Exits non-zero
# on any failure, and when no test was found (so a broken test registration cannot pass silently).
# MERCATO_TEST_JOBS overrides -j2. Extra arguments go to ctest, e.g. `./mercato test -R Circuit`.

TEST_SERVER_PIDS=()

TEST_SERVER_DIRS=()

# start_test_servers: the real servers the integration tests run against, each on a free loopback port
# with its data in a temporary directory, stopped by PID and removed when the run ends. Their addresses
# are exported as MERCATO_TEST_<NAME>_URL; MERCATO_REQUIRE_BACKENDS=1 makes a test fail rather than skip
# when its server is missing.
start_test_servers() {
  export MERCATO_REQUIRE_BACKENDS=1
  start_test_postgres
  start_test_redis
  start_test_nats
  start_test_etcd
}

# start_test_postgres: a throw-away PostgreSQL cluster (trust auth on 127.0.0.1 only, fsync off: test
# data need not survive a crash). PostgreSQL refuses to run as root, so as root it runs as the
# `postgres` system user the Debian package creates.
start_test_postgres() {
  local bindir dir port log
  bindir="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  [[ -x "$bindir/postgres" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (package postgresql)"
  dir="$(mktemp -d /tmp/mercato-test-pg-XXXXXX)"
  TEST_SERVER_DIRS+=("$dir")
  log="${MERCATO_VAR_DIR}/test/postgres.log"
  mkdir -p "$(dirname "$log")"
  local -a as_user=()
  if ((EUID == 0)); then
    chown postgres:postgres "$dir"
    as_user=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  "${as_user[@]}" "$bindir/initdb" -D "$dir/data" -U mercato -A trust -E UTF8 --locale=C --no-sync >"$log" 2>&1 ||
    die "initdb failed (see ${log#"$MERCATO_ROOT"/})"
  port="$(free_port)"
  test_server_spawn "$log" "${as_user[@]}" "$bindir/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200
  local deadline=$(($(now_ms) + 30000))
  until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    (($(now_ms) < deadline)) || die "PostgreSQL did not start (see ${log#"$MERCATO_ROOT"/})"
    sleep 0.1
  done
  export MERCATO_TEST_POSTGRES_URL="postgresql://mercato@127.0.0.1:${port}/postgres"
  log_info "PostgreSQL for tests on 127.0.0.1:${port}"
}

# start_test_redis: a throw-away Redis on 127.0.0.1 only, nothing persisted (no RDB snapshots, no AOF);
# its working directory is a temporary one so nothing is written anywhere else.
start_test_redis() {
  local dir port log
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found (package redis-server)"
  command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found (package redis-tools)"
  dir="$(mktemp -d /tmp/mercato-test-redis-XXXXXX)"
  TEST_SERVER_DIRS+=("$dir")
  log="${MERCATO_VAR_DIR}/test/redis.log"
  mkdir -p "$(dirname "$log")"
  : >"$log"
  port="$(free_port)"
  test_server_spawn "$log" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" \
    --daemonize no
  local deadline=$(($(now_ms) + 30000))
  until [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" ]]; do
    (($(now_ms) < deadline)) || die "Redis did not start (see ${log#"$MERCATO_ROOT"/})"
    sleep 0.1
  done
  export MERCATO_TEST_REDIS_URL="redis://127.0.0.1:${port}"
  log_info "Redis for tests on 127.0.0.1:${port}"
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
  local dir
  for dir in "${TEST_SERVER_DIRS[@]}"; do
    rm -rf "$dir"
  done
  TEST_SERVER_DIRS=()
}

cmd_test() {
  case "${1:-}" in
    -h | --help)
      echo "usage: ./mercato test [ARGS for ctest, e.g. -R CircuitBreaker] | ./mercato test --containers"
      return 0
      ;;
    --containers)
      # Opt-in, never part of the default run: images, compose, walk-through, checker (scripts/containers.sh).
      cmd_test_containers
      return
      ;;
  esac
  build_project
  # The dashboard's browser test (tests/scripts/dashboard_test.sh) needs Debian's Chromium.
  deps_ensure browser
  trap test_servers_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_test_servers
  log_info "ctest --test-dir build --output-on-failure -j${MERCATO_TEST_JOBS:-2} --timeout 60 --no-tests=error${*:+ $*}"
  ctest --test-dir "$MERCATO_BUILD_DIR" --output-on-failure -j"${MERCATO_TEST_JOBS:-2}" --timeout 60 \
    --no-tests=error "$@"
}
