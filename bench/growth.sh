#!/usr/bin/env bash
# bench/growth.sh — how Mercato's throughput and latency grow as the offered rate rises: the load
# generator (build/tools/load/mercato-load) in open loop with its default, realistic mix (register 5,
# read_product 40, place_order 30, read_order 20, cancel_order 5) at a series of rates, each for a
# short duration, against the whole system: `./mercato up --no-build` (NATS JetStream, the six services
# on SQLite, the gateway; orchestrated saga unless BENCH_GROWTH_MODE says otherwise) from a temporary
# root with its own var/ and free ports (bench/lib.sh). A fresh system for every rate, so a rate past
# saturation leaves no backlog to the next and the checker sees exactly that rate's orders. Logins as in
# production: the products are stocked by the system's admin, registrations and product reads are
# anonymous, and orders are placed, read and cancelled by customers who logged in, each with their own
# token (tools/load/main.cpp); the gateway's policy is the shipped one without its per-client rate limits
# (bench/lib.sh: a load generator is one client from one address).
#
# Rates (BENCH_GROWTH_RATES):
#   a list of operations/s (default "100 200 400 800 1600 3200 6400": doubling, from well below this
#   machine's saturation to well past it, the same on every machine so runs compare), or
#   "auto": a closed-loop run first (BENCH_GROWTH_CLOSED_CONNECTIONS clients, same mix and duration)
#   measures the saturation S (ok operations/s), then the open-loop rates are BENCH_GROWTH_STEPS percent
#   of S (default "10 25 50 75 90 100 110 125 150"). Mind that S is what the system answers: placing an
#   order answers 201 `pending` before its saga runs, and the sagas saturate at a much lower rate (see
#   bench/orders.sh), so past a fraction of S the orders' placed → confirmed time climbs while the
#   operations' own latency still looks fine. The fixed list shows both knees on the same axis.
# Per rate: achieved throughput (ok + expected-409 operations per second, first send to last answer),
# errors, unsent operations (due but never sent: every connection busy), p50/p99 of all operations and
# of place_order, p50/p99 of order placed → confirmed (orders.placed_to_confirmed_us), confirmed
# orders/s, orders still pending after the settle, and the checker's verdict (mercato-load runs
# `./mercato check` against that system at the end of each rate), plus the CPU share of every process
# while it ran (bench/lib.sh).
#
# Writes var/bench/growth-<timestamp>/: report.md (a markdown table, the exact commands, the machine;
# also printed), growth.tsv (the data, one line per rate), growth.gp (the gnuplot script, a copy of
# bench/gnuplot/growth.gp), growth.svg (the plot: offered rate on x, log scale; achieved throughput on
# the left axis; p99 of all operations and of placed → confirmed on the right axis, log scale), and
# per rate its JSON (rate-<N>.json), mercato-load's output (.log), CPU samples (.cpu) and the system's
# log (.up.log). The image is also copied to docs/img/growth.svg (BENCH_GROWTH_DOCS_IMAGE=0: not).
# Every process it starts is stopped by PID when it exits (normally, on error or on Ctrl-C).
#
# Duration: per rate a system start (a few seconds), BENCH_GROWTH_DURATION of load, the settle (short
# below saturation, up to BENCH_GROWTH_SETTLE past it) and the checker (seconds; tens of seconds when
# thousands of orders were placed): about 7 × 1 min with the defaults.
#
# Environment (defaults in brackets):
#   BENCH_GROWTH_RATES ["100 200 400 800 1600 3200 6400"]   operations/s, or "auto" (see above)
#   BENCH_GROWTH_STEPS ["10 25 50 75 90 100 110 125 150"]   percent of the saturation, for "auto"
#   BENCH_GROWTH_DURATION [20s]     load per rate
#   BENCH_GROWTH_SETTLE [30s]       mercato-load --settle (how long placed orders may take to settle)
#   BENCH_GROWTH_CONNECTIONS [256]  open loop: most requests in flight (due ones wait, and it counts)
#   BENCH_GROWTH_CLOSED_CONNECTIONS [32]   clients of the "auto" saturation run
#   BENCH_GROWTH_MODE [orchestration]      MERCATO_SAGA_MODE of the system
#   BENCH_GROWTH_MIX                mercato-load --mix (default: its realistic default mix)
#   BENCH_GROWTH_LOAD_ARGS          extra mercato-load arguments for every run (e.g. "--threads 2")
#   BENCH_GROWTH_IMAGE [svg]        svg | png (gnuplot's svg terminal, or pngcairo)
#   BENCH_GROWTH_DOCS_IMAGE [1]     1 = copy the image to docs/img/growth.<svg|png>
#   BENCH_BUILD [1]                 0 = do not build first (the binaries must exist)
#   BENCH_KEEP [0]                  1 = keep the temporary folder (the systems' var/)
#   MERCATO_EVENTS, MERCATO_EVENTS_URL   the broker, as for ./mercato up (default: NATS JetStream)
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

read -r -a RATES <<<"${BENCH_GROWTH_RATES:-100 200 400 800 1600 3200 6400}"
read -r -a STEPS <<<"${BENCH_GROWTH_STEPS:-10 25 50 75 90 100 110 125 150}"
read -r -a EXTRA_ARGS <<<"${BENCH_GROWTH_LOAD_ARGS:-}"
DURATION="${BENCH_GROWTH_DURATION:-20s}"
SETTLE="${BENCH_GROWTH_SETTLE:-30s}"
CONNECTIONS="${BENCH_GROWTH_CONNECTIONS:-256}"
CLOSED_CONNECTIONS="${BENCH_GROWTH_CLOSED_CONNECTIONS:-32}"
MODE="${BENCH_GROWTH_MODE:-orchestration}"
MIX="${BENCH_GROWTH_MIX:-}"
IMAGE="${BENCH_GROWTH_IMAGE:-svg}"
DOCS_IMAGE="${BENCH_GROWTH_DOCS_IMAGE:-1}"

# positive TEXT: true when TEXT is a number above 0.
positive() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v r="$1" 'BEGIN { exit !(r > 0) }'; }

AUTO=0
if [[ "${RATES[*]}" == auto ]]; then
  AUTO=1
  ((${#STEPS[@]})) || die "BENCH_GROWTH_STEPS names no step"
  for p in "${STEPS[@]}"; do
    [[ "$p" =~ ^[1-9][0-9]*$ ]] || die "BENCH_GROWTH_STEPS: '$p' is not a positive integer (percent)"
  done
else
  ((${#RATES[@]})) || die "BENCH_GROWTH_RATES names no rate"
  for r in "${RATES[@]}"; do
    positive "$r" || die "BENCH_GROWTH_RATES: '$r' is not a positive number (operations/s) or \"auto\""
  done
fi
bench_positive BENCH_GROWTH_ CONNECTIONS CLOSED_CONNECTIONS
[[ "$MODE" == orchestration || "$MODE" == choreography ]] || die "BENCH_GROWTH_MODE must be orchestration or choreography"
[[ "$IMAGE" == svg || "$IMAGE" == png ]] || die "BENCH_GROWTH_IMAGE must be svg or png"
DURATION_S="$(bench_seconds "$DURATION")"
SETTLE_S="$(bench_seconds "$SETTLE")"
MIX_ARGS=()
[[ -n "$MIX" ]] && MIX_ARGS=(--mix "$MIX")

bench_prepare
command -v gnuplot >/dev/null 2>&1 || die "gnuplot not found (./mercato deps bench installs gnuplot-nox)"

bench_workspace growth
START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
T_START="$(now_ms)"

COMMANDS=()
UP_SHOWN=0

# run NAME BOUND ARGS...: a fresh system, one mercato-load run against it, the system stopped.
run() {
  local name="$1" bound="$2"
  shift 2
  bench_up "$RESULTS/$name.up.log" "MERCATO_SAGA_MODE=$MODE"
  if ((!UP_SHOWN)); then
    UP_SHOWN=1
    COMMANDS+=("# the system (ports picked free at run time; a fresh one for every rate)" "$BENCH_UP_CMD")
  fi
  bench_load "$name" "$bound" "${MIX_ARGS[@]}" "${EXTRA_ARGS[@]}" "$@"
  bench_down
}

# ok_per_second NAME: successful operations (ok + expected 409s) per second of a run.
ok_per_second() {
  bench_json "$1" 'if .elapsed_s > 0 then ((.total.ok + .total.conflicts) / .elapsed_s * 10 | round / 10) else null end'
}

SATURATION=""
if ((AUTO)); then
  log_info "saturation: closed loop, $CLOSED_CONNECTIONS clients, ${DURATION_S}s"
  run saturation $((DURATION_S + SETTLE_S + 600)) --closed --connections "$CLOSED_CONNECTIONS" \
    --duration "${DURATION_S}s" --settle "${SETTLE_S}s"
  COMMANDS+=("# saturation (closed loop)" "$LOAD_CMD")
  SATURATION="$(ok_per_second saturation)"
  positive "$SATURATION" || die "the closed-loop run measured no throughput (see $RESULTS/saturation.log)"
  log_info "saturation: $SATURATION operations/s; the CPU: ${LOAD_CPU:-no samples}"
  RATES=()
  for p in "${STEPS[@]}"; do
    RATES+=("$(awk -v s="$SATURATION" -v p="$p" 'BEGIN { r = s * p / 100; if (r < 1) r = 1; printf "%.0f", r }')")
  done
fi

DATA="$RESULTS/growth.tsv"
printf '# offered_ops_per_s\tachieved_ops_per_s\terrors\tunsent\tp50_ms\tp99_ms\tplaced_to_confirmed_p50_ms\tplaced_to_confirmed_p99_ms\tconfirmed_orders_per_s\tplaced\tpending\n' >"$DATA"
ROWS=()
CPU_LINES=()
log_info "growth: ${#RATES[@]} rate(s) (${RATES[*]} operations/s), ${DURATION_S}s each, open loop, saga $MODE"
for rate in "${RATES[@]}"; do
  name="rate-$rate"
  count="$(awk -v r="$rate" -v d="$DURATION_S" 'BEGIN { print int(r * d) }')"
  log_info "rate $rate operations/s for ${DURATION_S}s"
  # Errors past saturation are data here (the gateway sheds load with 503s), not a failed run: only the
  # checker or the setup fail a rate (--max-error-rate 1).
  run "$name" $((DURATION_S + SETTLE_S + 300 + count / 100)) --rate "$rate" --connections "$CONNECTIONS" \
    --duration "${DURATION_S}s" --settle "${SETTLE_S}s" --max-error-rate 1
  COMMANDS+=("# $rate operations/s" "$LOAD_CMD")
  achieved="$(ok_per_second "$name")"
  errors="$(bench_json "$name" .total.errors.total)"
  unsent="$(bench_json "$name" .unsent)"
  p50="$(bench_ms "$(bench_json "$name" .total.latency_us.p50)")"
  p99="$(bench_ms "$(bench_json "$name" .total.latency_us.p99)")"
  po99="$(bench_ms "$(bench_json "$name" .operations.place_order.latency_us.p99)")"
  pc50="$(bench_ms "$(bench_json "$name" .orders.placed_to_confirmed_us.p50)")"
  pc99="$(bench_ms "$(bench_json "$name" .orders.placed_to_confirmed_us.p99)")"
  confirmed_s="$(bench_json "$name" .orders.confirmed_per_second)"
  placed="$(bench_json "$name" .orders.placed)"
  pending="$(bench_json "$name" .orders.pending)"
  verdict="$(bench_json "$name" .check.verdict)"
  [[ "$verdict" == "–" ]] && verdict="no verdict (see $name.log)"
  if [[ "$(bench_json "$name" .passed)" != true ]]; then
    verdict+="; load run FAILED (exit $LOAD_STATUS): $(bench_json "$name" '.failures | join("; ")')"
  fi
  ROWS+=("$rate	$achieved	$errors	$unsent	$p50	$p99	$po99	$pc50	$pc99	$confirmed_s	$placed	$pending	$verdict")
  CPU_LINES+=("$rate operations/s: ${LOAD_CPU:-no samples}")
  # The data file: numbers only, "-" for none (gnuplot's missing value).
  printf '%s\n' "$rate	$achieved	$errors	$unsent	$p50	$p99	$pc50	$pc99	$confirmed_s	$placed	$pending" |
    sed 's/–/-/g' >>"$DATA"
  log_info "rate $rate: achieved $achieved ok operations/s, errors $errors, unsent $unsent, p50 $p50 p99 $p99 ms;" \
    "placed → confirmed p50 $pc50 p99 $pc99 ms, $confirmed_s confirmed/s, $pending pending; $verdict"
  if [[ -n "$LOAD_CPU" ]]; then log_note "CPU: $LOAD_CPU"; fi
done
ELAPSED_S=$((($(now_ms) - T_START) / 1000))

# ---------------------------------------------------------------------------------------------------
# The plot

PLOT="growth.$IMAGE"
cp bench/gnuplot/growth.gp "$RESULTS/growth.gp"
SUBTITLE="$(date -u '+%Y-%m-%d') $(bench_rev), $(nproc) cores; SQLite, $MODE saga, NATS; ${DURATION_S}s per rate, open loop, default mix"
[[ -n "$MIX" ]] && SUBTITLE="${SUBTITLE%default mix}mix $MIX"
GNUPLOT_CMD=(gnuplot -e "data='growth.tsv'; out='$PLOT'; subtitle='$SUBTITLE'; rates='${RATES[*]}'" growth.gp)
if (cd "$RESULTS" && "${GNUPLOT_CMD[@]}") >"$RESULTS/gnuplot.log" 2>&1; then
  if [[ "$DOCS_IMAGE" == 1 ]]; then
    mkdir -p docs/img
    cp "$RESULTS/$PLOT" "docs/img/$PLOT"
    log_info "plot copied to docs/img/$PLOT"
  fi
else
  log_warn "gnuplot failed (see $RESULTS/gnuplot.log)"
  PLOT=""
fi

# ---------------------------------------------------------------------------------------------------
# Report

report() {
  local r
  local -a f
  echo "### Growth: throughput and latency as the offered rate rises ($(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_rev))"
  echo
  if ((AUTO)); then
    echo "Saturation first: closed loop, $CLOSED_CONNECTIONS clients, ${DURATION_S}s: **$SATURATION ok" \
      "operations/s**; the rates below are ${STEPS[*]} percent of it."
    echo
  fi
  echo "| offered ops/s | achieved ops/s | errors | unsent | p50 | p99 | place_order p99 | placed → confirmed p50 | p99 | confirmed orders/s | orders placed | pending after settle | checker |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for r in "${ROWS[@]}"; do
    IFS=$'\t' read -r -a f <<<"$r"
    printf '| %s ' "${f[@]}"
    echo '|'
  done
  echo
  if [[ -n "$PLOT" ]]; then
    echo "![throughput and p99 against the offered rate]($PLOT)"
    echo
  fi
  echo "Latencies in ms. Open loop (latency from each operation's intended send, so queueing shows), the" \
    "mix ${MIX:-$(bench_json "rate-${RATES[0]}" '.mix | to_entries | map("\(.key) \(.value)") | join(", ")')}," \
    "${DURATION_S}s per rate, at most $CONNECTIONS requests in flight (operations due while all are busy wait," \
    "and past the duration they are \"unsent\"), a fresh system per rate. Achieved = ok operations (and the" \
    "expected 409s of cancel_order) per second from the first send to the last answer. Placed → confirmed:" \
    "the order's updated_at − created_at (1 ms resolution), over the orders confirmed within the ${SETTLE_S}s" \
    "settle (the pending ones are not in it). Every rate ends with \`./mercato check\` against its system."
  echo "System: \`./mercato up --no-build\`: events over ${MERCATO_EVENTS_URL:-${MERCATO_EVENTS:-nats}}," \
    "every service on SQLite (WAL, synchronous=NORMAL), saga $MODE, every process as config/*.yaml has it" \
    "(one I/O thread each, access logs on), the gateway's policy config/gateway-policy.yaml without its" \
    "per-client rateLimits (bench/lib.sh). Products stocked by the system's admin; orders placed, read and" \
    "cancelled by customers who logged in, with their own tokens. The whole run took" \
    "$((ELAPSED_S / 60)) min $((ELAPSED_S % 60)) s; load average at its start: $START_LOAD."
  echo
  echo "Where the CPU went at each rate (CPU time per process from /proc, sampled every half second, over the" \
    "run's sending window or its orders' confirmation, whichever is longer; 100% = one core; \"others\": the" \
    "machine's busy time outside these processes):"
  echo
  for r in "${CPU_LINES[@]}"; do echo "- $r"; done
  echo
  echo "Commands (\$TMP is a temporary folder; \$GATEWAY the system's gateway; every run also passes" \
    "--no-progress and --check-command \"env -u MERCATO_ADMIN_TOKEN MERCATO_VAR_DIR=\$TMP/root/var \$TMP/root/mercato check\"):"
  echo
  echo '```'
  local steps=""
  ((AUTO)) && steps=" BENCH_GROWTH_STEPS=\"${STEPS[*]}\""
  echo "BENCH_GROWTH_RATES=\"${BENCH_GROWTH_RATES:-${RATES[*]}}\"$steps" \
    "BENCH_GROWTH_DURATION=$DURATION BENCH_GROWTH_SETTLE=$SETTLE BENCH_GROWTH_CONNECTIONS=$CONNECTIONS" \
    "BENCH_GROWTH_MODE=$MODE${MIX:+ BENCH_GROWTH_MIX=$MIX}${BENCH_GROWTH_LOAD_ARGS:+ BENCH_GROWTH_LOAD_ARGS=\"$BENCH_GROWTH_LOAD_ARGS\"}" \
    "./mercato bench growth"
  printf '%s\n' "${COMMANDS[@]}"
  echo "# the plot, in the results folder (growth.gp is bench/gnuplot/growth.gp)"
  echo "gnuplot -e \"${GNUPLOT_CMD[2]}\" growth.gp"
  echo '```'
  echo
  echo "Machine:"
  echo
  bench_machine
}

report | tee "$RESULTS/report.md"
log_info "report, data, plot and raw output: ${RESULTS#"$MERCATO_ROOT"/}/"
