#!/usr/bin/env bash
# `./mercato up --observability` as an operator runs it: a whole system on free loopback ports with its
# own var/ (tests/scripts/system_lib.sh), Prometheus scraping every second. Then:
#   - var/prometheus/targets.json lists every process (six services, the gateway, etcd, Prometheus);
#   - Prometheus's own /api/v1/targets reports each of them with health "up" (a bounded readiness
#     loop: the first scrape of each target comes within one interval of its discovery);
#   - queries for metrics of this issue return series: the outbox lag of the order service and the
#     database pool of the user service;
#   - with the tests' PostgreSQL (always under ./mercato test), `./mercato scale user 2` rewrites the
#     targets file and Prometheus reports the new instance up too;
#   - stopping ./mercato up (SIGTERM to its pid) stops Prometheus: its pid is gone.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/scripts/system_lib.sh
source "$root/tests/scripts/system_lib.sh"

command -v prometheus >/dev/null 2>&1 || fail "prometheus not found (./mercato deps installs it)"
[[ -x "$root/build/services/user/mercato-user" ]] || fail "the services are not built"

scale=0
extra_env=("MERCATO_PROMETHEUS_SCRAPE_INTERVAL=1s")
if [[ -n "${MERCATO_TEST_POSTGRES_URL:-}" ]]; then
  scale=1
  database="obs_$$_$RANDOM"
  system_cleanup_hook() {
    psql -q "$MERCATO_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
  }
  psql -q "$MERCATO_TEST_POSTGRES_URL" -c "CREATE DATABASE $database" >/dev/null || fail "cannot create a database"
  extra_env+=("MERCATO_USER_DATABASE_URL=${MERCATO_TEST_POSTGRES_URL%/*}/$database")
elif [[ "${MERCATO_REQUIRE_BACKENDS:-0}" == 1 ]]; then
  fail "MERCATO_TEST_POSTGRES_URL is not set"
fi
system_up_args=(--observability)
system_start "${extra_env[@]}"

api="http://127.0.0.1:$prometheus/api/v1"
expected="etcd gateway inventory notification order payment prometheus shipping user"

[[ -f "$var/prometheus/targets.json" ]] || fail "no var/prometheus/targets.json"
listed="$(jq -r '[.[].labels.service] | sort | join(" ")' "$var/prometheus/targets.json")"
[[ "$listed" == "$expected" ]] || fail "targets.json lists '$listed', expected '$expected'"

# targets_up COUNT: true once Prometheus reports exactly COUNT active targets, every one "up".
targets_up() {
  curl -s --max-time 2 "$api/targets?state=active" >"$work/targets.json" 2>/dev/null || return 1
  jq -e --argjson n "$1" '.status == "success" and (.data.activeTargets | length == $n)
    and all(.data.activeTargets[]; .health == "up")' "$work/targets.json" >/dev/null 2>&1
}
# wait_targets_up COUNT: targets_up, polled for at most 20 s.
wait_targets_up() {
  local deadline=$((SECONDS + 20))
  until targets_up "$1"; do
    if ((SECONDS >= deadline)); then
      jq -r '.data.activeTargets[]? | "\(.labels.service) \(.labels.instance) \(.health) \(.lastError)"' \
        "$work/targets.json" >&2 2>/dev/null || cat "$work/targets.json" >&2
      fail "Prometheus does not report $1 targets, all up"
    fi
    sleep 0.2
  done
}
wait_targets_up 9
reported="$(jq -r '[.data.activeTargets[].labels.service] | sort | join(" ")' "$work/targets.json")"
[[ "$reported" == "$expected" ]] || fail "Prometheus scrapes '$reported', expected '$expected'"

# query PROMQL: the number of series the instant query returns.
query() {
  curl -s --max-time 2 -G "$api/query" --data-urlencode "query=$1" | jq -r 'if .status == "success" then .data.result | length else -1 end'
}
n="$(query 'mercato_events_outbox_lag_seconds{service="order"}')"
((n >= 1)) || fail "no series of mercato_events_outbox_lag_seconds for the order service (got $n)"
n="$(query 'mercato_db_pool_connections{service="user", database="user"}')"
((n == 1)) || fail "expected one series of mercato_db_pool_connections for user, got $n"
n="$(query 'mercato_events_consumer_lag_messages{service="payment"}')"
((n >= 1)) || fail "no series of mercato_events_consumer_lag_messages for payment (NATS tells it)"

if ((scale)); then
  mercato scale user 2 >"$work/scale.out" 2>&1 || { cat "$work/scale.out" >&2; fail "scale user 2"; }
  jq -e '[.[] | select(.labels.process == "user@2")] | length == 1' "$var/prometheus/targets.json" >/dev/null ||
    fail "scale did not add user@2 to targets.json"
  wait_targets_up 10
else
  echo "not checked (no PostgreSQL for tests): scale rewriting the targets"
fi

prometheus_pid="$(cat "$var/run/prometheus.pid")"
[[ "$prometheus_pid" =~ ^[0-9]+$ ]] || fail "no pid in var/run/prometheus.pid"
kill -TERM "$up_pid"
deadline=$((SECONDS + 30))
while kill -0 "$up_pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "./mercato up did not stop within 30 s of SIGTERM"
  sleep 0.1
done
up_pid=""
kill -0 "$prometheus_pid" 2>/dev/null && fail "Prometheus (pid $prometheus_pid) still runs after ./mercato up stopped"
echo "ok"
