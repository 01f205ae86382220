#!/usr/bin/env bash
# bench/dashboard.sh — what watching costs and whether the dashboard stays usable under load: the order
# flow on one whole system, first with nobody watching, then with an admin watching GET /dashboard, in
# the same run, one after the other.
#
# The watcher asks what the page asks (services/gateway/web/dashboard.js), at the page's intervals: the
# overview every second, the 15 newest orders and the newest order's saga and events every 2 s, the dead
# letters every 5 s; each call timed by curl, from the first byte sent to the last received.
# The system: `./mercato up --no-build` from a private root (bench/lib.sh), NATS JetStream, SQLite,
# orchestrated sagas. The load: open loop at BENCH_DASHBOARD_ORDER_RATE orders/s for
# BENCH_DASHBOARD_DURATION, settled and checked (mercato-load).
#
# Prints a markdown report (kept, with the runs' JSON, logs and every timed call, in
# var/bench/dashboard-<stamp>/). Every process it starts is stopped by PID when it exits. About 2 min.
#
# Environment (defaults in brackets):
#   BENCH_DASHBOARD_DURATION [20s]      each load run
#   BENCH_DASHBOARD_ORDER_RATE [200]    orders/s offered
#   BENCH_BUILD [1]                     0 = do not build first
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

DURATION="${BENCH_DASHBOARD_DURATION:-20s}"
ORDER_RATE="${BENCH_DASHBOARD_ORDER_RATE:-200}"
bench_positive BENCH_DASHBOARD_ ORDER_RATE
DURATION_S="$(bench_seconds "$DURATION")"

bench_prepare
bench_workspace dashboard

log_info "dashboard: starting the system"
bench_up "$RESULTS/up.log"
ADMIN="$(MERCATO_ADMIN_TOKEN="" MERCATO_SECRETS_DIR="$BENCH_ROOT/var/secrets" admin_token "http://$BENCH_GATEWAY/api")"

# timed KIND PATH: one call as the admin; appends "KIND SECONDS STATUS" to $RESULTS/calls.txt.
timed() {
  local out
  out="$(curl -s -o "$WORK/body" -w '%{time_total} %{http_code}' --max-time 10 \
    -H "Authorization: Bearer $ADMIN" "http://$BENCH_GATEWAY$2" || echo "10 000")"
  echo "$1 $out" >>"$RESULTS/calls.txt"
}

# watch SECONDS: the page's calls at the page's intervals for SECONDS (it ends by itself: bounded).
watch() {
  local until_ms=$(($(now_ms) + $1 * 1000)) tick=0 newest
  while (($(now_ms) < until_ms)); do
    timed overview /dashboard/api/overview
    if ((tick % 2 == 0)); then
      timed orders '/api/orders?limit=15'
      newest="$(jq -r '.orders[0].id // empty' "$WORK/body" 2>/dev/null || true)"
      if [[ -n "$newest" ]]; then
        timed saga "/api/orders/$newest/saga"
        timed events "/api/orders/$newest/events"
      fi
    fi
    ((tick % 5 == 0)) && timed dead_letters /dashboard/api/dead-letters
    tick=$((tick + 1))
    sleep 1
  done
}

declare -A ROW=()
for run in unwatched watched; do
  watcher=""
  if [[ "$run" == watched ]]; then
    # Not a function in the background to be killed later: the watcher ends by itself after the run.
    watch $((DURATION_S + 5)) </dev/null >/dev/null 2>&1 &
    watcher=$!
  fi
  bench_load "$run" $((DURATION_S + 120)) --rate "$ORDER_RATE" --duration "$DURATION" --mix place_order=1 --settle 60s
  [[ -z "$watcher" ]] || wait "$watcher" || true
  ROW[$run]="| $run | $(bench_json "$run" '.orders.confirmed_per_second | floor') \
| $(bench_ms "$(bench_json "$run" '.operations.place_order.latency_us.p50')") \
| $(bench_ms "$(bench_json "$run" '.operations.place_order.latency_us.p99')") \
| $(bench_ms "$(bench_json "$run" '.orders.placed_to_confirmed_us.p50')") \
| $(bench_ms "$(bench_json "$run" '.orders.placed_to_confirmed_us.p99')") \
| $(bench_json "$run" '.orders.confirmed')/$(bench_json "$run" '.orders.placed') | $(bench_json "$run" '.check.verdict') | ${LOAD_CPU:-–} |"
done
bench_down

# calls KIND: "count | p50 ms | p99 ms | max ms | non-200" of the watcher's calls of KIND.
calls() {
  local bad
  bad="$(awk -v k="$1" '$1 == k && $3 != 200 { n++ } END { print n + 0 }' "$RESULTS/calls.txt")"
  awk -v k="$1" '$1 == k { print $2 * 1000 }' "$RESULTS/calls.txt" | sort -n | awk -v bad="$bad" '
    { v[NR] = $1 }
    END {
      if (!NR) { print "0 | – | – | – | –"; exit }
      printf "%d | %.1f | %.1f | %.1f | %d\n", NR, v[int((NR - 1) * 0.50) + 1], v[int((NR - 1) * 0.99) + 1], v[NR], bad }'
}

{
  echo "## dashboard: the order flow unwatched and watched (bench/dashboard.sh, $(date -u +%Y-%m-%d))"
  echo
  echo "Open loop, $ORDER_RATE orders/s offered for $DURATION, each run settled and checked; \"watched\": an admin's"
  echo "dashboard calls at the page's intervals during the run."
  echo
  echo "| run | confirmed/s | place_order p50 ms | p99 ms | placed→confirmed p50 ms | p99 ms | confirmed/placed | check | CPU |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "${ROW[unwatched]}"
  echo "${ROW[watched]}"
  echo
  echo "The dashboard's calls during the watched run (curl's time_total):"
  echo
  echo "| call | count | p50 ms | p99 ms | max ms | not 200 |"
  echo "|---|---|---|---|---|---|"
  for kind in overview orders saga events dead_letters; do echo "| $kind | $(calls "$kind") |"; done
  echo
  echo "commands:"
  echo
  echo '```'
  echo "BENCH_DASHBOARD_DURATION=$DURATION BENCH_DASHBOARD_ORDER_RATE=$ORDER_RATE ./mercato bench dashboard"
  echo "$BENCH_UP_CMD"
  echo "$LOAD_CMD"
  echo '```'
  echo
  bench_machine
} | tee "$RESULTS/report.md"
