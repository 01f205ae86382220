#!/usr/bin/env bash
# bench/admission.sh — overload with and without admission control (ADR 0018): the issue-20 measurement
# of closed-loop clients placing orders as fast as they are answered, far beyond what the sagas confirm.
#
# Two configurations, each on a whole system of its own (`./mercato up --no-build` from a private root
# with its own var/ and free ports: bench/lib.sh), NATS JetStream, SQLite, orchestrated sagas:
#   off   config/order.yaml with admission.min_backlog = max_backlog = 100000000: admission control runs
#         (so its backlog gauge is there to read) but never refuses — the system as it was before it;
#   on    config/order.yaml as shipped (admission.max_backlog_time 5s, min_backlog 100, max_backlog 10000).
# Per configuration: mercato-load through the gateway, closed loop, BENCH_ADMISSION_CONNECTIONS clients,
# place_order only, for BENCH_ADMISSION_DURATION, then its settle phase (orders read back for up to 60 s)
# and the checker. The order service's mercato_order_saga_backlog gauge is sampled every second meanwhile.
# Reported: accepted/s (201), refused/s (503 with Retry-After), confirmed/s, placed → confirmed p50/p99,
# the backlog when the load stopped and its peak, the accepted orders confirmed, cancelled and still
# pending after the settle phase, the checker's verdict. mercato-load's clients do not wait for
# Retry-After during the run: each refused client asks again at once, so "on" also measures what
# answering refusals costs on the same cores.
# Prints a markdown report (and keeps it, with every run's JSON, logs and backlog samples, in
# var/bench/admission-<stamp>/). Every process it starts is stopped by PID when it exits. Duration:
# about 2–3 min per configuration with the defaults ("off" the longer: its backlog takes minutes to drain).
#
# Environment (defaults in brackets):
#   BENCH_ADMISSION_DURATION [20s]       the load run
#   BENCH_ADMISSION_CONNECTIONS [64]     closed-loop clients
#   BENCH_ADMISSION_CONFIGS ["off on"]   which configurations, in this order
#   BENCH_BUILD [1]                      0 = do not build first
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

DURATION="${BENCH_ADMISSION_DURATION:-20s}"
CONNECTIONS="${BENCH_ADMISSION_CONNECTIONS:-64}"
read -r -a CONFIGS <<<"${BENCH_ADMISSION_CONFIGS:-off on}"
bench_positive BENCH_ADMISSION_ CONNECTIONS
for c in "${CONFIGS[@]}"; do
  [[ "$c" == off || "$c" == on ]] || die "BENCH_ADMISSION_CONFIGS: unknown '$c' (off on)"
done
DURATION_S="$(bench_seconds "$DURATION")"

bench_prepare

bench_workspace admission
bench_root

# sample_backlog FILE PORT SECONDS: "<unix ms> <backlog>" every second into FILE, for at most SECONDS
# (bounded; stopped by PID before that when the run ends). Runs in the background: SAMPLER_PID.
sample_backlog() {
  local file="$1" port="$2" seconds="$3"
  (
    for ((i = 0; i < seconds; i++)); do
      v="$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" | awk '/^mercato_order_saga_backlog / { print $2 }')"
      echo "$(now_ms) ${v:-?}"
      sleep 1 # a sample a second, not a wait for anything
    done
  ) >"$file" 2>/dev/null &
  SAMPLER_PID=$!
  BENCH_PIDS+=("$SAMPLER_PID")
}

# backlog_at FILE MS: the sample nearest after MS ("–" when none).
backlog_at() { awk -v t="$2" '$1 >= t && $2 != "?" { print $2; found = 1; exit } END { if (!found) print "–" }' "$1"; }
backlog_peak() { awk '$2 != "?" && $2 + 0 > m { m = $2 + 0 } END { print m + 0 }' "$1"; }

declare -A ROW=()
declare -a COMMANDS=()
for config in "${CONFIGS[@]}"; do
  bench_admission "$config"
  log_info "admission $config: starting the system"
  bench_up "$RESULTS/$config.up.log"
  COMMANDS+=("$config: $BENCH_UP_CMD")
  order_port="$(grep -o 'MERCATO_ORDER_PORT=[0-9]*' <<<"$BENCH_UP_CMD" | cut -d= -f2)"
  bound=$((DURATION_S + 240))
  sample_backlog "$RESULTS/$config.backlog" "$order_port" "$bound"
  t0="$(now_ms)"
  bench_load "$config" "$bound" --closed --connections "$CONNECTIONS" --duration "$DURATION" --mix place_order=1 \
    --settle 60s --max-error-rate 1
  COMMANDS+=("$config: $LOAD_CMD")
  kill -TERM "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  bench_forget "$SAMPLER_PID"
  bench_down
  # When the load stopped: the end of the setup plus the run (elapsed_s), on this script's clock.
  stopped="$(jq -r --argjson t0 "$t0" '($t0 + ((.setup.seconds // 0) + (.elapsed_s // 0)) * 1000) | floor' \
    "$RESULTS/$config.json" 2>/dev/null || echo 0)"
  elapsed="$(bench_json "$config" '.elapsed_s')"
  ROW[$config]="| $config \
| $(bench_json "$config" "(.operations.place_order.ok / .elapsed_s * 10 | floor) / 10") \
| $(bench_json "$config" "(.operations.place_order.errors[\"503\"] / .elapsed_s * 10 | floor) / 10") \
| $(bench_json "$config" '.operations.place_order.errors.total - .operations.place_order.errors["503"]') \
| $(bench_json "$config" '.orders.confirmed_per_second') \
| $(bench_ms "$(bench_json "$config" '.operations.place_order.latency_us.p99')") \
| $(bench_ms "$(bench_json "$config" '.orders.placed_to_confirmed_us.p50')") \
| $(bench_ms "$(bench_json "$config" '.orders.placed_to_confirmed_us.p99')") \
| $(backlog_at "$RESULTS/$config.backlog" "$stopped") | $(backlog_peak "$RESULTS/$config.backlog") \
| $(bench_json "$config" '.orders.confirmed')/$(bench_json "$config" '.orders.cancelled')/$(bench_json "$config" '.orders.pending') \
| $(bench_json "$config" '.check.verdict') | $elapsed |"
done

{
  echo "## admission control: overload with and without (bench/admission.sh, $(date -u +%Y-%m-%d))"
  echo
  echo "Closed loop, $CONNECTIONS clients placing orders through the gateway for $DURATION; settle 60 s; then the checker."
  echo
  echo "| admission | accepted/s | refused/s (503) | other errors | confirmed/s | place_order p99 ms | placed→confirmed p50 ms | p99 ms | backlog when the load stopped | backlog peak | confirmed/cancelled/pending after settling | check | run s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for config in "${CONFIGS[@]}"; do echo "${ROW[$config]}"; done
  echo
  echo "commands:"
  echo
  echo '```'
  echo "BENCH_ADMISSION_DURATION=$DURATION BENCH_ADMISSION_CONNECTIONS=$CONNECTIONS ./mercato bench admission"
  for c in "${COMMANDS[@]}"; do echo "$c"; done
  echo '```'
  echo
  bench_machine
} | tee "$RESULTS/report.md"
