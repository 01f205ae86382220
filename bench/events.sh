#!/usr/bin/env bash
# bench/events.sh — events per second and commit-to-handle latency through the outbox, the broker and
# the inbox, per transport, next to the same events sent straight through the transport (the reference:
# what the broker and its client library give with no database on either side).
#
# Each case runs the probe (tests/crash/events_probe.cpp) as two processes on 127.0.0.1: a consumer
# started first, then a producer.
#   outbox    producer: COUNT transactions on SQLite, each a row + its event in the outbox; the relay
#             publishes in batches as commits wake it. consumer: per event one SQLite transaction with
#             the inbox record and the effect row. Latency: from the producer's transaction to the end
#             of the consumer's.
#   direct    producer: the same COUNT events published in batches of 256; consumer: a handler that only
#             records the latency.
# Rate = handled events / time from the first to the last handled event. Transports: nats (a
# nats-server started here, JetStream file store in a temporary folder) and kafka (librdkafka's mock
# cluster, tools/kafka-mock). BENCH_ROUNDS rounds, cases interleaved; every line is printed, with the
# median per case at the end, plus the exact commands and the machine.
#
# Environment: BENCH_EVENTS [20000] (burst), BENCH_PACED_EVENTS [2000] (one per ~1 ms),  BENCH_ROUNDS [3]  BENCH_TRANSPORTS ["nats kafka"]  BENCH_BUILD [1]
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh
# shellcheck source=scripts/nats.sh disable=SC1091
source scripts/nats.sh

COUNT="${BENCH_EVENTS:-20000}"
PACED="${BENCH_PACED_EVENTS:-2000}"
ROUNDS="${BENCH_ROUNDS:-3}"
TRANSPORTS="${BENCH_TRANSPORTS:-nats kafka}"
PROBE="${MERCATO_BUILD_DIR}/tests/crash/mercato-events-probe"
MOCK="${MERCATO_BUILD_DIR}/tools/kafka-mock/mercato-kafka-mock"

if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
  build_project --target mercato-events-probe mercato-kafka-mock >&2
fi
[[ -x "$PROBE" && -x "$MOCK" ]] || die "build first: $PROBE, $MOCK"

WORK="$(mktemp -d /tmp/mercato-bench-events-XXXXXX)"
declare -a PIDS=()
cleanup() {
  ((${#PIDS[@]})) && proc_stop 10 "${PIDS[@]}"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT

# start_broker NAME: starts the broker in this shell (so cleanup knows its PID) and sets BROKER_URL.
BROKER_URL=""
start_broker() {
  case "$1" in
    nats)
      local port http_port config
      port="$(free_port)"
      http_port="$(free_port "$port")"
      config="$(nats_config_file "$WORK/nats" "$port" "$http_port")"
      nats-server -c "$config" >"$WORK/nats.log" 2>&1 &
      PIDS+=("$!")
      local deadline=$(($(now_ms) + 20000))
      until [[ "$(http_code "http://127.0.0.1:${http_port}/healthz?js-enabled=true" 1)" == 200 ]]; do
        (($(now_ms) < deadline)) || die "nats-server did not start"
        sleep 0.1
      done
      BROKER_URL="nats://127.0.0.1:${port}"
      ;;
    kafka)
      "$MOCK" >"$WORK/kafka.log" 2>&1 &
      PIDS+=("$!")
      local deadline=$(($(now_ms) + 20000)) url=""
      until url="$(grep -o 'kafka://[0-9.:,]*' "$WORK/kafka.log" | head -n 1)" && [[ -n "$url" ]]; do
        (($(now_ms) < deadline)) || die "the Kafka mock did not start"
        sleep 0.1
      done
      BROKER_URL="$url"
      ;;
  esac
}

# run_case URL MODE ROUND COUNT PACE_MS: prints the consumer's result line. The consumer is started
# and sent one warm-up event first; the measured producer starts once it has arrived (subscribed,
# partitions assigned), so a consumer group's start-up is not counted as latency.
run_case() {
  local url="$1" mode="$2" round="$3" count="$4" pace="$5" prefix dir consumer line deadline
  prefix="bench$(printf '%04x%04x' $RANDOM $RANDOM)"
  dir="$WORK/$mode-$round-$prefix"
  mkdir -p "$dir"
  local consume=consume produce=(produce "$dir/producer.db" "$url" "$prefix" 0 "$count" "$pace")
  local warmup=(produce "$dir/producer.db" "$url" "$prefix" 999999999 1)
  if [[ "$mode" == direct ]]; then
    consume=direct-consume
    produce=(direct-produce "$dir/producer.db" "$url" "$prefix" "$count" "$pace")
    warmup=(direct-produce "$dir/producer.db" "$url" "$prefix" warmup)
  fi
  "$PROBE" "$consume" "$dir/consumer.db" "$url" "$prefix" "$count" >"$dir/consumer.out" 2>"$dir/consumer.err" &
  consumer=$!
  "$PROBE" "${warmup[@]}" 2>"$dir/producer.err" || die "warm-up failed: $(cat "$dir/producer.err")"
  deadline=$(($(now_ms) + 30000))
  until grep -q '^ready$' "$dir/consumer.out" 2>/dev/null; do
    (($(now_ms) < deadline)) || die "the consumer never got the warm-up event: $(cat "$dir/consumer.err")"
    sleep 0.05
  done
  "$PROBE" "${produce[@]}" 2>"$dir/producer.err" || die "producer failed: $(cat "$dir/producer.err")"
  wait "$consumer" || die "consumer failed: $(cat "$dir/consumer.err")"
  line="$(tail -n 1 "$dir/consumer.out")"
  echo "$line"
}

echo "## events: $COUNT events per case, $ROUNDS rounds"
echo
echo '```'
for transport in $TRANSPORTS; do
  start_broker "$transport"
  url="$BROKER_URL"
  for ((round = 1; round <= ROUNDS; round++)); do
    for mode in direct outbox; do
      printf '%-6s %-7s %-9s round %d  %s\n' "$transport" "$mode" burst "$round" \
        "$(run_case "$url" "$mode" "$round" "$COUNT" 0)"
      printf '%-6s %-7s %-9s round %d  %s\n' "$transport" "$mode" paced-1ms "$round" \
        "$(run_case "$url" "$mode" "$round" "$PACED" 1)"
    done
  done | tee "$WORK/$transport.txt"
done
echo '```'
echo
echo "Medians over the rounds: burst → events/s (throughput); paced → p50/p99 latency (a paced run is"
echo "not saturated, so its latency is the path's own, not queueing):"
for transport in $TRANSPORTS; do
  for mode in direct outbox; do
    rate="$(grep -E "^$transport +$mode +burst " "$WORK/$transport.txt" | sed -E 's/.* ([0-9]+) events\/s.*/\1/' | sort -n |
      awk '{ v[NR]=$1 } END { print v[int((NR+1)/2)] }')"
    p50="$(grep -E "^$transport +$mode +paced" "$WORK/$transport.txt" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/' | sort -g |
      awk '{ v[NR]=$1 } END { print v[int((NR+1)/2)] }')"
    p99="$(grep -E "^$transport +$mode +paced" "$WORK/$transport.txt" | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/' | sort -g |
      awk '{ v[NR]=$1 } END { print v[int((NR+1)/2)] }')"
    printf '  %-6s %-7s %8s events/s   paced p50 %6s ms   p99 %6s ms\n' "$transport" "$mode" "$rate" "$p50" "$p99"
  done
done
echo
echo "command: BENCH_EVENTS=$COUNT BENCH_PACED_EVENTS=$PACED BENCH_ROUNDS=$ROUNDS BENCH_TRANSPORTS=\"$TRANSPORTS\" ./mercato bench events"
echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "nats-server $(nats-server --version 2>/dev/null | awk '{print $2}'), librdkafka $(dpkg-query -W -f '${Version}' librdkafka1 2>/dev/null)"
