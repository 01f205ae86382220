#!/usr/bin/env bash
# bench/topologies.sh — the same system in its two topologies (docs/topologies.md), side by side in one
# run: the six services and the gateway as separate processes over NATS JetStream (`./mercato up`), and
# the monolith (`./mercato up --monolith`: one process, calls between modules as function calls, events
# in process). Both on SQLite, orchestrated saga, the shipped configuration (the gateway's policy without
# its per-client rate limits, bench/lib.sh), ports picked free, a fresh system for every run.
#
# For each topology:
#   start-up    `./mercato up --no-build [--monolith]` until every process answers 200 on /health/ready
#               (the supervisor's own "supervising" line; with separate processes this includes NATS);
#   memory      resident memory of every process of the system right after start-up, idle (for the
#               separate processes: NATS and the seven binaries), and again after the saturation run;
#   saturation  closed loop, BENCH_TOPO_CONNECTIONS clients, a burst of BENCH_TOPO_ORDERS orders through
#               the gateway, settled: confirmed orders/s (first placement to last confirmation);
#   open loop   BENCH_TOPO_RATE orders/s for BENCH_TOPO_DURATION: p50/p99 of placed → confirmed and of
#               place_order (latency from each order's intended send, so queueing shows).
# Every run ends with the checker (`./mercato check` against that system, run by mercato-load).
#
# Prints a markdown report and keeps it, with every run's JSON and log, in var/bench/topologies-<stamp>/.
# Duration: about 2–3 minutes with the defaults. Every process it starts is stopped by PID at exit.
#
# Environment (defaults in brackets):
#   BENCH_TOPO_ORDERS [2000]       orders of the saturation burst
#   BENCH_TOPO_CONNECTIONS [32]    closed-loop clients
#   BENCH_TOPO_RATE [100]          open-loop orders/s
#   BENCH_TOPO_DURATION [20s]      open-loop run
#   BENCH_TOPO_SETTLE [60s]        mercato-load --settle
#   BENCH_BUILD [1]                0 = do not build first (the binaries must exist)
#   BENCH_KEEP [0]                 1 = keep the temporary folder
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

ORDERS="${BENCH_TOPO_ORDERS:-2000}"
CONNECTIONS="${BENCH_TOPO_CONNECTIONS:-32}"
RATE="${BENCH_TOPO_RATE:-100}"
DURATION="${BENCH_TOPO_DURATION:-20s}"
SETTLE="${BENCH_TOPO_SETTLE:-60s}"
bench_positive BENCH_TOPO_ ORDERS CONNECTIONS RATE
DURATION_S="$(bench_seconds "$DURATION")"
SETTLE_S="$(bench_seconds "$SETTLE")"

bench_prepare
[[ -x "$(service_binary monolith)" ]] || die "the monolith is not built ($(service_binary monolith))"

bench_workspace topologies
START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
T_START="$(now_ms)"

declare -A READY_MS=() IDLE_RSS=() BUSY_RSS=() SATURATION=() ACCEPTED=() P50=() P99=() PO99=() VERDICTS=()
COMMANDS=()

# topology_args TOPOLOGY: the extra arguments of ./mercato up.
topology_args() {
  BENCH_UP_ARGS=()
  [[ "$1" == monolith ]] && BENCH_UP_ARGS=(--monolith)
  return 0
}

# run TOPOLOGY NAME BOUND ARGS...: a fresh system, one mercato-load run.
run() {
  local topology="$1" name="$2" bound="$3"
  shift 3
  topology_args "$topology"
  bench_up "$RESULTS/$topology-$name.up.log"
  log_note "$topology: ready in ${BENCH_UP_READY_MS} ms (gateway $BENCH_GATEWAY)"
  if [[ "$name" == saturation ]]; then
    READY_MS[$topology]="$BENCH_UP_READY_MS"
    IDLE_RSS[$topology]="$(bench_rss_kib)"
    COMMANDS+=("# $topology: the system" "$BENCH_UP_CMD")
  fi
  bench_load "$topology-$name" "$bound" --mix place_order=1 "$@"
  COMMANDS+=("# $topology: $name" "$LOAD_CMD")
  [[ "$name" == saturation ]] && BUSY_RSS[$topology]="$(bench_rss_kib)"
  bench_down
  VERDICTS[$topology]+="${VERDICTS[$topology]:+, }$name: $(bench_json "$topology-$name" .check.verdict)"
}

for topology in processes monolith; do
  log_info "=== $topology"
  run "$topology" saturation $((SETTLE_S + 300 + ORDERS / 20)) \
    --closed --connections "$CONNECTIONS" --count "$ORDERS" --duration 120s --settle "${SETTLE_S}s"
  SATURATION[$topology]="$(bench_json "$topology-saturation" .orders.confirmed_per_second)"
  ACCEPTED[$topology]="$(bench_json "$topology-saturation" .operations.place_order.throughput_per_s)"
  run "$topology" open $((DURATION_S + SETTLE_S + 300)) \
    --rate "$RATE" --connections 256 --duration "${DURATION_S}s" --settle "${SETTLE_S}s"
  P50[$topology]="$(bench_ms "$(bench_json "$topology-open" '.orders.placed_to_confirmed_us.p50')")"
  P99[$topology]="$(bench_ms "$(bench_json "$topology-open" '.orders.placed_to_confirmed_us.p99')")"
  PO99[$topology]="$(bench_ms "$(bench_json "$topology-open" '.operations.place_order.latency_us.p99')")"
  log_info "$topology: ready ${READY_MS[$topology]} ms, idle RSS ${IDLE_RSS[$topology]%% *} KiB," \
    "saturation ${SATURATION[$topology]} confirmed/s, p99 placed→confirmed ${P99[$topology]} ms at $RATE/s"
done
ELAPSED_S=$((($(now_ms) - T_START) / 1000))

mib() { awk -v k="${1%% *}" 'BEGIN { if (k == "" || k == 0) print "–"; else printf "%.1f", k / 1024 }'; }

{
  echo "### Topologies: separate processes and the monolith ($(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_rev))"
  echo
  echo "| | separate processes | monolith |"
  echo "|---|---:|---:|"
  echo "| start-up until every /health/ready is 200 (ms) | ${READY_MS[processes]:-–} | ${READY_MS[monolith]:-–} |"
  echo "| resident memory, idle (MiB, all processes) | $(mib "${IDLE_RSS[processes]:-}") | $(mib "${IDLE_RSS[monolith]:-}") |"
  echo "| resident memory after the saturation run (MiB) | $(mib "${BUSY_RSS[processes]:-}") | $(mib "${BUSY_RSS[monolith]:-}") |"
  echo "| saturation: confirmed orders/s ($ORDERS orders, $CONNECTIONS clients, closed loop) | ${SATURATION[processes]:-–} | ${SATURATION[monolith]:-–} |"
  echo "| accepted orders/s in the same run | ${ACCEPTED[processes]:-–} | ${ACCEPTED[monolith]:-–} |"
  echo "| placed → confirmed p50 / p99 at $RATE orders/s (ms) | ${P50[processes]:-–} / ${P99[processes]:-–} | ${P50[monolith]:-–} / ${P99[monolith]:-–} |"
  echo "| place_order p99 at $RATE orders/s (ms) | ${PO99[processes]:-–} | ${PO99[monolith]:-–} |"
  echo "| checker | ${VERDICTS[processes]:-–} | ${VERDICTS[monolith]:-–} |"
  echo
  echo "Memory per process, idle: separate processes: ${IDLE_RSS[processes]#* }; monolith: ${IDLE_RSS[monolith]#* } (KiB)."
  echo
  echo "Commands (\$TMP = a temporary copy of the checkout with its own var/; ports picked free):"
  echo
  echo '```sh'
  echo "BENCH_TOPO_ORDERS=$ORDERS BENCH_TOPO_CONNECTIONS=$CONNECTIONS BENCH_TOPO_RATE=$RATE BENCH_TOPO_DURATION=$DURATION ./mercato bench topologies"
  for c in "${COMMANDS[@]}"; do echo "$c"; done
  echo '```'
  echo
  echo "Load average at start $START_LOAD; $ELAPSED_S s in all. The machine:"
  echo
  bench_machine
} | tee "$RESULTS/report.md"
log_info "report: ${RESULTS#"$MERCATO_ROOT"/}/report.md"
