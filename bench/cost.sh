#!/usr/bin/env bash
# bench/cost.sh — what Mercato costs to run and to build: resident memory per process (idle and under
# load), start-up time to ready (per process and the whole local system), and optionally the clean build
# time, with nginx (one worker) and the FastAPI app of bench/fastapi/ as references where they make sense.
#
# Parts (BENCH_COST_PARTS, in this order; "build" only when asked for):
#   memory   every service and the gateway (config/<name>.yaml as ./mercato up runs them, own SQLite
#            files, events in-process, access logs off), nginx (fixed body, 1 worker) and FastAPI +
#            uvicorn (1 worker, Debian's /usr/bin/python3), all started at once on free ports, each
#            under /usr/bin/time -v. Measured from /proc/<pid>/status: VmRSS, RssAnon, VmHWM and Threads
#            BENCH_COST_SETTLE after every process is ready and seeded ("idle"); then each process in
#            turn gets BENCH_COST_LOAD of wrk on one of its GET endpoints (the gateway: /api/users/{id}
#            through to the user service) and VmRSS and VmHWM are read again right after ("load");
#            our processes' GETs carry a customer's access token (every read but the catalog's wants a
#            signed-in caller; the catalog gets it too, so every service verifies one per request): the
#            user registered for the seed logs in (POST /auth/login), the product is PUT as the
#            bootstrap admin (the user service is given one, as ./mercato up does; bench/lib.sh);
#            /usr/bin/time -v's maximum resident set size is read once all have stopped. nginx counts
#            master + worker (summed).
#   startup  each process alone, BENCH_ROUNDS times: spawn → first 200 from its /health/ready (nginx:
#            GET /static/x), in milliseconds (EPOCHREALTIME, polled every ~5 ms over /dev/tcp, no fork per
#            probe), once on an empty data folder ("fresh": database created and migrated) and once
#            more on the folder that start left ("restart"). Median, min and max. A service other than
#            the user service (and the gateway) is ready only once it has the keys that verify tokens,
#            from the user service: a user service of the part's own (the "key source", started once,
#            not measured) gives them, as the user service started first does under ./mercato up.
#   system   `./mercato up --no-build` (scripts/up.sh: NATS JetStream, every built service, the gateway)
#            BENCH_SYSTEM_ROUNDS times, from the spawn to the moment every process answers 200 on its
#            /health/ready, on free ports (MERCATO_*_PORT, MERCATO_NATS_PORT, MERCATO_NATS_HTTP_PORT),
#            fresh and restart like above; also the resident memory of every process it runs (idle,
#            NATS events) and how long `kill -TERM <its pid>` takes to stop it all. ./mercato keeps its
#            run files in var/ of its checkout, so it runs from a temporary copy of the checkout's
#            ./mercato and scripts/ with every other top-level entry linked (build/, config/, ...): the
#            same code and binaries, its own var/, nothing of a ./mercato up that may already run here
#            is touched.
#   build    (BENCH_COST_BUILD=1; long: about 8 minutes on 2 cores) a clean configure + build of the
#            whole project (every target, as ./mercato build) into a temporary folder with ccache off
#            (CCACHE_DISABLE=1), timed, the build under /usr/bin/time -v (largest compiler process).
#
# Prints a markdown report (tables, targets, exact commands, machine) to paste into docs/benchmarks.md;
# keeps it and the raw data (/proc status snapshots, wrk and /usr/bin/time outputs, start-up samples,
# ./mercato up and build logs) in var/bench/cost-<timestamp>/. Every process it starts is stopped by PID
# when it exits (normally, on error or on Ctrl-C).
#
# Environment (defaults in brackets):
#   BENCH_COST_PARTS ["memory startup system"]  which parts, in this order ("build" is added by
#                          BENCH_COST_BUILD=1)
#   BENCH_COST_BUILD [0]   1 = also the clean build (adds the part "build")
#   BENCH_COST_BUILD_ARGS  extra arguments for the clean build's cmake --build (e.g. "--target
#                          mercato_core" to try the part out quickly; the report then says so)
#   BENCH_COST_SETTLE [2s] wait after start-up before the idle reading (a measuring pause: background
#                          work that starts after ready, such as the outbox relay, shows in it)
#   BENCH_COST_LOAD [5s]   wrk duration per process in the memory part ("0" = no load)
#   BENCH_THREADS [2]  BENCH_CONNECTIONS [64]   wrk -t / -c of that load
#   BENCH_ROUNDS [5]       start-up rounds per process (each: fresh + restart)
#   BENCH_SYSTEM_ROUNDS [3]  ./mercato up rounds (each: fresh + restart)
#   BENCH_PYTHON [/usr/bin/python3]   the FastAPI reference's interpreter (Debian's)
#   BENCH_BUILD [1]        0 = do not run ./mercato build first
#   BENCH_KEEP [0]         1 = keep the temporary folder (configs, data, logs) for inspection
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
ROUNDS="${BENCH_ROUNDS:-5}"
SYSTEM_ROUNDS="${BENCH_SYSTEM_ROUNDS:-3}"
SETTLE="${BENCH_COST_SETTLE:-2s}"
LOAD="${BENCH_COST_LOAD:-5s}"
PYTHON="${BENCH_PYTHON:-/usr/bin/python3}"
read -r -a PARTS <<<"${BENCH_COST_PARTS:-memory startup system}"
if [[ "${BENCH_COST_BUILD:-0}" == 1 && " ${PARTS[*]} " != *" build "* ]]; then
  PARTS+=(build)
fi
bench_positive BENCH_ THREADS CONNECTIONS ROUNDS SYSTEM_ROUNDS
for p in "${PARTS[@]}"; do
  case "$p" in
    memory | startup | system | build) ;;
    *) die "unknown part '$p' in BENCH_COST_PARTS (memory startup system build)" ;;
  esac
done
part() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

SETTLE_S="$(bench_seconds "$SETTLE" 0)"
LOAD_S="$(bench_seconds "$LOAD" 0)"

deps_ensure core bench
if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
  build_project
fi

bench_workspace cost
bench_secrets  # the user service's bootstrap admin (bench/lib.sh)
COMMANDS=()

# probe PORT PATH: true when 127.0.0.1:PORT answers PATH with 200 (http_probe: no fork, so it can poll
# every few milliseconds).
probe() {
  http_probe "http://127.0.0.1:$1$2"
  [[ "$HTTP_PROBE_CODE" == 200 ]]
}

# median/min/max of integers on stdin -> "median min max" (median of an even count: mean of the middle two).
stats() {
  sort -n | awk '{ v[++n] = $1 } END {
    if (!n) { print "- - -"; exit }
    m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    printf "%.0f %d %d\n", m, v[1], v[n] }'
}

mib() { awk -v k="$1" 'BEGIN { if (k == "" || k == "-") print "–"; else printf "%.1f", k / 1024 }'; }

# ---------------------------------------------------------------------------------------------------
# The processes: every built service, the gateway, and the two references.

declare -A PORT=() KIND=() HEALTH=() RECORDED=()
NAMES=()
SERVICES=()
for name in $(service_names); do
  [[ -x "$(service_binary "$name")" ]] && SERVICES+=("$name")
done
taken=()
for name in "${SERVICES[@]}" gateway nginx fastapi; do
  PORT[$name]="$(free_port "${taken[@]}")"
  taken+=("${PORT[$name]}")
done
for name in "${SERVICES[@]}"; do
  NAMES+=("$name")
  KIND[$name]=service
  HEALTH[$name]=/health/ready
done
if [[ -x "$(service_binary gateway)" ]]; then
  NAMES+=(gateway)
  KIND[gateway]=gateway
  HEALTH[gateway]=/health/ready
else
  log_warn "the gateway is not built: left out"
fi
NAMES+=(nginx)
KIND[nginx]=reference
HEALTH[nginx]=/static/x
FASTAPI_VERSIONS=""
if FASTAPI_VERSIONS="$("$PYTHON" -c 'import sys, fastapi, uvicorn
print("Python %s, FastAPI %s, uvicorn %s" % (sys.version.split()[0], fastapi.__version__, uvicorn.__version__))' \
  2>/dev/null)"; then
  NAMES+=(fastapi)
  KIND[fastapi]=reference
  HEALTH[fastapi]=/health/ready
else
  log_warn "FastAPI/uvicorn not importable by $PYTHON: the FastAPI reference is left out (./mercato deps bench)"
fi
declare -A LABEL=([gateway]="gateway" [nginx]="nginx 1.22 (1 worker, fixed body; master + worker)"
  [fastapi]="FastAPI + uvicorn (Python, 1 worker)")
for name in "${SERVICES[@]}"; do LABEL[$name]="$name service"; done

USER_DIRECTIVE="# not root: nginx runs as the current user"
((EUID == 0)) && USER_DIRECTIVE="user $(id -un) $(id -gn);"
NGINX_BODY='{"id":"0191f3c2-7b7e-7c4a-9a51-3f2d9c0e8b11","email":"bench-00000000-000000-00000@example.com","name":"Bench User","created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}'
PRODUCT='{"product_id":"bench-mug","name":"Bench Mug","price_cents":1299,"available":1000,"reserved":0,"sold":0,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}'

# upstream_port NAME: the port a process is told NAME is on: NAME's own, except the user service's while
# KEY_SOURCE_PORT is set (the start-up part: every process alone, its keys from a user service of its own).
KEY_SOURCE_PORT=""
upstream_port() {
  if [[ "$1" == user && -n "$KEY_SOURCE_PORT" ]]; then
    echo "$KEY_SOURCE_PORT"
  else
    echo "${PORT[$1]:-9}"
  fi
}

# command_of NAME DATA_DIR: the command line of NAME into CMD (data under DATA_DIR).
command_of() {
  local name="$1" dir="$2" other calls
  local -a callees
  mkdir -p "$dir"
  case "$name" in
    nginx)
      bench_render bench/nginx/upstream.conf.in "DIR=$dir" "PORT=${PORT[nginx]}" "WORKERS=1" \
        "USER_DIRECTIVE=$USER_DIRECTIVE" "BODY=$NGINX_BODY" >"$dir/nginx.conf"
      CMD=(nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log")
      ;;
    fastapi)
      if [[ ! -f "$dir/bench.db" ]]; then
        "$PYTHON" bench/fastapi/app.py seed "$dir/bench.db" users "$NGINX_BODY" || die "seeding $dir/bench.db failed"
        "$PYTHON" bench/fastapi/app.py seed "$dir/bench.db" inventory "$PRODUCT" || die "seeding $dir/bench.db failed"
      fi
      CMD=(env "MERCATO_FASTAPI_DB=$dir/bench.db" "$PYTHON" -m uvicorn app:app --app-dir bench/fastapi
        --host 127.0.0.1 --port "${PORT[fastapi]}" --workers 1 --no-access-log --log-level warning
        --loop asyncio --http h11)
      ;;
    gateway)
      CMD=(env APP_SERVER__HOST=127.0.0.1 "APP_SERVER__PORT=${PORT[gateway]}" APP_LOG__ACCESS=false)
      for other in "${SERVICES[@]}"; do
        CMD+=("APP_GATEWAY__SERVICES__${other^^}__UPSTREAM=127.0.0.1:$(upstream_port "$other")")
      done
      CMD+=("$(service_binary gateway)" --config config/gateway.yaml)
      ;;
    *)
      CMD=(env APP_SERVER__HOST=127.0.0.1 "APP_SERVER__PORT=${PORT[$name]}" APP_LOG__ACCESS=false)
      [[ "$(service_storage "$name")" == sqlite ]] && CMD+=("APP_DATABASE__PATH=$dir/$name.db")
      # The bootstrap admin, as ./mercato up makes it (the catalog is stocked as the admin).
      [[ "$name" == user ]] && CMD+=("APP_AUTH__ADMIN__PASSWORD_FILE=$BENCH_SECRETS/admin-password")
      calls="$(service_calls "$name")"
      if [[ -n "$calls" ]]; then
        IFS=, read -r -a callees <<<"$calls"
        for other in "${callees[@]}"; do CMD+=("APP_UPSTREAMS__${other^^}=127.0.0.1:$(upstream_port "$other")"); done
      fi
      CMD+=("$(service_binary "$name")" --config "config/$name.yaml")
      ;;
  esac
  if [[ -z "${RECORDED[$name]:-}" ]]; then
    RECORDED[$name]=1
    COMMANDS+=("# $name" "$(bench_show "${CMD[*]}")")
  fi
}

# ---------------------------------------------------------------------------------------------------
# Part: memory

INNER=()
command -v setpriv >/dev/null 2>&1 && INNER=(setpriv --pdeathsig TERM --)
TIME_BIN=""
[[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1 && TIME_BIN=/usr/bin/time
declare -A MAIN=() TIMER=() IDLE=() LOADED=() MAXRSS=() LOAD_URL=() LOAD_RESULT=() LOAD_TOKEN=()

# mem PID: "VmRSS RssAnon VmHWM Threads Pss" (kB) of PID plus its children (nginx's worker). Pss
# (/proc/<pid>/smaps_rollup) counts a page shared by n processes as 1/n: the shared libraries' pages,
# which VmRSS counts in full in every process, are divided among the processes that map them.
mem() {
  local p
  local -a all=("$1")
  mapfile -t -O 1 all < <(proc_children "$1")
  for p in "${all[@]}"; do
    [[ -r "/proc/$p/status" ]] && cat "/proc/$p/status"
    [[ -r "/proc/$p/smaps_rollup" ]] && cat "/proc/$p/smaps_rollup"
  done 2>/dev/null |
    awk '/^VmRSS:/ { r += $2 } /^RssAnon:/ { a += $2 } /^VmHWM:/ { h += $2 } /^Threads:/ { t += $2 }
      /^Pss:/ { s += $2 } END { printf "%d %d %d %d %d\n", r, a, h, t, s }'
}

# snapshot NAME WHEN: keeps /proc/<pid>/status of NAME (and children) in the results.
snapshot() {
  local p
  for p in "${MAIN[$1]}" $(proc_children "${MAIN[$1]}"); do
    cp "/proc/$p/status" "$RESULTS/memory.$1.$2.pid$p.status" 2>/dev/null || true
  done
}

memory_start() {
  local name="$1" tpid kid i
  command_of "$name" "$WORK/memory/$name"
  if [[ -n "$TIME_BIN" ]]; then
    # /usr/bin/time -v waits for the server and writes its rusage when it exits; the server itself is
    # time's child (same PID through setpriv and env), found by its parent and stopped by its PID.
    "${PROC_LAUNCHER[@]}" "$TIME_BIN" -v -o "$RESULTS/memory.$name.time-v.txt" "${INNER[@]}" "${CMD[@]}" \
      >>"$WORK/$name.log" 2>&1 </dev/null &
    tpid=$!
    BENCH_PIDS+=("$tpid")
    TIMER[$name]=$tpid
    kid=""
    for ((i = 0; i < 200 && ${#kid} == 0; i++)); do
      kid="$(proc_children "$tpid" | head -n 1)"
      [[ -n "$kid" ]] || sleep 0.01
    done
    [[ -n "$kid" ]] || die "$name: no process under /usr/bin/time (pid $tpid)"
  else
    "${PROC_LAUNCHER[@]}" "${CMD[@]}" >>"$WORK/$name.log" 2>&1 </dev/null &
    kid=$!
  fi
  BENCH_PIDS+=("$kid")
  MAIN[$name]=$kid
}

memory_part() {
  local name uid url p token
  log_info "memory: starting ${NAMES[*]}"
  for name in "${NAMES[@]}"; do
    [[ "$name" == gateway ]] && continue # last, once its upstreams are up
    memory_start "$name"
  done
  for name in "${NAMES[@]}"; do
    [[ "$name" == gateway ]] && memory_start gateway
    wait_http_ok "http://127.0.0.1:${PORT[$name]}${HEALTH[$name]}" 60 "${MAIN[$name]}" || {
      tail -n 20 "$WORK/$name.log" >&2 || true
      die "memory: $name did not become ready"
    }
  done
  # One record per service to read (the FastAPI app is seeded with the same two records), and a
  # customer's token to read with.
  uid="" token=""
  if [[ -n "${PORT[user]:-}" && " ${SERVICES[*]} " == *" user "* ]]; then
    local email
    email="$(printf 'cost-%s-%s@example.com' "$STAMP" "$RANDOM")"
    bench_call POST "http://127.0.0.1:${PORT[user]}/users" \
      "$(printf '{"email":"%s","name":"Bench User","password":"bench-password"}' "$email")"
    uid="$(jq -r '.id // empty' <<<"$GOT" 2>/dev/null || true)"
    if [[ -z "$uid" ]]; then
      log_warn "POST /users answered $CODE: $GOT"
    else
      token="$(bench_customer_token "http://127.0.0.1:${PORT[user]}" "$email" bench-password)" || token=""
    fi
  fi
  if [[ " ${SERVICES[*]} " == *" inventory "* && " ${SERVICES[*]} " == *" user "* ]]; then
    bench_call PUT "http://127.0.0.1:${PORT[inventory]}/inventory/bench-mug" \
      '{"name":"Bench Mug","price_cents":1299,"available":1000}' "$(bench_admin_token "http://127.0.0.1:${PORT[user]}")"
    [[ "$CODE" == 20? ]] || log_warn "PUT /inventory/bench-mug answered $CODE: $GOT"
  fi
  for name in "${NAMES[@]}"; do
    case "$name" in
      user) url="/users/${uid:-none}" ;;
      inventory) url=/inventory/bench-mug ;;
      order) url="/orders?customer_id=${uid:-none}" ;;
      payment) url="/payments?order_id=none" ;;
      shipping) url="/shipments?order_id=none" ;;
      notification) url="/notifications?customer_id=${uid:-none}" ;;
      gateway) url="/api/users/${uid:-none}" ;;
      nginx) url=/static/x ;;
      fastapi) url=/users/0191f3c2-7b7e-7c4a-9a51-3f2d9c0e8b11 ;;
      *) url=/health/ready ;;
    esac
    LOAD_TOKEN[$name]=""
    [[ "${KIND[$name]}" != reference ]] && LOAD_TOKEN[$name]="$token"
    bench_call GET "http://127.0.0.1:${PORT[$name]}$url" "" "${LOAD_TOKEN[$name]}"
    if [[ "$CODE" != 200 ]]; then
      log_warn "memory: $name answers $CODE on GET $url: loading /health/ready instead"
      url=/health/ready
      LOAD_TOKEN[$name]=""
    fi
    LOAD_URL[$name]="$url"
  done
  log_info "memory: idle reading in ${SETTLE_S}s"
  ((SETTLE_S == 0)) || sleep "$SETTLE_S"
  for name in "${NAMES[@]}"; do
    IDLE[$name]="$(mem "${MAIN[$name]}")"
    snapshot "$name" idle
  done
  if ((LOAD_S > 0)); then
    for name in "${NAMES[@]}"; do
      local out="$RESULTS/memory.$name.wrk.txt"
      local -a wrk=(wrk "-t$THREADS" "-c$CONNECTIONS" "-d$LOAD" --timeout 2s)
      [[ -n "${LOAD_TOKEN[$name]}" ]] && wrk+=(-H "Authorization: Bearer ${LOAD_TOKEN[$name]}")
      wrk+=("http://127.0.0.1:${PORT[$name]}${LOAD_URL[$name]}")
      log_info "memory: $name under load (wrk ... ${LOAD_TOKEN[$name]:+with a token }${wrk[-1]})"
      timeout --kill-after=5 $((LOAD_S + 30)) "${wrk[@]}" >"$out" 2>&1 || log_warn "memory: wrk failed on $name"
      LOADED[$name]="$(mem "${MAIN[$name]}")"
      snapshot "$name" load
      LOAD_RESULT[$name]="$(awk '/^Requests\/sec:/ { r = $2 } /Non-2xx/ { e += $NF } /Socket errors/ { e += 1 }
        END { printf "%.0f/s%s", r, (e ? ", errors" : "") }' "$out")"
    done
  fi
  # Stop the servers (by their PIDs), then let each /usr/bin/time write its report (bounded).
  local -a servers=() timers=()
  for name in "${NAMES[@]}"; do
    servers+=("${MAIN[$name]}")
    [[ -n "${TIMER[$name]:-}" ]] && timers+=("${TIMER[$name]}")
  done
  proc_stop 15 "${servers[@]}"
  local deadline=$(($(now_ms) + 10000)) any
  while (($(now_ms) < deadline)); do
    any=0
    for p in "${timers[@]}"; do proc_alive "$p" && any=1; done
    ((any)) || break
    sleep 0.05
  done
  ((${#timers[@]} == 0)) || proc_stop 5 "${timers[@]}"
  bench_forget "${servers[@]}" "${timers[@]}"
  for name in "${NAMES[@]}"; do
    MAXRSS[$name]="$(awk -F': ' '/Maximum resident set size/ { print $2 }' \
      "$RESULTS/memory.$name.time-v.txt" 2>/dev/null || true)"
  done
}

# ---------------------------------------------------------------------------------------------------
# Part: start-up of each process alone

declare -A FRESH=() RESTART=()

# startup_once NAME DATA_DIR: spawns NAME, sets MS to the milliseconds to its first 200, stops it.
startup_once() {
  local name="$1" dir="$2" t0 t1 pid deadline
  command_of "$name" "$dir"
  t0="$(now_ms)"
  "${PROC_LAUNCHER[@]}" "${CMD[@]}" >>"$WORK/$name.startup.log" 2>&1 </dev/null &
  pid=$!
  BENCH_PIDS+=("$pid")
  deadline=$((t0 + 60000))
  t1=""
  while :; do
    if probe "${PORT[$name]}" "${HEALTH[$name]}"; then
      t1="$(now_ms)"
      break
    fi
    proc_alive "$pid" || break
    (($(now_ms) < deadline)) || break
    sleep 0.005
  done
  proc_stop 15 "$pid"
  bench_forget "$pid"
  [[ -n "$t1" ]] || {
    tail -n 20 "$WORK/$name.startup.log" >&2 || true
    die "startup: $name did not become ready"
  }
  MS=$((t1 - t0))
}

startup_part() {
  local name round key_source=""
  local samples="$RESULTS/startup.tsv"
  echo -e "round\tprocess\tstart\tms" >"$samples"
  # The key source: a user service of this part's own, on a port of its own, up for the whole part.
  if [[ " ${SERVICES[*]} " == *" user "* ]]; then
    local saved="${PORT[user]}"
    PORT[user]="$(free_port "${PORT[@]}")"
    command_of user "$WORK/startup/key-source"
    "${PROC_LAUNCHER[@]}" "${CMD[@]}" >>"$WORK/key-source.log" 2>&1 </dev/null &
    key_source=$!
    BENCH_PIDS+=("$key_source")
    KEY_SOURCE_PORT="${PORT[user]}"
    PORT[user]="$saved"
    wait_http_ok "http://127.0.0.1:$KEY_SOURCE_PORT/health/ready" 60 "$key_source" || {
      tail -n 20 "$WORK/key-source.log" >&2 || true
      die "startup: the key source (a user service) did not become ready"
    }
    COMMANDS+=("# startup: the key source every other process fetches its keys from (the user service's command" \
      "# above on port $KEY_SOURCE_PORT, its own data folder; not measured)")
  fi
  log_info "startup: ${NAMES[*]}, $ROUNDS round(s), fresh + restart"
  for ((round = 1; round <= ROUNDS; round++)); do
    for name in "${NAMES[@]}"; do
      rm -rf "$WORK/startup/$name"
      startup_once "$name" "$WORK/startup/$name"
      echo -e "$round\t$name\tfresh\t$MS" >>"$samples"
      startup_once "$name" "$WORK/startup/$name"
      echo -e "$round\t$name\trestart\t$MS" >>"$samples"
    done
    log_info "startup: round $round/$ROUNDS done"
  done
  if [[ -n "$key_source" ]]; then
    proc_stop 15 "$key_source"
    bench_forget "$key_source"
    KEY_SOURCE_PORT=""
  fi
  for name in "${NAMES[@]}"; do
    FRESH[$name]="$(awk -F'\t' -v n="$name" '$2 == n && $3 == "fresh" { print $4 }' "$samples" | stats)"
    RESTART[$name]="$(awk -F'\t' -v n="$name" '$2 == n && $3 == "restart" { print $4 }' "$samples" | stats)"
  done
}

# ---------------------------------------------------------------------------------------------------
# Part: the whole local system, ./mercato up

declare -A UP_PORT=() UP_IDLE=()
UP_NAMES=()
SYSTEM_FRESH="" SYSTEM_RESTART="" SYSTEM_STOP="" SYSTEM_TIMELINE=""
# The broker ./mercato up starts and this part waits for: NATS unless the environment picks another
# (MERCATO_EVENTS=kafka|inprocess, or MERCATO_EVENTS_URL: a broker run elsewhere).
UP_BROKER=nats
[[ "${MERCATO_EVENTS:-nats}" == nats && -z "${MERCATO_EVENTS_URL:-}" ]] || UP_BROKER=""

# system_once ROOT ROUND WHEN: one ./mercato up from spawn to all ready (READY_MS), then SIGTERM to its
# PID until it has exited (STOP_MS; it stops its children first).
system_once() {
  local root="$1" round="$2" when="$3" t0 t1="" t2 pid deadline name all
  local -a env_up=() pending still
  local log="$RESULTS/system.round$round.$when.log"
  for name in "${UP_NAMES[@]}"; do env_up+=("MERCATO_${name^^}_PORT=${UP_PORT[$name]}"); done
  env_up+=("MERCATO_NATS_PORT=${UP_PORT[nats]}" "MERCATO_NATS_HTTP_PORT=${UP_PORT[nats_http]}")
  t0="$(now_ms)"
  "${PROC_LAUNCHER[@]}" env "${env_up[@]}" "$root/mercato" up --no-build >"$log" 2>&1 </dev/null &
  pid=$!
  BENCH_PIDS+=("$pid")
  pending=("${UP_NAMES[@]}")
  [[ -n "$UP_BROKER" ]] && pending=(nats "${pending[@]}")
  deadline=$((t0 + 120000))
  while ((${#pending[@]})); do
    still=()
    for name in "${pending[@]}"; do
      if [[ "$name" == nats ]]; then
        probe "${UP_PORT[nats_http]}" "/healthz?js-enabled=true" || still+=("$name")
      else
        probe "${UP_PORT[$name]}" /health/ready || still+=("$name")
      fi
      # When each process first answered, for the timeline.
      [[ " ${still[*]} " == *" $name "* ]] ||
        echo -e "$round\t$when\t$name\t$(($(now_ms) - t0))" >>"$RESULTS/system.timeline.tsv"
    done
    pending=("${still[@]}")
    ((${#pending[@]})) || {
      t1="$(now_ms)"
      break
    }
    proc_alive "$pid" || break
    (($(now_ms) < deadline)) || break
    sleep 0.005
  done
  if [[ -z "$t1" ]]; then
    tail -n 30 "$log" >&2 || true
    die "system: ./mercato up did not get every process ready (${pending[*]} pending); log: $log"
  fi
  if [[ "$round" == 1 && "$when" == fresh ]]; then
    ((SETTLE_S == 0)) || sleep "$SETTLE_S"
    for name in "${UP_NAMES[@]}" nats; do
      all=""
      [[ -r "$root/var/run/$name.pid" ]] && read -r all <"$root/var/run/$name.pid"
      [[ -n "$all" ]] && proc_alive "$all" && UP_IDLE[$name]="$(mem "$all")"
    done
  fi
  t2="$(now_ms)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((t2 + 30000))
  while proc_alive "$pid" && (($(now_ms) < deadline)); do sleep 0.01; done
  STOP_MS=$(($(now_ms) - t2))
  proc_stop 5 "$pid"
  bench_forget "$pid"
  READY_MS=$((t1 - t0))
}

system_part() {
  local root round name taken_up=() r
  bench_root
  root="$BENCH_ROOT"
  for name in "${SERVICES[@]}" gateway nats nats_http; do
    UP_PORT[$name]="$(free_port "${taken_up[@]}" "${PORT[@]}")"
    taken_up+=("${UP_PORT[$name]}")
  done
  UP_NAMES=("${SERVICES[@]}" gateway)
  local samples="$RESULTS/system.tsv"
  echo -e "round\tstart\tready_ms\tstop_ms" >"$samples"
  echo -e "round\tstart\tprocess\tfirst_ready_ms" >"$RESULTS/system.timeline.tsv"
  log_info "system: ./mercato up --no-build, $SYSTEM_ROUNDS round(s), fresh var/ + restart"
  for ((round = 1; round <= SYSTEM_ROUNDS; round++)); do
    rm -rf "${root:?}/var"
    for r in fresh restart; do
      system_once "$root" "$round" "$r"
      echo -e "$round\t$r\t$READY_MS\t$STOP_MS" >>"$samples"
      log_info "system: round $round/$SYSTEM_ROUNDS $r: ready in ${READY_MS} ms, stopped in ${STOP_MS} ms"
    done
  done
  SYSTEM_FRESH="$(awk -F'\t' '$2 == "fresh" { print $3 }' "$samples" | stats)"
  SYSTEM_RESTART="$(awk -F'\t' '$2 == "restart" { print $3 }' "$samples" | stats)"
  SYSTEM_STOP="$(awk -F'\t' 'NR > 1 { print $4 }' "$samples" | stats)"
  for name in ${UP_BROKER} "${UP_NAMES[@]}"; do
    read -r r _ <<<"$(awk -F'\t' -v n="$name" '$2 == "fresh" && $3 == n { print $4 }' "$RESULTS/system.timeline.tsv" | stats)"
    SYSTEM_TIMELINE+="${SYSTEM_TIMELINE:+, }$name $r"
  done
  local ports=""
  for name in "${UP_NAMES[@]}"; do ports+="MERCATO_${name^^}_PORT=${UP_PORT[$name]} "; done
  COMMANDS+=("# the whole system, from a temporary root (copies of ./mercato and scripts/, the rest linked)"
    "${ports}MERCATO_NATS_PORT=${UP_PORT[nats]} MERCATO_NATS_HTTP_PORT=${UP_PORT[nats_http]} \$TMP/root/mercato up --no-build"
    "# ... until every process answers 200 on /health/ready; then: kill -TERM <its pid>")
}

# ---------------------------------------------------------------------------------------------------
# Part: clean build

BUILD_CONFIGURE_S="" BUILD_BUILD_S="" BUILD_MAXRSS="" BUILD_JOBS="" BUILD_TARGETS=""

build_part() {
  local dir="$WORK/build-clean" t0 t1 t2
  local -a configure=(cmake -S "$MERCATO_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  local -a build=(cmake --build "$dir") extra=()
  if [[ -n "${BENCH_COST_BUILD_ARGS:-}" ]]; then
    read -r -a extra <<<"$BENCH_COST_BUILD_ARGS"
    build+=("${extra[@]}")
  fi
  BUILD_JOBS="$(($(nproc) + 2)) jobs (Ninja's default)"
  [[ -n "${CMAKE_BUILD_PARALLEL_LEVEL:-}" ]] && BUILD_JOBS="$CMAKE_BUILD_PARALLEL_LEVEL jobs (CMAKE_BUILD_PARALLEL_LEVEL)"
  log_info "build: clean configure + build into $dir with CCACHE_DISABLE=1 (long)"
  t0="$(now_ms)"
  CCACHE_DISABLE=1 "${configure[@]}" >"$RESULTS/build.configure.log" 2>&1 || die "configure failed: $RESULTS/build.configure.log"
  t1="$(now_ms)"
  if [[ -n "$TIME_BIN" ]]; then
    CCACHE_DISABLE=1 "$TIME_BIN" -v -o "$RESULTS/build.time-v.txt" "${build[@]}" >"$RESULTS/build.log" 2>&1 ||
      die "build failed: $RESULTS/build.log"
  else
    CCACHE_DISABLE=1 "${build[@]}" >"$RESULTS/build.log" 2>&1 || die "build failed: $RESULTS/build.log"
  fi
  t2="$(now_ms)"
  BUILD_CONFIGURE_S="$(awk -v m=$((t1 - t0)) 'BEGIN { printf "%.1f", m / 1000 }')"
  BUILD_BUILD_S="$(awk -v m=$((t2 - t1)) 'BEGIN { printf "%.1f", m / 1000 }')"
  BUILD_MAXRSS="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$RESULTS/build.time-v.txt" 2>/dev/null || true)"
  BUILD_TARGETS="$(grep -c '^\[[0-9]*/[0-9]*\]' "$RESULTS/build.log" || true)"
  COMMANDS+=("# clean build (ccache off), timed separately"
    "$(bench_show "CCACHE_DISABLE=1 ${configure[*]}")"
    "$(bench_show "CCACHE_DISABLE=1 ${TIME_BIN:+$TIME_BIN -v }${build[*]}")")
  rm -rf "$dir"
}

# ---------------------------------------------------------------------------------------------------
part memory && memory_part
part startup && startup_part
part system && system_part
part build && build_part

# ---------------------------------------------------------------------------------------------------
# Report

report() {
  local name rev cpu build_type r a t lr lh worst="" worst_kb=0 m lo hi
  rev="$(git rev-parse -q --verify --short HEAD 2>/dev/null || echo "no commit")"
  [[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || rev+=" + uncommitted changes"
  cpu="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
  build_type="$(_cmake_cache_value CMAKE_BUILD_TYPE)"
  echo "### Cost: memory, start-up, build ($(date -u '+%Y-%m-%d %H:%M UTC'), $rev)"
  echo
  if part memory; then
    echo "Resident memory (MiB; /proc/<pid>/status), idle ${SETTLE} after ready and right after ${LOAD} of wrk" \
      "-t$THREADS -c$CONNECTIONS on the endpoint named (ours with \"Authorization: Bearer <a customer's" \
      "token>\", which each of them verifies on every request; nginx and FastAPI without):"
    echo
    echo "| process | idle VmRSS | idle Pss | idle RssAnon | threads | load: GET | requests/s | after load VmRSS | peak VmHWM | max RSS (time -v) |"
    echo "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"
    for name in "${NAMES[@]}"; do
      read -r r a _ t ps <<<"${IDLE[$name]}"
      read -r lr _ lh _ <<<"${LOADED[$name]:-- - - - -}"
      echo "| ${LABEL[$name]} | $(mib "$r") | $(mib "$ps") | $(mib "$a") | $t | \`${LOAD_URL[$name]}\` | ${LOAD_RESULT[$name]:-–} |" \
        "$(mib "$lr") | $(mib "$lh") | $(mib "${MAXRSS[$name]:-}") |"
      if [[ "${KIND[$name]}" == service ]] && ((r > worst_kb)); then
        worst_kb=$r
        worst=$name
      fi
    done
    echo
    [[ -n "$worst" ]] && echo "- Target idle service ≤ 15 MB resident: the largest idle service is $worst at" \
      "$(mib "$worst_kb") MiB VmRSS ($(awk -v k="$worst_kb" 'BEGIN { printf "%.1f", k * 1.024 / 1000 }') MB)."
    echo "- Events in-process (no broker), access logs off, one I/O thread (config/*.yaml), each service on" \
      "its own SQLite file. nginx: master + its one worker, summed (max RSS: the larger of the two)." \
      "\"max RSS (time -v)\": /usr/bin/time -v's maximum resident set size over the process's life, start" \
      "to stop. RssAnon is the process's own heap and stacks; the rest of VmRSS is mapped files (the binary," \
      "shared libraries), mostly shared with other processes. Pss divides each shared page among the" \
      "processes mapping it: what one more process of this kind actually adds is between RssAnon and Pss."
    echo
  fi
  if part startup; then
    echo "Start-up to ready, each process alone (ms, spawn → first 200 on /health/ready; nginx: GET" \
      "/static/x), $ROUNDS round(s); fresh = empty data folder (database created and migrated), restart =" \
      "the folder the fresh start left:"
    echo
    echo "| process | fresh: median | fresh: min–max | restart: median | restart: min–max |"
    echo "|---|---:|---:|---:|---:|"
    for name in "${NAMES[@]}"; do
      read -r m lo hi <<<"${FRESH[$name]}"
      echo -n "| ${LABEL[$name]} | $m | $lo–$hi |"
      read -r m lo hi <<<"${RESTART[$name]}"
      echo " $m | $lo–$hi |"
    done
    echo
  fi
  if part system; then
    echo "The whole local system, \`./mercato up --no-build\` (${UP_BROKER:+NATS JetStream + }${#SERVICES[@]} services + the" \
      "gateway), spawn → every process answers 200 on /health/ready (ms), $SYSTEM_ROUNDS round(s):"
    echo
    echo "| start | median | min–max |"
    echo "|---|---:|---:|"
    read -r m lo hi <<<"$SYSTEM_FRESH"
    echo "| fresh var/ (databases and JetStream streams created) | $m | $lo–$hi |"
    read -r m lo hi <<<"$SYSTEM_RESTART"
    echo "| restart (var/ of the previous start) | $m | $lo–$hi |"
    read -r m lo hi <<<"$SYSTEM_STOP"
    echo "| stop: \`kill -TERM\` to exit of everything | $m | $lo–$hi |"
    echo
    read -r m _ <<<"$SYSTEM_FRESH"
    read -r r _ <<<"$SYSTEM_RESTART"
    echo "- Target whole local system ready ≤ 2 s after start: ${m} ms fresh, ${r} ms restart (medians)."
    echo "- When each process first answered ready, ms after the spawn of ./mercato up (fresh, median): $SYSTEM_TIMELINE." \
      "./mercato up starts the broker, waits for it, then starts the services and the gateway together."
    if ((${#UP_IDLE[@]})); then
      echo -n "- Idle VmRSS (Pss) under \`./mercato up\` (events: ${MERCATO_EVENTS_URL:-${MERCATO_EVENTS:-nats}}, access logs on, ${SETTLE} after ready, round 1), MiB:"
      local first=1
      for name in nats "${UP_NAMES[@]}"; do
        [[ -n "${UP_IDLE[$name]:-}" ]] || continue
        read -r r _ _ _ ps <<<"${UP_IDLE[$name]}"
        ((first)) || echo -n ","
        first=0
        echo -n " $name $(mib "$r") ($(mib "$ps"))"
      done
      echo "."
    fi
    echo
  fi
  if part build; then
    echo "Clean build (empty build folder, ccache off), ${build_type:-RelWithDebInfo}, $BUILD_JOBS:"
    echo
    echo "| step | seconds |"
    echo "|---|---:|"
    echo "| configure (cmake -G Ninja) | $BUILD_CONFIGURE_S |"
    echo "| build (${BENCH_COST_BUILD_ARGS:-every target}, ${BUILD_TARGETS:-?} build steps) | $BUILD_BUILD_S |"
    echo
    [[ -n "$BUILD_MAXRSS" ]] && echo "- Largest single process of the build (/usr/bin/time -v): $(mib "$BUILD_MAXRSS") MiB."
    echo
  fi
  echo "Commands (ports picked free at run time; \$TMP is a temporary folder):"
  echo
  echo '```'
  echo "BENCH_ROUNDS=$ROUNDS BENCH_SYSTEM_ROUNDS=$SYSTEM_ROUNDS BENCH_COST_LOAD=$LOAD BENCH_COST_SETTLE=$SETTLE" \
    "BENCH_COST_PARTS=\"${PARTS[*]}\"${BENCH_COST_BUILD_ARGS:+ BENCH_COST_BUILD_ARGS=\"$BENCH_COST_BUILD_ARGS\"} ./mercato bench cost"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
  echo
  echo "Machine:"
  echo
  echo '```'
  echo "\$ uname -a"
  uname -a
  echo "\$ nproc"
  nproc
  echo "CPU: ${cpu:-unknown}; memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "Our servers: CMake ${build_type:-?} build. $(nginx -v 2>&1); $(nats-server --version 2>/dev/null || true)"
  [[ -n "$FASTAPI_VERSIONS" ]] && echo "$FASTAPI_VERSIONS ($PYTHON; uvicorn --loop asyncio --http h11)"
  echo '```'
}

report | tee "$RESULTS/report.md"
log_info "report and raw data: ${RESULTS#"$MERCATO_ROOT"/}/"
