# shellcheck shell=bash
# etcd, the store of service discovery and live configuration: the command line ./mercato up runs it
# with, and the throw-away server `./mercato test` runs the integration tests against. Sourced after
# scripts/lib.sh; start_test_etcd also needs scripts/test.sh (test_server_spawn, TEST_SERVER_DIRS).
#
# One member on loopback only: clients on 127.0.0.1:PORT, the peer port on 127.0.0.1:PEER_PORT (a
# single-member cluster still listens for peers), data under DIR. etcd syncs its write-ahead log on every
# write by default, which stays so.

# etcd_command DIR PORT PEER_PORT: prints the etcd command line, one word per line (mapfile it).
etcd_command() {
  local dir="$1" port="$2" peer_port="$3"
  [[ -n "$dir" && "$port" =~ ^[0-9]+$ && "$peer_port" =~ ^[0-9]+$ ]] || die "usage: etcd_command DIR PORT PEER_PORT"
  printf '%s\n' etcd --name mercato --data-dir "$dir" \
    --listen-client-urls "http://127.0.0.1:${port}" --advertise-client-urls "http://127.0.0.1:${port}" \
    --listen-peer-urls "http://127.0.0.1:${peer_port}" --initial-advertise-peer-urls "http://127.0.0.1:${peer_port}" \
    --initial-cluster "mercato=http://127.0.0.1:${peer_port}" --logger zap --log-level warn
}

# etcd_healthy PORT: true once etcd on 127.0.0.1:PORT answers /health with "health":"true".
etcd_healthy() {
  local body
  body="$(curl -s --max-time 1 "http://127.0.0.1:$1/health" 2>/dev/null)" || return 1
  [[ "$body" == *'"health":"true"'* ]]
}

# start_test_etcd: a throw-away etcd on 127.0.0.1 only, its data in a temporary directory; ready once
# /health says so. Exports MERCATO_TEST_ETCD_URL (host:port).
start_test_etcd() {
  local dir port peer_port log pid
  command -v etcd >/dev/null 2>&1 || die "etcd not found (package etcd-server)"
  dir="$(mktemp -d /tmp/mercato-test-etcd-XXXXXX)"
  TEST_SERVER_DIRS+=("$dir")
  log="${MERCATO_VAR_DIR}/test/etcd.log"
  mkdir -p "$(dirname "$log")"
  : >"$log"
  port="$(free_port)"
  peer_port="$(free_port "$port")"
  local -a etcd_cmd
  mapfile -t etcd_cmd < <(etcd_command "$dir/data" "$port" "$peer_port")
  test_server_spawn "$log" "${etcd_cmd[@]}"
  pid=$! # test_server_spawn started it in the background of this shell
  local deadline=$(($(now_ms) + 30000))
  until etcd_healthy "$port"; do
    proc_alive "$pid" || die "etcd exited during start-up (see ${log#"$MERCATO_ROOT"/})"
    (($(now_ms) < deadline)) || die "etcd did not start (see ${log#"$MERCATO_ROOT"/})"
    sleep 0.1
  done
  export MERCATO_TEST_ETCD_URL="127.0.0.1:${port}"
  log_info "etcd for tests on 127.0.0.1:${port}"
}
