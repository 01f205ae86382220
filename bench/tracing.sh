#!/usr/bin/env bash
# bench/tracing.sh — what tracing costs: the gateway and the order flow, untraced, sampled at 100% and
# sampled at 1%, in the same run, on the same machine, one after the other.
#
# Each configuration runs on a whole system of its own (`./mercato up --no-build` from a private root
# with its own var/ and free ports: bench/lib.sh), NATS JetStream, SQLite, orchestrated sagas:
#   off    no OTEL_* endpoint: no exporter, no tracer (only traceparent propagation, as always);
#   100%   OTEL_EXPORTER_OTLP_ENDPOINT to a sink on loopback, OTEL_TRACES_SAMPLER=parentbased_traceidratio,
#          OTEL_TRACES_SAMPLER_ARG=1 (every span exported);
#   1%     the same with OTEL_TRACES_SAMPLER_ARG=0.01.
# The sink is build/tools/otlp-sink/mercato-otlp-sink on loopback, BENCH_TRACING_SINK:
#   null    (default) answers 200 without reading: what the services themselves pay for tracing;
#   strict  the tests' strict OTLP receiver (every request parsed against the OTLP messages; spans,
#           traces and rejected requests reported) — a collector's work on the same 2 cores as the
#           system, which then shows in the numbers too.
#
# Per configuration, with the load generator (mercato-load) through the gateway:
#   gateway   closed loop, BENCH_TRACING_CONNECTIONS clients, read_product only, for BENCH_TRACING_DURATION:
#             requests/s and p50/p99 (gateway → inventory, a sync read: 4 spans per request when sampled);
#   orders    open loop at BENCH_TRACING_ORDER_RATE orders/s for BENCH_TRACING_DURATION, settled, checked:
#             p50/p99 of place_order and of placed → confirmed (about 50 spans per order when sampled).
# Prints a markdown report (and keeps it, with every run's JSON and logs, in var/bench/tracing-<stamp>/).
# Every process it starts is stopped by PID when it exits. Duration: about 1 min per configuration with
# the defaults (start, 2 × 15 s of load, settle, checker), 3–4 min in all.
#
# Environment (defaults in brackets):
#   BENCH_TRACING_DURATION [15s]       each load run
#   BENCH_TRACING_CONNECTIONS [16]     closed-loop clients of the gateway run
#   BENCH_TRACING_ORDER_RATE [50]      orders/s of the order-flow run
#   BENCH_TRACING_CONFIGS ["off 100 1"]  which configurations, in this order
#   BENCH_TRACING_SINK [null]          null | strict (above)
#   BENCH_BUILD [1]                    0 = do not build first
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

DURATION="${BENCH_TRACING_DURATION:-15s}"
CONNECTIONS="${BENCH_TRACING_CONNECTIONS:-16}"
ORDER_RATE="${BENCH_TRACING_ORDER_RATE:-50}"
SINK="${BENCH_TRACING_SINK:-null}"
[[ "$SINK" == null || "$SINK" == strict ]] || die "BENCH_TRACING_SINK must be null or strict"
read -r -a CONFIGS <<<"${BENCH_TRACING_CONFIGS:-off 100 1}"
bench_positive BENCH_TRACING_ CONNECTIONS ORDER_RATE
for c in "${CONFIGS[@]}"; do
  [[ "$c" == off || "$c" == 100 || "$c" == 1 ]] || die "BENCH_TRACING_CONFIGS: unknown '$c' (off 100 1)"
done
DURATION_S="$(bench_seconds "$DURATION")"
SINK_BIN="${MERCATO_BUILD_DIR}/tools/otlp-sink/mercato-otlp-sink"

bench_prepare
[[ -x "$SINK_BIN" ]] || die "build first: $SINK_BIN"

bench_workspace tracing

# start_sink NAME: the sink for one configuration, its port in SINK_PORT, its PID in SINK_PID.
start_sink() {
  local port_file="$WORK/$1.sink-port" deadline
  "$SINK_BIN" "--$SINK" --port-file "$port_file" >"$RESULTS/$1.sink.json" 2>"$RESULTS/$1.sink.log" &
  SINK_PID=$!
  BENCH_PIDS+=("$SINK_PID")
  deadline=$(($(now_ms) + 10000))
  until [[ -s "$port_file" ]]; do
    if ! proc_alive "$SINK_PID" || (($(now_ms) >= deadline)); then die "the OTLP sink did not start"; fi
    sleep 0.05
  done
  SINK_PORT="$(cat "$port_file")"
}

# stop_sink: SIGTERM, and its report (spans, traces, accepted, rejected) is its output.
stop_sink() {
  kill -TERM "$SINK_PID" 2>/dev/null || true
  wait "$SINK_PID" 2>/dev/null || true
  bench_forget "$SINK_PID"
}

# export_counts: the exporters' counters summed over every process of the running system (their
# /metrics, on the ports bench_up chose): "exported N, dropped N, failed N".
export_counts() {
  local port exported=0 dropped=0 failed=0 body
  local -a ports=()
  mapfile -t ports < <(grep -o 'MERCATO_[A-Z]*_PORT=[0-9]*' <<<"$BENCH_UP_CMD" | grep -v 'NATS\|ETCD' | cut -d= -f2)
  for port in "${ports[@]}"; do
    body="$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" || true)"
    exported=$((exported + $(awk '/^mercato_tracing_spans_exported_total/ { s += $2 } END { print s + 0 }' <<<"$body")))
    dropped=$((dropped + $(awk '/^mercato_tracing_spans_dropped_total/ { s += $2 } END { print s + 0 }' <<<"$body")))
    failed=$((failed + $(awk '/^mercato_tracing_spans_failed_total/ { s += $2 } END { print s + 0 }' <<<"$body")))
  done
  echo "exported $exported, dropped $dropped, failed $failed"
}

declare -A ROW=() CPU=() EXPORT=()
declare -a COMMANDS=()
for config in "${CONFIGS[@]}"; do
  env_otel=()
  SINK_PID=""
  if [[ "$config" != off ]]; then
    start_sink "$config"
    ratio=1
    [[ "$config" == 1 ]] && ratio=0.01
    env_otel=("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT" "OTEL_TRACES_SAMPLER=parentbased_traceidratio"
      "OTEL_TRACES_SAMPLER_ARG=$ratio")
  fi
  log_info "tracing $config: starting the system"
  bench_up "$RESULTS/$config.up.log" "${env_otel[@]}"
  COMMANDS+=("$config: $BENCH_UP_CMD")
  bench_load "$config-gateway" $((DURATION_S + 60)) --closed --connections "$CONNECTIONS" --duration "$DURATION" \
    --mix read_product=1 --no-check
  COMMANDS+=("$config: $LOAD_CMD")
  CPU[$config]="$LOAD_CPU"
  bench_load "$config-orders" $((DURATION_S + 120)) --rate "$ORDER_RATE" --duration "$DURATION" --mix place_order=1 \
    --settle 60s
  COMMANDS+=("$config: $LOAD_CMD")
  EXPORT[$config]="$(export_counts)"
  bench_down
  sink="–"
  if [[ -n "$SINK_PID" ]]; then
    stop_sink
    sink="$(jq -r 'if .spans then "\(.spans) spans, \(.traces) traces, \(.rejected) rejected"
                   else "\(.requests) requests, \(.bytes / 1048576 | floor) MiB" end' "$RESULTS/$config.sink.json" 2>/dev/null || echo "–")"
  fi
  g="$config-gateway"
  o="$config-orders"
  ROW[$config]="| $config | $(bench_json "$g" '.operations.read_product.throughput_per_s | floor') \
| $(bench_ms "$(bench_json "$g" '.operations.read_product.latency_us.p50')") \
| $(bench_ms "$(bench_json "$g" '.operations.read_product.latency_us.p99')") \
| $(bench_ms "$(bench_json "$o" '.operations.place_order.latency_us.p50')") \
| $(bench_ms "$(bench_json "$o" '.operations.place_order.latency_us.p99')") \
| $(bench_ms "$(bench_json "$o" '.orders.placed_to_confirmed_us.p50')") \
| $(bench_ms "$(bench_json "$o" '.orders.placed_to_confirmed_us.p99')") \
| $(bench_json "$o" '.orders.confirmed')/$(bench_json "$o" '.orders.placed') \
| $(bench_json "$o" '.check.verdict') | $sink |"
done

{
  echo "## tracing: untraced vs sampled (bench/tracing.sh, $(date -u +%Y-%m-%d))"
  echo
  echo "gateway: closed loop, $CONNECTIONS clients, GET a product for $DURATION; orders: open loop, $ORDER_RATE orders/s for $DURATION; sink: $SINK."
  echo
  echo "| sampled | gateway req/s | p50 ms | p99 ms | place_order p50 ms | p99 ms | placed→confirmed p50 ms | p99 ms | confirmed/placed | check | sink |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for config in "${CONFIGS[@]}"; do echo "${ROW[$config]}"; done
  echo
  echo "CPU during the gateway run (100% = one core; the sink is among \"others\"), and the exporters' counters"
  echo "at the end of each system's runs:"
  echo
  for config in "${CONFIGS[@]}"; do echo "- $config: ${CPU[$config]:-–}; spans ${EXPORT[$config]}"; done
  echo
  echo "commands:"
  echo
  echo '```'
  echo "BENCH_TRACING_SINK=$SINK BENCH_TRACING_DURATION=$DURATION BENCH_TRACING_CONNECTIONS=$CONNECTIONS BENCH_TRACING_ORDER_RATE=$ORDER_RATE ./mercato bench tracing"
  for c in "${COMMANDS[@]}"; do echo "$c"; done
  echo '```'
  echo
  bench_machine
} | tee "$RESULTS/report.md"
