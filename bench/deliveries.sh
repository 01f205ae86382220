#!/usr/bin/env bash
# bench/deliveries.sh — what one order costs the broker and the machine: messages stored, deliveries made
# and deliveries acted on per order, and CPU per order, at a fixed rate well below saturation, for each
# saga mode. The order flow's throughput is bound by the machine's CPU (docs/benchmarks.md, section 3),
# and that cost is per delivery, so this counts deliveries exactly, where a saturation run's rate moves by
# tens of percent from one run to the next.
#
# Per mode, a whole system of its own (`./mercato up --no-build` from a private root with its own var/ and
# free ports: bench/lib.sh; NATS JetStream, SQLite, MERCATO_SAGA_MODE=<mode>), then mercato-load through
# the gateway: open loop at BENCH_DELIVERIES_RATE orders/s for BENCH_DELIVERIES_DURATION, place_order
# only, settled (every order confirmed) and checked. Then, from nats-server's monitoring endpoint
# (/jsz?consumers=true), every stream's messages and every consumer's deliveries (delivered.consumer_seq:
# redeliveries included), and from every service's /metrics the deliveries its handlers acted on
# (mercato_events_handled_total). Divided by the orders placed: the setup's own events (the products
# stocked, the customers registered: about 40) are counted in, a fraction of a percent at the default
# 4,000 orders. CPU per order: the CPU time of the system's processes (every process `up` started: the
# services, the gateway, nats-server, etcd; not mercato-load) over the measured window, sampled by
# bench/lib.sh, per order confirmed in it.
#
# Prints a markdown report and keeps it, with every run's JSON, logs, CPU samples and the jsz document,
# in var/bench/deliveries-<stamp>/. Every process it starts is stopped by PID when it exits. Duration:
# about a minute per mode with the defaults.
#
# Environment (defaults in brackets):
#   BENCH_DELIVERIES_MODES ["orchestration choreography"]   saga modes
#   BENCH_DELIVERIES_RATE [200]        orders per second (open loop)
#   BENCH_DELIVERIES_DURATION [20s]    how long orders are placed
#   BENCH_BUILD [1]                    0 = do not build first
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

bench_saga_modes BENCH_DELIVERIES_MODES
RATE="${BENCH_DELIVERIES_RATE:-200}"
DURATION="${BENCH_DELIVERIES_DURATION:-20s}"
bench_positive BENCH_DELIVERIES_ RATE
DURATION_S="$(bench_seconds "$DURATION")"

bench_prepare

bench_workspace deliveries
bench_root

# port_of NAME: the port bench_up gave NAME (MERCATO_<NAME>_PORT in its command).
port_of() { grep -o "MERCATO_${1^^}_PORT=[0-9]*" <<<"$BENCH_UP_CMD" | cut -d= -f2; }

# handled_total: the deliveries every service's handlers acted on, summed over types and outcomes.
handled_total() {
  local total=0 name port n
  for name in $(service_names); do
    port="$(port_of "$name")"
    n="$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" |
      awk '/^mercato_events_handled_total\{/ { s += $NF } END { printf "%d", s }')"
    total=$((total + ${n:-0}))
  done
  echo "$total"
}

declare -A ROW=()
declare -a COMMANDS=()
for mode in "${MODES[@]}"; do
  log_info "deliveries $mode: starting the system"
  bench_up "$RESULTS/$mode.up.log" "MERCATO_SAGA_MODE=$mode"
  COMMANDS+=("$mode: $BENCH_UP_CMD")
  bench_load "$mode" $((DURATION_S + 120)) --rate "$RATE" --connections 256 --duration "$DURATION" \
    --mix place_order=1 --settle 60s --max-error-rate 0
  COMMANDS+=("$mode: $LOAD_CMD")
  curl -s --max-time 10 "http://127.0.0.1:$(port_of nats_http)/jsz?consumers=true" >"$RESULTS/$mode.jsz.json" ||
    die "nats-server's monitoring endpoint did not answer"
  read -r messages deliveries redelivered < <(jq -r '
    [.account_details[]?.stream_detail[]?] as $s
    | [([$s[].state.messages] | add // 0),
       ([$s[].consumer_detail[]?.delivered.consumer_seq] | add // 0),
       ([$s[].consumer_detail[]?.num_redelivered] | add // 0)] | @tsv' "$RESULTS/$mode.jsz.json")
  handled="$(handled_total)"
  placed="$(bench_json "$mode" '.operations.place_order.ok')"
  confirmed_rate="$(bench_json "$mode" '.orders.confirmed_per_second')"
  # The system's own processes (not mercato-load, not the rest of the machine), in % of one core.
  busy="$(tr ',' '\n' <<<"${LOAD_CPU%%, others*}" | grep -v mercato-load |
    awk '{ gsub(/%/, "", $2); s += $2 } END { printf "%d", s }')"
  bench_down
  per() { awk -v a="$1" -v b="$placed" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "–" }'; }
  cpu_ms="$(awk -v busy="$busy" -v r="$confirmed_rate" 'BEGIN { if (r > 0) printf "%.2f", busy / 100 * 1000 / r; else print "–" }')"
  ROW[$mode]="| $mode | $placed | $(per "$messages") | $(per "$deliveries") | $(per "$handled") | $redelivered \
| $cpu_ms | $LOAD_CPU | $(bench_json "$mode" '.check.verdict') |"
done

{
  echo "## deliveries per order (bench/deliveries.sh, $(date -u +%Y-%m-%d %H:%M) UTC, $(bench_rev))"
  echo
  echo "Open loop, $RATE orders/s for $DURATION through the gateway, place_order only, settled and checked."
  echo
  echo "| saga | orders placed | messages stored per order | deliveries per order | acted on per order | redeliveries | CPU ms per order (the system) | CPU by process | check |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
  for mode in "${MODES[@]}"; do echo "${ROW[$mode]}"; done
  echo
  echo "commands:"
  echo
  echo '```'
  echo "BENCH_DELIVERIES_RATE=$RATE BENCH_DELIVERIES_DURATION=$DURATION ./mercato bench deliveries"
  for c in "${COMMANDS[@]}"; do echo "$c"; done
  echo '```'
  echo
  bench_machine
} | tee "$RESULTS/report.md"
