#!/usr/bin/env bash
# bench/hops.sh — where an order's time goes between placed and confirmed, event by event: for each saga
# mode a whole system of its own (`./mercato up --no-build` from a private root, NATS JetStream, SQLite;
# bench/lib.sh), mercato-load through the gateway in open loop at BENCH_HOPS_RATE orders/s for
# BENCH_HOPS_DURATION (place_order only, settled and checked), then bench/hops.py over the services'
# databases: per event type the outbox relay's delay (committed -> marked published) and per consumer the
# delivery's (marked published -> its handler's commit), p50/p90/p99. The load generator's own
# placed -> confirmed percentiles are printed beside them. Latency, not speed: which hop a tail comes from.
#
# Prints a markdown report, kept with every run's JSON and logs in var/bench/hops-<stamp>/. About a
# minute per mode.
#
# Environment (defaults in brackets):
#   BENCH_HOPS_MODES ["orchestration choreography"]   saga modes
#   BENCH_HOPS_RATE [800]          orders per second (open loop)
#   BENCH_HOPS_DURATION [20s]      how long orders are placed
#   BENCH_BUILD [1]                0 = do not build first
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

bench_saga_modes BENCH_HOPS_MODES
RATE="${BENCH_HOPS_RATE:-800}"
DURATION="${BENCH_HOPS_DURATION:-20s}"
bench_positive BENCH_HOPS_ RATE
DURATION_S="$(bench_seconds "$DURATION")"
command -v python3 >/dev/null || die "python3 not found (./mercato deps installs it)"

bench_prepare
bench_workspace hops
bench_root

declare -a COMMANDS=()
declare -A SUMMARY=()
for mode in "${MODES[@]}"; do
  log_info "hops $mode: starting the system"
  bench_up "$RESULTS/$mode.up.log" "MERCATO_SAGA_MODE=$mode"
  COMMANDS+=("$mode: $BENCH_UP_CMD")
  bench_load "$mode" $((DURATION_S + 120)) --rate "$RATE" --connections 256 --duration "$DURATION" \
    --mix place_order=1 --settle 60s --max-error-rate 0
  COMMANDS+=("$mode: $LOAD_CMD")
  bench_down
  ms() { bench_json "$mode" ".orders.placed_to_confirmed_us.$1" | awk '{ printf "%.0f", $1 / 1000 }'; }
  SUMMARY[$mode]="placed -> confirmed p50 $(ms p50), p99 $(ms p99) ms (mercato-load); CPU: $LOAD_CPU; \
$(bench_json "$mode" '.check.verdict')"
  python3 bench/hops.py "$BENCH_ROOT/var" >"$RESULTS/$mode.hops.md" || die "bench/hops.py failed on $mode's databases"
done

{
  echo "## Where an order's time goes (bench/hops.sh, $(date -u '+%Y-%m-%d %H:%M') UTC, $(bench_rev))"
  echo
  echo "Open loop, $RATE orders/s for $DURATION through the gateway, place_order only, settled and checked."
  for mode in "${MODES[@]}"; do
    echo
    echo "### $mode: ${SUMMARY[$mode]}"
    echo
    cat "$RESULTS/$mode.hops.md"
  done
  echo
  echo "Commands:"
  echo
  echo '```'
  echo "BENCH_HOPS_MODES=\"${MODES[*]}\" BENCH_HOPS_RATE=$RATE BENCH_HOPS_DURATION=$DURATION ./mercato bench hops"
  for c in "${COMMANDS[@]}"; do echo "$c"; done
  echo '```'
  echo
  bench_machine
} | tee "$RESULTS/report.md"
