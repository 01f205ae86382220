# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # gateway and etcd are the sourcing test's to read; root is its to set
# A whole system for the script tests, as an operator runs one: `./mercato up` (etcd, NATS, every
# service, the gateway) on free ports with its own var/ in a temporary folder, stopped when the test
# exits. Source it after setting `root` (the repository), then:
#   system_start [VAR=VALUE...]     starts it with that environment added (databases, ...) and waits for
#                                   every process to be registered in etcd
#   mercato ARGS...                 ./mercato with the system's environment (its ports, var/, etcd)
#   registered SERVICE              how many instances of SERVICE are registered
#   wait_registered SERVICE COUNT   true once COUNT are (5 s at most)
#   fail MESSAGE                    prints it and the processes' last log lines, exits 1
#   system_require_postgres         skips the test (exit 77) without the tests' PostgreSQL, or fails
#                                   when MERCATO_REQUIRE_BACKENDS=1; fails when nothing is built
# Sets work (the temporary folder), var, gateway (its port), etcd (host:port), prometheus (the port
# `up --observability` gives Prometheus; set system_up_args=(--observability) before system_start).
# A test that needs more cleaning defines system_cleanup_hook.

work="$(mktemp -d -t mercato-system-XXXXXX)"
var="$work/var"
up_pid=""
declare -a system_env=()
declare -a system_up_args=() # more arguments for ./mercato up

fail() {
  echo "FAILED: $*" >&2
  [[ -n "${var:-}" ]] && tail -n 20 "$var/log/"*.log >&2 2>/dev/null
  exit 1
}

_system_cleanup() {
  if [[ -n "$up_pid" ]] && kill -0 "$up_pid" 2>/dev/null; then
    kill -TERM "$up_pid"
    for _ in $(seq 1 300); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$up_pid" 2>/dev/null || true
  fi
  if declare -F system_cleanup_hook >/dev/null; then system_cleanup_hook; fi
  rm -rf "$work"
}
trap _system_cleanup EXIT

declare -A _system_taken=()
_system_locks="${TMPDIR:-/tmp}/mercato-ports"
# _system_claim PORT: claims PORT for this test's life with a lock on $_system_locks/PORT.lock, as
# lib/testing's free_port() does, so the C++ tests and the script tests running beside this one never pick
# it; false when another process holds it. The descriptor stays open (the lock ends with this shell and
# the system it starts, which inherits it).
_system_claim() {
  local fd
  mkdir -p "$_system_locks" 2>/dev/null || return 0
  exec {fd}>>"$_system_locks/$1.lock" || return 0
  if flock -n "$fd"; then return 0; fi
  exec {fd}>&-
  return 1
}
# _system_port: a free port below the ephemeral range, as the tests pick them (bounded: 500 tries).
# Sets PICKED (not through $(...): the lock must be taken by this shell, not by a subshell that exits).
_system_port() {
  local p i
  for ((i = 0; i < 500; i++)); do
    p=$((20000 + RANDOM % 12768))
    [[ -z "${_system_taken[$p]:-}" ]] || continue
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    _system_claim "$p" || continue
    _system_taken[$p]=1
    PICKED="$p"
    return 0
  done
  fail "no free port below the ephemeral range after 500 tries"
}

system_require_postgres() {
  if [[ -z "${MERCATO_TEST_POSTGRES_URL:-}" ]]; then
    [[ "${MERCATO_REQUIRE_BACKENDS:-0}" == 1 ]] && fail "MERCATO_TEST_POSTGRES_URL is not set"
    echo "skipped: no PostgreSQL for tests (run it through ./mercato test)"
    exit 77
  fi
  [[ -x "$root/build/services/user/mercato-user" ]] || fail "the services are not built"
}

mercato() { env "${system_env[@]}" "$root/mercato" "$@"; }

registered() { ETCDCTL_API=3 etcdctl --endpoints "$etcd" get --prefix --keys-only "/mercato/services/$1/" | grep -c . || true; }

# Ready is what up and scale wait for; registration follows within moments (the agent polls readiness
# every 100 ms).
wait_registered() {
  for _ in $(seq 1 50); do
    [[ "$(registered "$1")" == "$2" ]] && return 0
    sleep 0.1
  done
  [[ "$(registered "$1")" == "$2" ]]
}

system_start() {
  local name p
  for name in USER ORDER PAYMENT INVENTORY SHIPPING NOTIFICATION GATEWAY NATS NATS_HTTP ETCD ETCD_PEER PROMETHEUS; do
    _system_port
    p="$PICKED"
    system_env+=("MERCATO_${name}_PORT=$p")
    [[ "$name" == GATEWAY ]] && gateway="$p"
    [[ "$name" == ETCD ]] && etcd="127.0.0.1:$p"
    [[ "$name" == PROMETHEUS ]] && prometheus="$p"
  done
  system_env+=("MERCATO_VAR_DIR=$var" "MERCATO_LOG_LEVEL=warn" "$@")
  # Not through the mercato function: a function in the background is a subshell, whose pid a SIGTERM
  # would end while ./mercato up went on, orphaned, with every process of the system.
  env "${system_env[@]}" "$root/mercato" up --no-build "${system_up_args[@]}" >"$work/up.log" 2>&1 &
  up_pid=$!
  for _ in $(seq 1 600); do
    grep -q 'supervising (pid' "$work/up.log" && break
    kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.log" >&2; fail "./mercato up exited"; }
    sleep 0.1
  done
  grep -q 'supervising (pid' "$work/up.log" || { cat "$work/up.log" >&2; fail "./mercato up did not start"; }
  for name in user order payment inventory shipping notification gateway; do
    wait_registered "$name" 1 || fail "$name is not registered once in etcd"
  done
}
