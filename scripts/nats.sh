# shellcheck shell=bash
# NATS JetStream, the event broker: the server configuration ./mercato writes, and the throw-away server
# `./mercato test` runs the integration tests against. Sourced after scripts/lib.sh; start_test_nats
# also needs scripts/test.sh (test_server_spawn, TEST_SERVER_DIRS).
#
# Durability: publish returns after JetStream's PubAck, i.e. once the server has written the event to its
# file store, but the file store fsyncs only every 2 minutes by default. A crash of nats-server loses
# nothing (the data is in the OS page cache); a power loss or kernel crash of a single node can lose the
# acked events of the last 2 minutes. nats-server 2.10+ accepts `jetstream { sync_interval: always }`
# (fsync on every write), which nats_config_file writes when the installed server supports it. 2.9
# (Debian bookworm's 2.9.10) rejects the key ("unknown field") and has no equivalent: there, durability
# against power loss comes from a cluster with stream replicas >= 3, where the PubAck waits for a
# quorum of servers.

# nats_server_version: the installed nats-server's version as "MAJOR MINOR PATCH" (e.g. "2 9 10").
nats_server_version() {
  local text
  text="$(nats-server --version 2>/dev/null)" || return 1
  [[ "$text" =~ v([0-9]+)\.([0-9]+)\.([0-9]+) ]] || return 1
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
}

# nats_supports_sync_interval: true when the installed nats-server knows `jetstream { sync_interval }`
# (added in 2.10.0).
nats_supports_sync_interval() {
  local major minor
  read -r major minor _ <<<"$(nats_server_version)" || return 1
  [[ -n "$major" ]] || return 1
  ((major > 2 || (major == 2 && minor >= 10)))
}

# nats_config_file DIR PORT [HTTP_PORT]: writes DIR/nats-server.conf and prints its path: clients on
# 127.0.0.1:PORT only, the monitoring endpoint (/healthz, /jsz) on 127.0.0.1:HTTP_PORT when given, and
# JetStream with its file store under DIR (in DIR/jetstream), synced on every write where the server
# supports it (see the top of this file).
nats_config_file() {
  local dir="$1" port="$2" http_port="${3:-}" file
  [[ -n "$dir" && "$port" =~ ^[0-9]+$ ]] || die "usage: nats_config_file DIR PORT [HTTP_PORT]"
  [[ "$dir" != *'"'* && "$dir" != *\\* ]] || die "nats_config_file: unsupported character in '$dir'"
  mkdir -p "$dir"
  file="${dir}/nats-server.conf"
  {
    echo "# Written by scripts/nats.sh (nats_config_file)."
    echo "listen: 127.0.0.1:${port}"
    if [[ -n "$http_port" ]]; then
      echo "http: 127.0.0.1:${http_port}"
    fi
    echo "jetstream {"
    echo "  store_dir: \"${dir}\""
    if nats_supports_sync_interval; then
      echo "  # fsync every write: an acked event survives a power loss (see scripts/nats.sh)."
      echo "  sync_interval: always"
    else
      echo "  # This nats-server has no sync_interval (2.10+): its file store fsyncs every 2 minutes, so"
      echo "  # a power loss of this single node can lose acked events; replicas >= 3 in a cluster avoid it."
    fi
    echo "}"
  } >"$file"
  echo "$file"
}

# start_test_nats: a throw-away nats-server with JetStream on 127.0.0.1 only, its store in a temporary
# directory; ready once /healthz says JetStream is up. Exports MERCATO_TEST_NATS_URL.
start_test_nats() {
  local dir port http_port log config pid
  command -v nats-server >/dev/null 2>&1 || die "nats-server not found (package nats-server)"
  dir="$(mktemp -d /tmp/mercato-test-nats-XXXXXX)"
  TEST_SERVER_DIRS+=("$dir")
  log="${MERCATO_VAR_DIR}/test/nats.log"
  mkdir -p "$(dirname "$log")"
  : >"$log"
  port="$(free_port)"
  http_port="$(free_port "$port")"
  config="$(nats_config_file "$dir" "$port" "$http_port")"
  test_server_spawn "$log" nats-server -c "$config"
  pid=$! # test_server_spawn started it in the background of this shell
  local deadline=$(($(now_ms) + 30000))
  # js-enabled=true: 503 until JetStream itself is up, not only the client listener.
  until [[ "$(http_code "http://127.0.0.1:${http_port}/healthz?js-enabled=true" 1)" == 200 ]]; do
    proc_alive "$pid" || die "nats-server exited during start-up (see ${log#"$MERCATO_ROOT"/})"
    (($(now_ms) < deadline)) || die "nats-server did not start (see ${log#"$MERCATO_ROOT"/})"
    sleep 0.1
  done
  export MERCATO_TEST_NATS_URL="nats://127.0.0.1:${port}"
  log_info "NATS JetStream for tests on 127.0.0.1:${port}"
}
