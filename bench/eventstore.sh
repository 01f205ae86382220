#!/usr/bin/env bash
# bench/eventstore.sh — what event-sourcing the orders costs (README "Orders: CQRS with an event store";
# docs/adr/0015-event-sourced-orders.md), each part side by side with its reference in the same run:
#
#   1. appends   build/tools/eventstore-bench/mercato-eventstore-bench on one database per engine:
#                BENCH_ES_EVENTS placements, one transaction each, by 1 and by 4 threads —
#                  append  SqlOrderRepository::place (stream event + snapshot row, as the service does)
#                  stream  events::append_stream alone (the version check and the insert)
#                  insert  the same envelope as a plain INSERT into a table of the same shape (the ceiling)
#                on SQLite (a file in a temporary folder, lib/sqlite's WAL, synchronous=NORMAL) and on a
#                private PostgreSQL (fsync on, synchronous_commit on; bench/lib.sh).
#   2. rebuild   BENCH_ES_REBUILD_EVENTS stream events (orders placed and confirmed), then a rebuild of
#                order_summaries from position 0: events/s, on both engines.
#   3. lag       a whole system (`./mercato up --no-build`, SQLite, NATS) under the load generator at
#                BENCH_ES_RATE orders/s for BENCH_ES_DURATION; GET /admin/projections sampled every 100 ms
#                on the order service: p50/p99/max of order_summaries' lag in events and seconds. The
#                checker runs at the end of the load.
#
# Environment: BENCH_ES_EVENTS [20000]  BENCH_ES_REBUILD_EVENTS [1000000]  BENCH_ES_RATE [200]
#              BENCH_ES_DURATION [20s]  BENCH_ES_ENGINES ["sqlite postgres"]  BENCH_ES_PARTS ["appends rebuild lag"]
#              BENCH_BUILD [1]
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

EVENTS="${BENCH_ES_EVENTS:-20000}"
REBUILD_EVENTS="${BENCH_ES_REBUILD_EVENTS:-1000000}"
RATE="${BENCH_ES_RATE:-200}"
DURATION_S="$(bench_seconds "${BENCH_ES_DURATION:-20s}" 5)"
read -r -a ENGINES <<<"${BENCH_ES_ENGINES:-sqlite postgres}"
PARTS="${BENCH_ES_PARTS:-appends rebuild lag}"
PROBE="${MERCATO_BUILD_DIR}/tools/eventstore-bench/mercato-eventstore-bench"

if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
  build_project >&2
fi
[[ -x "$PROBE" ]] || die "build first: $PROBE"
command -v jq >/dev/null || die "jq not found (./mercato deps installs it)"

bench_workspace eventstore
COMMANDS=()
remember() { COMMANDS+=("$@"); }

# database ENGINE NAME: a fresh database of ENGINE for the probe (--db argument).
database() {
  if [[ "$1" == sqlite ]]; then
    mkdir -p "$WORK/$2"
    echo "sqlite:$WORK/$2/order.db"
  else
    bench_pg_database "$2"
  fi
}

# probe ARGS...: runs the probe (in a command substitution: the caller remembers the command).
probe() {
  local out
  out="$("$PROBE" "$@")" || die "mercato-eventstore-bench $* failed: $out"
  echo "$out"
}

rate_of() { awk -v c="$1" '{ for (i = 1; i <= NF; i++) if ($i == "case=" c) for (j = 1; j <= NF; j++) if ($j ~ /^rate=/) { sub("rate=", "", $j); print $j } }' <<<"$2"; }

echo "### Event store ($(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_rev))"
echo
if [[ " ${ENGINES[*]} " == *" postgres "* ]]; then
  bench_pg_start on "$RESULTS/postgres.log"
  remember "# PostgreSQL: $BENCH_PG_VERSION" "$BENCH_PG_CMD"
fi

if [[ "$PARTS" == *appends* ]]; then
  echo "Appends, one transaction each, $EVENTS per case (events/s; higher is better):"
  echo
  echo "| engine | threads | append (stream + snapshot) | stream append alone | plain INSERT (ceiling) | append / INSERT |"
  echo "|---|---|---|---|---|---|"
  for engine in "${ENGINES[@]}"; do
    for threads in 1 4; do
      db="$(database "$engine" "es_appends_${threads}")"
      remember "mercato-eventstore-bench $(bench_show "--db $db --events $EVENTS --threads $threads --cases append,stream,insert")"
      out="$(probe --db "$db" --events "$EVENTS" --threads "$threads" --cases append,stream,insert)"
      echo "$out" >>"$RESULTS/appends.txt"
      a="$(rate_of append "$out")" s="$(rate_of stream "$out")" i="$(rate_of insert "$out")"
      echo "| $engine | $threads | ${a%/s} | ${s%/s} | ${i%/s} | $(awk -v a="${a%/s}" -v i="${i%/s}" 'BEGIN { printf "%.2f", a / i }') |"
    done
  done
  echo
fi

if [[ "$PARTS" == *rebuild* ]]; then
  echo "Rebuild of order_summaries from position 0 over $REBUILD_EVENTS events (events/s):"
  echo
  echo "| engine | filled (events/s, 1000 orders a transaction) | rebuild (events/s) | rebuild time |"
  echo "|---|---|---|---|"
  for engine in "${ENGINES[@]}"; do
    db="$(database "$engine" es_rebuild)"
    remember "mercato-eventstore-bench $(bench_show "--db $db --cases rebuild --rebuild-events $REBUILD_EVENTS")"
    out="$(probe --db "$db" --cases rebuild --rebuild-events "$REBUILD_EVENTS")"
    echo "$out" >>"$RESULTS/rebuild.txt"
    seconds="$(awk '/case=rebuild/ { for (i = 1; i <= NF; i++) if ($i ~ /^seconds=/) { sub("seconds=", "", $i); print $i } }' <<<"$out")"
    echo "| $engine | $(rate_of fill "$out") | $(rate_of rebuild "$out") | ${seconds} s |"
  done
  echo
fi
bench_pg_stop

if [[ "$PARTS" == *lag* ]]; then
  bench_load_ensure
  bench_up "$RESULTS/lag.up.log"
  remember "# the system" "$BENCH_UP_CMD"
  order_port="$(awk '$1 == "order" { print $2; exit }' "$BENCH_ROOT/var/run/ports")"
  token="$(MERCATO_ADMIN_TOKEN="" MERCATO_SECRETS_DIR="$BENCH_ROOT/var/secrets" admin_token "http://127.0.0.1:$(awk '$1 == "user" { print $2; exit }' "$BENCH_ROOT/var/run/ports")")"
  # The sampler: one line "lag_events lag_seconds" per 100 ms, for as long as the load runs (bounded).
  (
    end=$(($(now_ms) + (DURATION_S + 120) * 1000))
    while (($(now_ms) < end)); do
      curl --noproxy '*' -s --max-time 1 -H "Authorization: Bearer $token" "http://127.0.0.1:$order_port/admin/projections" |
        jq -r '.projections[] | select(.name == "order_summaries") | "\(.lag_events) \(.lag_seconds)"' 2>/dev/null || true
      sleep 0.1
    done
  ) >"$RESULTS/lag.samples" &
  sampler=$!
  BENCH_PIDS+=("$sampler")
  bench_load lag $((DURATION_S + 300)) --mix place_order=1 --rate "$RATE" --duration "${DURATION_S}s" --settle 30s
  proc_stop 5 "$sampler"
  bench_forget "$sampler"
  echo "Projection lag of order_summaries under the order flow (SQLite, NATS; $RATE orders/s open loop for ${DURATION_S}s; sampled every 100 ms):"
  echo
  echo "| samples | lag events p50 / p99 / max | lag seconds p50 / p99 / max | orders confirmed/s | checker |"
  echo "|---|---|---|---|---|"
  stats() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "– / – / –"; exit }
      p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]; printf "%s / %s / %s", p50, p99, v[NR] }'
  }
  n="$(wc -l <"$RESULTS/lag.samples")"
  events="$(awk '{ print $1 }' "$RESULTS/lag.samples" | stats)"
  seconds="$(awk '{ printf "%.3f\n", $2 }' "$RESULTS/lag.samples" | stats)"
  checker="$(bench_json lag .check.verdict)"
  echo "| $n | $events | $seconds | $(bench_json lag '.orders.confirmed_per_second') | $checker |"
  remember "$LOAD_CMD"
  echo
fi

echo "Commands (bench/eventstore.sh):"
echo
echo '```'
printf '%s\n' "${COMMANDS[@]}"
echo '```'
echo
bench_machine
