#!/usr/bin/env bash
# bench/grpc.sh — order placement with the order service's calls to the user and inventory services over
# gRPC (the default) beside the same over HTTP/1.1 (issue 16), in one run on one machine.
#
# Each round starts a whole system (`./mercato up --no-build` on free ports, NATS, etcd; bench/lib.sh)
# with MERCATO_ORDER_TRANSPORT=grpc or http, and places orders through the gateway with the load
# generator, closed loop (BENCH_GRPC_CONNECTIONS clients, BENCH_GRPC_DURATION), orders only; every order
# has 1-3 lines (mercato-load), so over gRPC its prices are one call and over HTTP one call per product.
# The sagas run (orchestration) as usual; what is compared is place_order itself: pricing on the
# request's path, then the order's insert. (The customer check is not on it: the load generator places
# orders as customers, whose own token proves that they exist, ADR 0021; an admin's placement asks.) Rounds alternate grpc, http, grpc, http, ...
# (BENCH_GRPC_ROUNDS of each) so that drift of the machine falls on both. The reported numbers are the
# medians over the rounds of each transport.
#
# Prints a markdown report, kept with every run's JSON and logs in var/bench/grpc-<stamp>/.
# About 30 s per round.
#
# Environment (defaults in brackets):
#   BENCH_GRPC_ROUNDS [3]        rounds of each transport
#   BENCH_GRPC_DURATION [10s]    closed-loop sending time per round
#   BENCH_GRPC_CONNECTIONS [16]  closed-loop clients
#   BENCH_BUILD [1]              0 = do not build first
#   BENCH_KEEP [0]               1 = keep the temporary folder
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

ROUNDS="${BENCH_GRPC_ROUNDS:-3}"
DURATION="${BENCH_GRPC_DURATION:-10s}"
CONNECTIONS="${BENCH_GRPC_CONNECTIONS:-16}"
bench_positive BENCH_GRPC_ ROUNDS CONNECTIONS
DURATION_S="$(bench_seconds "$DURATION")"

bench_prepare
bench_workspace grpc

declare -A THROUGHPUT P50 P99 ERRORS
for ((round = 1; round <= ROUNDS; round++)); do
  for transport in grpc http; do
    name="$transport-$round"
    log_info "round $round: $transport"
    bench_up "$RESULTS/$name.up.log" "MERCATO_ORDER_TRANSPORT=$transport"
    bench_load "$name" $((DURATION_S + 120)) --closed --connections "$CONNECTIONS" --duration "$DURATION" \
      --mix place_order=1 --settle 30s
    bench_down
    THROUGHPUT[$name]="$(bench_json "$name" .operations.place_order.throughput_per_s)"
    P50[$name]="$(bench_json "$name" '.operations.place_order.latency_us.p50')"
    P99[$name]="$(bench_json "$name" '.operations.place_order.latency_us.p99')"
    ERRORS[$name]="$(bench_json "$name" .total.errors.total)"
    ((LOAD_STATUS == 0)) || log_warn "round $round ($transport): mercato-load exited with $LOAD_STATUS (see $RESULTS/$name.log)"
  done
done

# median VALUES...: the median of numbers ("–" when there are none).
median() {
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "–"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
row() {
  local transport="$1" label="$2" k
  local -a t=() a=() b=() e=()
  for ((k = 1; k <= ROUNDS; k++)); do
    t+=("${THROUGHPUT[$transport-$k]}")
    a+=("${P50[$transport-$k]}")
    b+=("${P99[$transport-$k]}")
    e+=("${ERRORS[$transport-$k]}")
  done
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$(median "${t[@]}" | awk '{ printf "%.0f", $1 }')" \
    "$(bench_ms "$(median "${a[@]}")")" "$(bench_ms "$(median "${b[@]}")")" "${e[*]}"
}
{
  echo "## gRPC vs HTTP between services (\`./mercato bench grpc\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_rev))"
  echo
  shown="${BENCH_UP_CMD//MERCATO_ORDER_TRANSPORT=grpc/MERCATO_ORDER_TRANSPORT=…}"
  echo "System per round: \`${shown//MERCATO_ORDER_TRANSPORT=http/MERCATO_ORDER_TRANSPORT=…}\`."
  echo "Load: \`${LOAD_CMD}\` (closed loop; medians of $ROUNDS rounds each, alternating)."
  echo
  echo "| the order service's calls to user and inventory | place_order/s | p50 ms | p99 ms | errors per round |"
  echo "|---|---|---|---|---|"
  row grpc "gRPC (CustomerExists, one GetPrices per order)"
  row http "HTTP/1.1 (GET /users/{id}, a GET /inventory/{id} per product)"
  echo
  bench_machine
} | tee "$RESULTS/report.md"
