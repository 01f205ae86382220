#!/usr/bin/env bash
# bench/orders.sh — the order flow end to end: how many orders per second the whole system confirms at
# saturation, and how long an order takes from placed to confirmed at 25%, 50% and 75% of that rate;
# for each saga mode (orchestration, choreography) and each storage (SQLite; PostgreSQL).
#
# Each combination runs on whole systems of its own: `./mercato up --no-build` (NATS JetStream, the six
# services, the gateway) from a temporary root with its own var/ and free ports (bench/lib.sh), with
# MERCATO_SAGA_MODE set; a fresh system for every run below (fresh databases, fresh streams), so one
# run's backlog never leaks into the next and the checker sees exactly that run's orders. Storage:
#   sqlite     every service on its own SQLite file (WAL, synchronous=NORMAL: lib/sqlite), as `up` runs them;
#   postgres   every service that has a PostgreSQL adapter on a private PostgreSQL started for this
#              script (initdb in a temporary folder, a free port, stopped by PID; PostgreSQL's own
#              durability: fsync on, synchronous_commit=BENCH_ORDERS_PG_SYNCHRONOUS_COMMIT, default on),
#              one database per service, created afresh for every run and passed as
#              MERCATO_<NAME>_DATABASE_URL: user, order, payment, inventory (BENCH_ORDERS_PG_SERVICES).
#              shipping and notification stay on SQLite unless listed there.
#
# Runs per combination, all with the load generator (build/tools/load/mercato-load) through the
# gateway, orders only (--mix place_order=1), each ending with the checker (`./mercato check` against
# that system, run by mercato-load; its verdict is in the table). As in production, the products are
# stocked by the system's admin (the password its ./mercato up wrote) and every order is placed and read
# back by a customer who logged in, with their own token; the gateway's policy is the shipped one without
# its per-client rate limits (bench/lib.sh: a load generator is one client from one address):
#   1. probe       closed loop, BENCH_ORDERS_CONNECTIONS clients, a burst of BENCH_ORDERS_PROBE_ORDERS
#                  orders, settled: a first estimate R0 of confirmed orders/s.
#   2. saturation  closed loop, the same clients, a burst of R0 × BENCH_ORDERS_DURATION orders (so that
#                  confirming them takes about that long), settled for up to 2 × the duration + 30 s;
#                  SATURATION = its confirmed orders/s (orders.confirmed_per_second: confirmed / (last
#                  confirmation − first placement), the order service's clock).
#                  Why a burst and not a timed closed loop: placing an order answers 201 `pending` long
#                  before its saga confirms it, so closed-loop clients place orders far faster than the
#                  sagas finish them; a timed run would leave a backlog that takes minutes to drain while
#                  the settle phase polls every pending order. A burst sized from the probe keeps the
#                  backlog to about one duration's worth and still measures the confirmation rate at
#                  saturation (the accepted rate, place_order/s, is in the table too).
#   3. 25% 50% 75% open loop at that share of SATURATION (orders/s; latency from each order's intended
#                  send, so queueing shows) for BENCH_ORDERS_DURATION each, settled for up to
#                  BENCH_ORDERS_SETTLE: p50/p99 of placed → confirmed (orders.placed_to_confirmed_us)
#                  and of place_order itself.
# While each run goes on, the CPU time of every process of the system (and of PostgreSQL, mercato-load,
# and the rest of the machine) is sampled once a second; the report gives the shares over the measured
# window (bench/lib.sh), which says what limits the rate.
#
# Prints a markdown report (a summary per combination against the issue's targets, a table of every
# run, CPU shares, the exact commands, the machine) and keeps it in var/bench/orders-<timestamp>/report.md
# with every run's JSON (<mode>-<storage>-<run>.json), mercato-load's output (.log), the CPU samples
# (.cpu) and the ./mercato up log of each system. Nothing is appended to docs/ (paste from the report).
# Every process it starts is stopped by PID when it exits (normally, on error or on Ctrl-C).
#
# Duration: per combination five system starts (a few seconds each), the probe, the saturation burst
# (about 2 × DURATION: placing, then confirming) and the open-loop runs (DURATION each), plus each run's
# settle and checker (seconds to tens of seconds, growing with the orders placed): about 4–5 min per
# combination with the defaults, 15–20 min for all four.
#
# Environment (defaults in brackets):
#   BENCH_ORDERS_MODES ["orchestration choreography"]   saga modes (MERCATO_SAGA_MODE)
#   BENCH_ORDERS_STORAGES ["sqlite postgres"]           storages (see above)
#   BENCH_ORDERS_DURATION [30s]      each open-loop run; also the target length of the saturation burst
#   BENCH_ORDERS_CONNECTIONS [32]    closed-loop clients (probe, saturation)
#   BENCH_ORDERS_OPEN_CONNECTIONS [256]  open loop: most requests in flight (more wait, and it counts)
#   BENCH_ORDERS_PROBE_ORDERS [500]  orders of the probe burst
#   BENCH_ORDERS_SHARES ["25 50 75"] the open-loop rates, in percent of SATURATION
#   BENCH_ORDERS_SETTLE [60s]        mercato-load --settle of the open-loop runs and the probe
#   BENCH_ORDERS_PG_SYNCHRONOUS_COMMIT [on]   PostgreSQL's synchronous_commit (on | off)
#   BENCH_ORDERS_PG_SERVICES ["user order payment inventory"]   the services put on PostgreSQL
#   BENCH_ORDERS_ADMISSION [off]     the order service's admission control: off = limits that never
#                                    refuse, so a burst is accepted whole and saturation is the sagas'
#                                    own rate (with it on, most of a 32-client burst is refused with 503
#                                    and the rate is taken over the few accepted); on = as shipped
#   BENCH_ORDERS_LOAD_ARGS           extra mercato-load arguments for every run (e.g. "--threads 2")
#   BENCH_BUILD [1]                  0 = do not build first (the binaries must exist)
#   BENCH_KEEP [0]                   1 = keep the temporary folder (systems' var/, PostgreSQL data)
#   MERCATO_EVENTS, MERCATO_EVENTS_URL   the broker, as for ./mercato up (default: NATS JetStream)
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

bench_saga_modes BENCH_ORDERS_MODES
read -r -a STORAGES <<<"${BENCH_ORDERS_STORAGES:-sqlite postgres}"
read -r -a SHARES <<<"${BENCH_ORDERS_SHARES:-25 50 75}"
read -r -a PG_SERVICES <<<"${BENCH_ORDERS_PG_SERVICES:-user order payment inventory}"
read -r -a EXTRA_ARGS <<<"${BENCH_ORDERS_LOAD_ARGS:-}"
DURATION="${BENCH_ORDERS_DURATION:-30s}"
SETTLE="${BENCH_ORDERS_SETTLE:-60s}"
CONNECTIONS="${BENCH_ORDERS_CONNECTIONS:-32}"
OPEN_CONNECTIONS="${BENCH_ORDERS_OPEN_CONNECTIONS:-256}"
PROBE_ORDERS="${BENCH_ORDERS_PROBE_ORDERS:-500}"
PG_SYNC="${BENCH_ORDERS_PG_SYNCHRONOUS_COMMIT:-on}"

((${#STORAGES[@]})) || die "BENCH_ORDERS_STORAGES names no storage"
for s in "${STORAGES[@]}"; do
  [[ "$s" == sqlite || "$s" == postgres ]] || die "unknown storage '$s' (sqlite postgres)"
done
bench_positive BENCH_ORDERS_ CONNECTIONS OPEN_CONNECTIONS PROBE_ORDERS
for p in "${SHARES[@]}"; do
  [[ "$p" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ORDERS_SHARES: '$p' is not a positive integer (percent)"
done
[[ "$PG_SYNC" == on || "$PG_SYNC" == off ]] || die "BENCH_ORDERS_PG_SYNCHRONOUS_COMMIT must be on or off"
for s in "${PG_SERVICES[@]}"; do
  service_storage "$s" >/dev/null || die "BENCH_ORDERS_PG_SERVICES: unknown service '$s'"
done
DURATION_S="$(bench_seconds "$DURATION")"
SETTLE_S="$(bench_seconds "$SETTLE")"
SAT_SETTLE_S=$((2 * DURATION_S + 30))
want_storage() { [[ " ${STORAGES[*]} " == *" $1 "* ]]; }

bench_prepare

bench_workspace orders
bench_root
ADMISSION="${BENCH_ORDERS_ADMISSION:-off}"
bench_admission "$ADMISSION"
START_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
T_START="$(now_ms)"

# ---------------------------------------------------------------------------------------------------
# Systems

declare -A PG_URL=()
if want_storage postgres; then
  log_info "starting a private PostgreSQL (synchronous_commit=$PG_SYNC)"
  bench_pg_start "$PG_SYNC" "$RESULTS/postgres.log"
  log_note "$BENCH_PG_VERSION on 127.0.0.1:$BENCH_PG_PORT"
fi

COMMANDS=()
declare -A SEEN_CMD=()
# remember TEXT...: a command for the report, once.
remember() {
  local line
  for line in "$@"; do
    [[ -n "${SEEN_CMD[$line]:-}" ]] && continue
    SEEN_CMD[$line]=1
    COMMANDS+=("$line")
  done
}

# system_up MODE STORAGE RUN: a fresh system for one run (fresh PostgreSQL databases too).
system_up() {
  local mode="$1" storage="$2" run="$3" name
  local -a env_up=("MERCATO_SAGA_MODE=$mode")
  if [[ "$storage" == postgres ]]; then
    for name in "${PG_SERVICES[@]}"; do
      PG_URL[$name]="$(bench_pg_database "mercato_$name")"
      env_up+=("MERCATO_${name^^}_DATABASE_URL=${PG_URL[$name]}")
    done
  fi
  bench_up "$RESULTS/$mode-$storage-$run.up.log" "${env_up[@]}"
  log_note "system ready in ${BENCH_UP_READY_MS} ms (gateway $BENCH_GATEWAY)"
  [[ "$run" == probe ]] &&
    remember "# $mode, $storage: the system (ports picked free at run time; a fresh one, on fresh databases, for every run)" \
      "$BENCH_UP_CMD"
  return 0
}

# ---------------------------------------------------------------------------------------------------
# Runs

ROWS=()           # one tab-separated line per run, for the table
CPU_LINES=()      # "mode storage run: shares"
declare -A SATURATION=() ACCEPTED=() P99_HALF=() CHECKS=() PASSES=() FAILS=() NOTES=()

# row MODE STORAGE RUN LABEL OFFERED: the table line of a finished run from its JSON.
row() {
  local mode="$1" storage="$2" run="$3" label="$4" offered="$5" j="$1-$2-$3"
  local placed confirmed_s accepted_s pc50 pc99 po50 po99 errors unsent pending cancelled verdict passed
  placed="$(bench_json "$j" .orders.placed)"
  confirmed_s="$(bench_json "$j" .orders.confirmed_per_second)"
  accepted_s="$(bench_json "$j" .operations.place_order.throughput_per_s)"
  pc50="$(bench_ms "$(bench_json "$j" '.orders.placed_to_confirmed_us.p50')")"
  pc99="$(bench_ms "$(bench_json "$j" '.orders.placed_to_confirmed_us.p99')")"
  po50="$(bench_ms "$(bench_json "$j" '.operations.place_order.latency_us.p50')")"
  po99="$(bench_ms "$(bench_json "$j" '.operations.place_order.latency_us.p99')")"
  errors="$(bench_json "$j" .total.errors.total)"
  unsent="$(bench_json "$j" .unsent)"
  pending="$(bench_json "$j" .orders.pending)"
  cancelled="$(bench_json "$j" .orders.cancelled)"
  verdict="$(bench_json "$j" .check.verdict)"
  passed="$(bench_json "$j" .passed)"
  [[ "$verdict" == "–" ]] && verdict="no verdict (see $j.log)"
  [[ "$passed" == true ]] || verdict+="; load run FAILED (exit $LOAD_STATUS): $(bench_json "$j" '.failures | join("; ")')"
  ROWS+=("$mode	$storage	$label	$offered	$placed	$accepted_s	$confirmed_s	$pc50	$pc99	$po50	$po99	$errors	$unsent	$pending	$cancelled	$verdict")
  CPU_LINES+=("$mode, $storage, $label: ${LOAD_CPU:-no samples}")
  CHECKS["$mode/$storage"]=$((${CHECKS["$mode/$storage"]:-0} + 1))
  if [[ "$verdict" == "check: PASSED" ]]; then
    PASSES["$mode/$storage"]=$((${PASSES["$mode/$storage"]:-0} + 1))
  else
    FAILS["$mode/$storage"]+="${FAILS["$mode/$storage"]:+; }$run: $verdict"
  fi
  log_info "$mode/$storage $label: placed $placed, accepted $accepted_s/s, confirmed $confirmed_s/s," \
    "placed→confirmed p50 $pc50 p99 $pc99 ms, place_order p99 $po99 ms, errors $errors, pending $pending; $verdict"
  if [[ -n "$LOAD_CPU" ]]; then log_note "CPU: $LOAD_CPU"; fi
}

# one_run MODE STORAGE RUN LABEL OFFERED BOUND ARGS...: a fresh system, one mercato-load run, its row.
one_run() {
  local mode="$1" storage="$2" run="$3" label="$4" offered="$5" bound="$6"
  shift 6
  system_up "$mode" "$storage" "$run"
  log_info "$mode/$storage: $label"
  bench_load "$mode-$storage-$run" "$bound" --mix place_order=1 "${EXTRA_ARGS[@]}" "$@"
  remember "# $mode, $storage: $label" "$LOAD_CMD"
  bench_down
  row "$mode" "$storage" "$run" "$label" "$offered"
}

# rate_of MODE STORAGE RUN: orders.confirmed_per_second of a run, as a number (0 when missing).
rate_of() {
  local r
  r="$(bench_json "$1-$2-$3" .orders.confirmed_per_second)"
  [[ "$r" =~ ^[0-9]+(\.[0-9]+)?$ ]] || r=0
  echo "$r"
}

combination() {
  local mode="$1" storage="$2" r0 sat count bound share rate half=""
  log_info "=== $mode, $storage"
  # 1. probe
  bound=$((DURATION_S * 2 + SETTLE_S + 300 + PROBE_ORDERS / 50))
  one_run "$mode" "$storage" probe "probe: closed, $CONNECTIONS clients, $PROBE_ORDERS orders" "–" "$bound" \
    --closed --connections "$CONNECTIONS" --count "$PROBE_ORDERS" --duration "$((DURATION_S * 2))s" \
    --settle "${SETTLE_S}s"
  r0="$(rate_of "$mode" "$storage" probe)"
  if awk -v r="$r0" 'BEGIN { exit !(r <= 0) }'; then
    NOTES["$mode/$storage"]="the probe confirmed no order: the other runs were skipped"
    log_warn "$mode/$storage: the probe confirmed no order; skipping the rest of this combination"
    return 0
  fi
  # 2. saturation: a burst sized to take about DURATION to confirm.
  count="$(awk -v r="$r0" -v d="$DURATION_S" 'BEGIN { c = int(r * d + 0.5); if (c < 100) c = 100; print c }')"
  bound=$((DURATION_S * 3 + SAT_SETTLE_S + 300 + count / 50))
  one_run "$mode" "$storage" saturation "saturation: closed, $CONNECTIONS clients, $count orders" "–" "$bound" \
    --closed --connections "$CONNECTIONS" --count "$count" --duration "$((DURATION_S * 3))s" \
    --settle "${SAT_SETTLE_S}s"
  sat="$(rate_of "$mode" "$storage" saturation)"
  SATURATION["$mode/$storage"]="$sat"
  ACCEPTED["$mode/$storage"]="$(bench_json "$mode-$storage-saturation" .operations.place_order.throughput_per_s)"
  if awk -v r="$sat" 'BEGIN { exit !(r <= 0) }'; then
    NOTES["$mode/$storage"]="the saturation run confirmed no order: the open-loop runs were skipped"
    log_warn "$mode/$storage: no saturation rate; skipping the open-loop runs"
    return 0
  fi
  # 3. open loop at shares of it.
  for share in "${SHARES[@]}"; do
    rate="$(awk -v r="$sat" -v p="$share" 'BEGIN { x = r * p / 100; if (x < 1) x = 1; printf "%.1f", x }')"
    count=$(awk -v r="$rate" -v d="$DURATION_S" 'BEGIN { print int(r * d) }')
    bound=$((DURATION_S + SETTLE_S + 300 + count / 50))
    one_run "$mode" "$storage" "open$share" "$share%: open, $rate orders/s, ${DURATION_S}s" "$rate" "$bound" \
      --rate "$rate" --connections "$OPEN_CONNECTIONS" --duration "${DURATION_S}s" --settle "${SETTLE_S}s"
    [[ "$share" == 50 ]] && half="$(bench_json "$mode-$storage-open50" '.orders.placed_to_confirmed_us.p99')"
  done
  P99_HALF["$mode/$storage"]="$half"
}

log_info "order flow: modes ${MODES[*]}; storages ${STORAGES[*]}; open-loop runs ${DURATION_S}s at ${SHARES[*]}% of saturation"
for storage in "${STORAGES[@]}"; do
  for mode in "${MODES[@]}"; do
    combination "$mode" "$storage"
  done
done
bench_pg_stop
ELAPSED_S=$((($(now_ms) - T_START) / 1000))

# ---------------------------------------------------------------------------------------------------
# Report

storage_label() {
  case "$1" in
    sqlite) echo "SQLite" ;;
    postgres) echo "PostgreSQL" ;;
  esac
}

report() {
  local mode storage key sat half r name
  local -a rest=() f
  for name in $(service_names); do
    [[ " ${PG_SERVICES[*]} " == *" $name "* ]] || rest+=("$name")
  done
  echo "### Order flow end to end ($(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_rev))"
  echo
  echo "| saga | storage | saturation: confirmed orders/s | accepted orders/s (same run) | placed → confirmed p99 at 50% | checker |"
  echo "|---|---|---:|---:|---:|---|"
  for storage in "${STORAGES[@]}"; do
    for mode in "${MODES[@]}"; do
      key="$mode/$storage"
      sat="${SATURATION[$key]:-–}"
      half="${P99_HALF[$key]:-}"
      echo "| $mode | $(storage_label "$storage") | $sat | ${ACCEPTED[$key]:-–} |" \
        "$(if [[ -n "$half" ]]; then echo "$(bench_ms "$half") ms"; else echo "–"; fi) |" \
        "${PASSES[$key]:-0} of ${CHECKS[$key]:-0} runs PASSED${FAILS[$key]:+ (${FAILS[$key]})}${NOTES[$key]:+; ${NOTES[$key]}} |"
    done
  done
  echo
  echo "Targets (issue 7): ≥ 2,000 confirmed orders/s on this 2-core machine with durable storage, and p99" \
    "placed → confirmed ≤ 50 ms at half that rate. Against them:"
  for storage in "${STORAGES[@]}"; do
    for mode in "${MODES[@]}"; do
      key="$mode/$storage"
      sat="${SATURATION[$key]:-}"
      half="${P99_HALF[$key]:-}"
      [[ -n "$sat" ]] || continue
      awk -v m="$mode" -v s="$(storage_label "$storage")" -v r="$sat" -v h="$half" 'BEGIN {
        line = sprintf("- %s, %s: %.0f confirmed orders/s = %.1f%% of 2,000", m, s, r, r / 20)
        if (h != "" && h != "–") line = line sprintf("; p99 at 50%% of its own saturation %.1f ms (%s 50 ms)", h / 1000, (h / 1000 <= 50 ? "within" : "above"))
        print line "." }'
    done
  done
  echo
  echo "Every run (a fresh system each; orders only; latencies in ms; \"accepted\" = place_order answers/s," \
    "\"confirmed\" = confirmed orders/s, first placement to last confirmation on the order service's clock):"
  echo
  echo "| saga | storage | run | offered orders/s | placed | accepted /s | confirmed /s | placed → confirmed p50 | p99 | place_order p50 | p99 | errors | unsent | pending after settle | cancelled | checker |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for r in "${ROWS[@]}"; do
    IFS=$'\t' read -r -a f <<<"$r"
    f[1]="$(storage_label "${f[1]}")"
    printf '| %s ' "${f[@]}"
    echo '|'
  done
  echo
  echo "Where the CPU went while each run's orders were placed and confirmed (CPU time per process from" \
    "/proc, sampled every half second; 100% = one core; \"others\": the machine's busy time outside these" \
    "processes, e.g. other users of a shared machine):"
  echo
  for r in "${CPU_LINES[@]}"; do echo "- $r"; done
  echo
  echo "How: \`./mercato up --no-build\` per run with MERCATO_SAGA_MODE, events over" \
    "${MERCATO_EVENTS_URL:-${MERCATO_EVENTS:-nats}} (the broker up starts), every process as config/*.yaml" \
    "has it (one I/O thread each, access logs on). The probe and saturation runs are closed-loop bursts" \
    "(--count) from $CONNECTIONS clients, settled for up to ${SETTLE_S}s and ${SAT_SETTLE_S}s; the" \
    "saturation burst is the probe's rate × ${DURATION_S}s orders. Open-loop runs: ${DURATION_S}s at the" \
    "rate shown, at most $OPEN_CONNECTIONS requests in flight, latency from each order's intended send," \
    "settled for up to ${SETTLE_S}s. Placed → confirmed: the order's updated_at − created_at (1 ms" \
    "resolution). Every run ends with \`./mercato check\` against its system (mercato-load runs it)." \
    "Authorization as in production: the products stocked by the system's admin, every order placed and" \
    "read back by a customer who logged in, with their own token; the gateway's policy is" \
    "config/gateway-policy.yaml without its per-client rateLimits (bench/lib.sh). Admission control:" \
    "$ADMISSION ($([[ "$ADMISSION" == off ]] && echo "config/order.yaml with limits that never refuse" || echo "as shipped"); BENCH_ORDERS_ADMISSION)."
  if want_storage postgres; then
    echo "PostgreSQL: ${PG_SERVICES[*]} on one private PostgreSQL (one database each, created afresh per" \
      "run; fsync on, synchronous_commit=$PG_SYNC, shared_buffers 256MB; each service's pool as its" \
      "config has it, database.connections); ${rest[*]} on SQLite (not in BENCH_ORDERS_PG_SERVICES). SQLite:" \
      "WAL with synchronous=NORMAL (durable across a process crash, not necessarily a power loss)."
  else
    echo "SQLite: WAL with synchronous=NORMAL (durable across a process crash, not necessarily a power loss)."
  fi
  echo "The whole run took $((ELAPSED_S / 60)) min $((ELAPSED_S % 60)) s; load average at its start: $START_LOAD."
  echo
  echo "Commands (\$TMP is a temporary folder; \$GATEWAY the system's gateway; every run also passes" \
    "--no-progress and --check-command \"env -u MERCATO_ADMIN_TOKEN MERCATO_VAR_DIR=\$TMP/root/var \$TMP/root/mercato check\"):"
  echo
  echo '```'
  echo "BENCH_ORDERS_MODES=\"${MODES[*]}\" BENCH_ORDERS_STORAGES=\"${STORAGES[*]}\"" \
    "BENCH_ORDERS_DURATION=$DURATION BENCH_ORDERS_CONNECTIONS=$CONNECTIONS" \
    "BENCH_ORDERS_OPEN_CONNECTIONS=$OPEN_CONNECTIONS BENCH_ORDERS_PROBE_ORDERS=$PROBE_ORDERS" \
    "BENCH_ORDERS_SHARES=\"${SHARES[*]}\" BENCH_ORDERS_SETTLE=$SETTLE BENCH_ORDERS_ADMISSION=$ADMISSION${BENCH_ORDERS_LOAD_ARGS:+ BENCH_ORDERS_LOAD_ARGS=\"$BENCH_ORDERS_LOAD_ARGS\"}" \
    "./mercato bench orders"
  if want_storage postgres; then
    echo "# PostgreSQL (initdb -D \$TMP/postgres/data -U mercato -A trust -E UTF8 --locale=C first; as root it runs as user postgres)"
    echo "$BENCH_PG_CMD"
    echo "# per run: DROP DATABASE IF EXISTS mercato_<svc>; CREATE DATABASE mercato_<svc> (for ${PG_SERVICES[*]})"
  fi
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
  echo
  echo "Machine:"
  echo
  bench_machine
}

report | tee "$RESULTS/report.md"
log_info "report and raw data: ${RESULTS#"$MERCATO_ROOT"/}/"
