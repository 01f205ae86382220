#!/usr/bin/env bash
# bench/http.sh — HTTP throughput and latency of Mercato's servers next to nginx, in one run.
#
# Cases (same wrk settings for all; everything on 127.0.0.1, on free high ports):
#   nginx-static   nginx answering GET /static/x with a fixed JSON body (the ceiling for a read)
#   user-get       the user service's GET /users/{id} (one user created first with POST /users)
#   gateway-proxy  the gateway's GET /api/static/x, proxied to that nginx as /static/x
#   nginx-proxy    nginx as a reverse proxy (keep-alive upstream pool) to that same nginx
# The nginx body is a copy of the user service's GET /users/{id} response when there is one, so the
# cases move the same bytes. Every server gets the same budget: BENCH_WORKERS nginx worker processes,
# BENCH_WORKERS I/O threads for our servers (APP_SERVER__THREADS); nothing is pinned. Access logs are
# off everywhere. A case whose binary is not built is reported as skipped.
#
# Rounds: on a small machine wrk, nginx and our servers share the cores, and where the scheduler puts
# them moves one run's throughput by tens of percent. So the servers are started once, every case gets
# one un-measured warm-up (all warm-ups before the first round), and then BENCH_ROUNDS rounds run;
# each round runs every case once, in BENCH_CASES order, so the cases interleave in time and a slow
# stretch of the machine hits all of them. The table reports the median over the rounds.
#
# Prints a markdown table (per case: median requests/s, min–max requests/s over the rounds, median
# p50, median p99, errors summed over the rounds (non-2xx + socket errors), rounds), the exact
# commands and the machine (uname -a, nproc, CPU model) to paste into docs/benchmarks.md; nothing is
# appended anywhere. The report and the raw wrk output of every round (<case>.round<N>.wrk.txt) are
# also kept in var/bench/http-<timestamp>/.
# Every process it starts is stopped by PID when it exits (normally, on error or on Ctrl-C).
#
# Environment (defaults in brackets):
#   BENCH_THREADS [2]  BENCH_CONNECTIONS [64]  BENCH_DURATION [10s]   wrk -t / -c / -d
#   BENCH_ROUNDS [3]       measured rounds; each round runs every case once (median reported)
#   BENCH_WARMUP [2s]      un-measured wrk run per case, once, before the first round ("0" for none)
#   BENCH_WRK_TIMEOUT [2s] wrk --timeout (a slower response counts as a timeout error)
#   BENCH_WORKERS [1]      nginx worker_processes = our servers' I/O threads
#   BENCH_CASES ["nginx-static user-get gateway-proxy nginx-proxy"]   which cases, in order
#   BENCH_USER_JSON        the POST /users body (default: a generated email and a name)
#   BENCH_BUILD [1]        0 = do not run ./mercato build first
#   BENCH_KEEP [0]         1 = keep the temporary folder (configs, server logs) for inspection
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# (SC1091: plain `shellcheck` does not follow sources; `./mercato lint` runs shellcheck -x, which does.)
# shellcheck source=scripts/lib.sh disable=SC1091
source scripts/lib.sh
# shellcheck source=scripts/deps.sh disable=SC1091
source scripts/deps.sh
# shellcheck source=scripts/build.sh disable=SC1091
source scripts/build.sh

THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
WRK_TIMEOUT="${BENCH_WRK_TIMEOUT:-2s}"
WORKERS="${BENCH_WORKERS:-1}"
ROUNDS="${BENCH_ROUNDS:-3}"
read -r -a CASES <<<"${BENCH_CASES:-nginx-static user-get gateway-proxy nginx-proxy}"

for v in THREADS CONNECTIONS WORKERS ROUNDS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v=${!v} is not a positive integer"
done

# seconds DURATION: whole seconds of a wrk duration (10, 10s, 2m, 1h).
seconds() {
  [[ "$1" =~ ^([0-9]+)([smh]?)$ ]] || die "bad duration '$1' (use e.g. 10s, 2m)"
  case "${BASH_REMATCH[2]}" in
    m) echo $((BASH_REMATCH[1] * 60)) ;;
    h) echo $((BASH_REMATCH[1] * 3600)) ;;
    *) echo "${BASH_REMATCH[1]}" ;;
  esac
}
DURATION_S="$(seconds "$DURATION")"
WARMUP_S="$(seconds "$WARMUP")"
((DURATION_S > 0)) || die "BENCH_DURATION must be at least 1s"
for c in "${CASES[@]}"; do
  case "$c" in
    nginx-static | user-get | gateway-proxy | nginx-proxy) ;;
    *) die "unknown case '$c' in BENCH_CASES (nginx-static user-get gateway-proxy nginx-proxy)" ;;
  esac
done
want() { [[ " ${CASES[*]} " == *" $1 "* ]]; }

deps_ensure core bench
if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
  build_project
fi

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${MERCATO_VAR_DIR}/bench/http-${STAMP}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mercato-bench.XXXXXX")"
PIDS=()

cleanup() {
  local rc=$?
  trap '' INT TERM
  if ((${#PIDS[@]})); then
    log_info "stopping ${#PIDS[@]} server(s): pid ${PIDS[*]}"
    proc_stop 10 "${PIDS[@]}"
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log_note "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME COMMAND...: runs a server in the background (output to $WORK/NAME.log), records its PID.
start() {
  local name="$1"
  shift
  "${PROC_LAUNCHER[@]}" "$@" >>"$WORK/$name.log" 2>&1 </dev/null &
  PIDS+=("$!")
  LAST_PID=$!
  SERVER_CMDS+=("# $name" "$(printf '%q ' "$@")")
}
SERVER_CMDS=()

# fail_log NAME: shows the end of a server's log.
fail_log() {
  log_note "last lines of $1.log:"
  tail -n 20 "$WORK/$1.log" 2>/dev/null | sed 's/^/      /' >&2 || true
}

# render TEMPLATE KEY=VALUE...: the template with every @KEY@ replaced by VALUE.
render() {
  local template="$1" text kv
  text="$(<"$template")"
  shift
  for kv in "$@"; do
    text="${text//"@${kv%%=*}@"/"${kv#*=}"}"
  done
  if [[ "$text" =~ @[A-Z_]+@ ]]; then
    die "placeholder ${BASH_REMATCH[0]} of $template has no value"
  fi
  printf '%s\n' "$text"
}

USER_DIRECTIVE="# not root: nginx runs as the current user"
if ((EUID == 0)); then
  # As root, nginx would switch its workers to "nobody"; keep them as the current user instead.
  USER_DIRECTIVE="user $(id -un) $(id -gn);"
fi

# start_nginx NAME TEMPLATE PORT KEY=VALUE...: renders the config into $WORK/NAME/ and starts nginx.
start_nginx() {
  local name="$1" template="$2" port="$3" dir="$WORK/$1"
  shift 3
  mkdir -p "$dir"
  render "$template" "DIR=$dir" "PORT=$port" "WORKERS=$WORKERS" "USER_DIRECTIVE=$USER_DIRECTIVE" "$@" \
    >"$dir/nginx.conf"
  nginx -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" ||
    die "nginx rejected $dir/nginx.conf (from $template)"
  start "$name" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
}

# our_env NAME PORT: the APP_* settings every one of our servers gets in the benchmark.
our_env() {
  printf '%s\n' "APP_SERVER__HOST=127.0.0.1" "APP_SERVER__PORT=$2" "APP_SERVER__THREADS=$WORKERS" \
    "APP_LOG__LEVEL=warn" "APP_LOG__ACCESS=false"
}

# ---------------------------------------------------------------------------------------------------
declare -A SKIP=() URL=() LABEL=()
LABEL[nginx-static]="nginx, fixed JSON body"
LABEL[user-get]="user service, GET /users/{id}"
LABEL[gateway-proxy]="gateway → nginx (GET /api/static/x)"
LABEL[nginx-proxy]="nginx reverse proxy (keep-alive pool) → nginx"

P_UPSTREAM="$(free_port)"
P_PROXY="$(free_port "$P_UPSTREAM")"
P_USER="$(free_port "$P_UPSTREAM" "$P_PROXY")"
P_GATEWAY="$(free_port "$P_UPSTREAM" "$P_PROXY" "$P_USER")"

BODY='{"id":"0191f3c2-7b7e-7c4a-9a51-3f2d9c0e8b11","email":"bench@example.com","name":"Bench User"}'
BODY_SOURCE="fixed"

# The user service first: its GET /users/{id} body becomes nginx's body.
USER_UP=0
if want user-get || want gateway-proxy; then
  user_bin="$(service_binary user)"
  if [[ ! -x "$user_bin" ]]; then
    SKIP[user-get]="user service not built"
  else
    mkdir -p "$WORK/user"
    mapfile -t env_user < <(our_env user "$P_USER")
    log_info "starting the user service on 127.0.0.1:$P_USER"
    start user env "${env_user[@]}" "APP_DATABASE__PATH=$WORK/user/user.db" "$user_bin" --config config/user.yaml
    if wait_http_ok "http://127.0.0.1:$P_USER/health/ready" 30 "$LAST_PID"; then
      USER_UP=1
    else
      fail_log user
      SKIP[user-get]="user service did not become ready"
    fi
  fi
fi
if ((USER_UP)) && want user-get; then
  user_json="${BENCH_USER_JSON:-$(printf '{"email":"bench-%s-%s@example.com","name":"Bench User"}' "$STAMP" "$RANDOM")}"
  created="$(curl --noproxy '*' -sS --max-time 5 -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "$user_json" "http://127.0.0.1:$P_USER/users" 2>&1 || true)"
  code="${created##*$'\n'}"
  created="${created%$'\n'*}"
  user_id="$(jq -r '.id // .user.id // empty' <<<"$created" 2>/dev/null || true)"
  if [[ "$code" != 20? || -z "$user_id" ]]; then
    log_warn "POST /users answered $code: $created"
    SKIP[user-get]="POST /users failed ($code)"
  else
    URL[user-get]="http://127.0.0.1:$P_USER/users/$user_id"
    got="$(curl --noproxy '*' -sS --max-time 5 -w '\n%{http_code}' "${URL[user-get]}" || true)"
    code="${got##*$'\n'}"
    got="${got%$'\n'*}"
    if [[ "$code" != 200 ]]; then
      log_warn "GET /users/$user_id answered $code: $got"
      SKIP[user-get]="GET /users/{id} answered $code"
    elif [[ "$got" == *'$'* || "$got" == *$'\n'* ]]; then
      log_note "the user body holds \$ or a newline: nginx keeps its fixed body"
    else
      BODY="$got"
      BODY_SOURCE="copy of the user service's GET /users/{id} response"
    fi
  fi
fi

# nginx upstream (needed by every case but user-get).
if want nginx-static || want gateway-proxy || want nginx-proxy; then
  escaped="${BODY//\\/\\\\}"
  escaped="${escaped//\'/\\\'}"
  log_info "starting nginx (fixed body) on 127.0.0.1:$P_UPSTREAM"
  start_nginx nginx-upstream bench/nginx/upstream.conf.in "$P_UPSTREAM" "BODY=$escaped"
  wait_http_ok "http://127.0.0.1:$P_UPSTREAM/static/x" 10 "$LAST_PID" || {
    fail_log nginx-upstream
    die "nginx (upstream) did not start"
  }
  URL[nginx-static]="http://127.0.0.1:$P_UPSTREAM/static/x"
fi

if want nginx-proxy; then
  log_info "starting nginx (reverse proxy) on 127.0.0.1:$P_PROXY"
  start_nginx nginx-proxy bench/nginx/proxy.conf.in "$P_PROXY" "UPSTREAM_PORT=$P_UPSTREAM" \
    "KEEPALIVE=$CONNECTIONS"
  wait_http_ok "http://127.0.0.1:$P_PROXY/static/x" 10 "$LAST_PID" || {
    fail_log nginx-proxy
    die "nginx (proxy) did not start"
  }
  URL[nginx-proxy]="http://127.0.0.1:$P_PROXY/static/x"
fi

if want gateway-proxy; then
  gw_bin="$(service_binary gateway)"
  if [[ ! -x "$gw_bin" ]]; then
    SKIP[gateway-proxy]="gateway not built"
  else
    mapfile -t env_gw < <(our_env gateway "$P_GATEWAY")
    env_gw+=("APP_GATEWAY__SERVICES__STATIC__UPSTREAM=127.0.0.1:$P_UPSTREAM")
    # The default users upstream (8081) may be someone else's: point it at the benchmark's own.
    ((USER_UP)) && env_gw+=("APP_GATEWAY__SERVICES__USERS__UPSTREAM=127.0.0.1:$P_USER")
    log_info "starting the gateway on 127.0.0.1:$P_GATEWAY"
    start gateway env "${env_gw[@]}" "$gw_bin" --config config/gateway.yaml
    if wait_http_ok "http://127.0.0.1:$P_GATEWAY/api/static/x" 30 "$LAST_PID"; then
      URL[gateway-proxy]="http://127.0.0.1:$P_GATEWAY/api/static/x"
    else
      fail_log gateway
      SKIP[gateway-proxy]="gateway did not answer 200 on /api/static/x"
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------------
# wrk runs: one warm-up per case, then ROUNDS rounds of every case in order.
mkdir -p "$RESULTS"
WRK_CMDS=()
RUN=()
declare -A OUTS=() FAILED=() STATS=()

# wrk_cmd NAME: the measured wrk command of a case, into the array WRK.
wrk_cmd() {
  WRK=(wrk "-t$THREADS" "-c$CONNECTIONS" "-d$DURATION" --timeout "$WRK_TIMEOUT" --latency "${URL[$1]}")
}

# warm_up NAME: one un-measured wrk run (bounded by `timeout`).
warm_up() {
  log_info "$1: warm-up ${WARMUP}"
  timeout --kill-after=5 $((WARMUP_S + 30)) wrk "-t$THREADS" "-c$CONNECTIONS" "-d$WARMUP" \
    --timeout "$WRK_TIMEOUT" "${URL[$1]}" >/dev/null 2>&1 || log_warn "$1: warm-up run failed"
}

# run_round NAME ROUND: one measured wrk run (bounded by `timeout`) into $RESULTS/NAME.roundROUND.wrk.txt;
# the file is added to OUTS[NAME] when wrk finished and printed a Requests/sec line.
run_round() {
  local name="$1" round="$2" out="$RESULTS/$1.round$2.wrk.txt" bound rps
  local -a WRK
  wrk_cmd "$name"
  bound=$((DURATION_S + 30))
  if ! timeout --kill-after=5 "$bound" "${WRK[@]}" >"$out" 2>&1; then
    log_warn "$name round $round/$ROUNDS: wrk failed or exceeded ${bound}s; output in $out"
    FAILED[$name]=$((${FAILED[$name]:-0} + 1))
    return 0
  fi
  rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  if [[ -z "$rps" ]]; then
    log_warn "$name round $round/$ROUNDS: no Requests/sec in $out"
    FAILED[$name]=$((${FAILED[$name]:-0} + 1))
    return 0
  fi
  OUTS[$name]+="$out"$'\n'
  log_info "$name round $round/$ROUNDS: $rps requests/s"
}

# case_stats FILE...: wrk --latency outputs of one case -> one tab-separated line: median, min and
# max requests/s (rounded), median p50, median p99 (wrk's units), total errors (with a breakdown).
# A median over an even count is the mean of the two middle values.
case_stats() {
  awk '
    function us(t) {  # wrk latency (12.34us, 1.20ms, 1.01s, 1.50m, 1.00h) -> microseconds
      if (t ~ /us$/) return t + 0
      if (t ~ /ms$/) return t * 1000
      if (t ~ /m$/) return t * 60e6
      if (t ~ /h$/) return t * 3600e6
      return t * 1e6
    }
    function fmt(x) {  # microseconds -> wrk style
      if (x < 1000) return sprintf("%.2fus", x)
      if (x < 1e6) return sprintf("%.2fms", x / 1000)
      if (x < 60e6) return sprintf("%.2fs", x / 1e6)
      return sprintf("%.2fm", x / 60e6)
    }
    function median(a, n,    i, j, t) {  # sorts a[1..n] in place
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    FNR == 1 { f++ }
    /^Requests\/sec:/ { rps[f] = $2 + 0 }
    /^ +50%/ { p50[f] = us($2) }
    /^ +99%/ { p99[f] = us($2) }
    /Non-2xx or 3xx responses:/ { n += $NF; kind["non-2xx"] += $NF; if (!("non-2xx" in seen)) { seen["non-2xx"]; order[++k] = "non-2xx" } }
    /Socket errors:/ {
      gsub(/,/, "")
      for (i = 3; i < NF; i += 2) if ($(i + 1) > 0) {
        n += $(i + 1); kind[$i] += $(i + 1)
        if (!($i in seen)) { seen[$i]; order[++k] = $i }
      }
    }
    END {
      lo = hi = rps[1]
      for (i = 1; i <= f; i++) { if (rps[i] < lo) lo = rps[i]; if (rps[i] > hi) hi = rps[i] }
      detail = ""
      for (i = 1; i <= k; i++) detail = detail sprintf(", %s %d", order[i], kind[order[i]])
      printf "%.0f\t%.0f\t%.0f\t%s\t%s\t%d%s\n", median(rps, f), lo, hi, fmt(median(p50, f)), fmt(median(p99, f)),
        n, (n ? " (" substr(detail, 3) ")" : "")
    }' "$@"
}

for c in "${CASES[@]}"; do
  if [[ -n "${SKIP[$c]:-}" ]]; then
    log_warn "$c: skipped (${SKIP[$c]})"
  elif [[ -n "${URL[$c]:-}" ]]; then
    RUN+=("$c")
  else
    SKIP[$c]="not started"
  fi
done

if ((${#RUN[@]})); then
  log_info "${#RUN[@]} case(s) × $ROUNDS round(s) of ${DURATION_S}s, warm-up ${WARMUP_S}s per case:" \
    "about $((${#RUN[@]} * (ROUNDS * DURATION_S + WARMUP_S)))s of wrk"
fi
if ((WARMUP_S > 0)); then
  for c in "${RUN[@]}"; do warm_up "$c"; done
fi
for ((round = 1; round <= ROUNDS; round++)); do
  for c in "${RUN[@]}"; do run_round "$c" "$round"; done
done

for c in "${RUN[@]}"; do
  mapfile -t outs < <(printf '%s' "${OUTS[$c]:-}")
  if ((${#outs[@]} == 0)); then
    SKIP[$c]="wrk failed in every round"
    continue
  fi
  STATS[$c]="$(case_stats "${outs[@]}")"
  wrk_cmd "$c"
  WRK_CMDS+=("# ${LABEL[$c]}" "${WRK[*]}")
done

# ---------------------------------------------------------------------------------------------------
# Report
group_digits() { sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta' <<<"$1"; }

report() {
  local c rev cpu build_type warm rounds rps lo hi p50 p99 errors
  rev="$(git rev-parse -q --verify --short HEAD 2>/dev/null || echo "no commit")"
  [[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || rev+=" + uncommitted changes"
  cpu="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
  [[ -n "$cpu" ]] || cpu="$(lscpu 2>/dev/null | awk -F': *' '/Model name/ { print $2; exit }')"
  build_type="$(_cmake_cache_value CMAKE_BUILD_TYPE)"
  warm="no warm-up"
  ((WARMUP_S > 0)) && warm="one unmeasured ${WARMUP} warm-up per case before the first round"
  echo "### HTTP: Mercato vs nginx, median of $ROUNDS round(s) ($(date -u '+%Y-%m-%d %H:%M UTC'), $rev)"
  echo
  echo "| case | requests/s (median) | requests/s (min–max) | p50 (median) | p99 (median) | errors (total) | rounds |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for c in "${CASES[@]}"; do
    if [[ -n "${SKIP[$c]:-}" ]]; then
      echo "| ${LABEL[$c]} | skipped: ${SKIP[$c]} | | | | | |"
    else
      IFS=$'\t' read -r rps lo hi p50 p99 errors <<<"${STATS[$c]}"
      rounds="$((ROUNDS - ${FAILED[$c]:-0}))"
      ((rounds == ROUNDS)) || rounds+=" of $ROUNDS (wrk failed in ${FAILED[$c]})"
      echo "| ${LABEL[$c]} | $(group_digits "$rps") | $(group_digits "$lo")–$(group_digits "$hi") | $p50 | $p99 |" \
        "$errors | $rounds |"
    fi
  done
  echo
  echo "Median over $ROUNDS round(s); each round runs every case once, in the order of the table, so the" \
    "cases interleave in time (servers stay up across rounds). Errors: non-2xx responses + socket errors," \
    "summed over the rounds. wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $WRK_TIMEOUT --latency," \
    "$warm; every server has $WORKERS worker process(es) / I/O thread(s)" \
    "(nginx worker_processes, APP_SERVER__THREADS), nothing pinned, access logs off; wrk shares the" \
    "machine with the servers. Response body: ${#BODY} bytes ($BODY_SOURCE). Our servers: CMake" \
    "${build_type:-?} build."
  echo
  echo "Commands (ports were picked free at run time; nginx configs rendered from bench/nginx/*.conf.in):"
  echo
  echo '```'
  for c in "${SERVER_CMDS[@]}"; do echo "${c% }"; done | sed -e "s|$WORK|\$TMP|g" -e "s|$MERCATO_ROOT/||g"
  if ((WARMUP_S > 0)); then
    echo "# warm-up: once per case, before round 1: each command below with -d$WARMUP and without --latency"
  fi
  echo "# $ROUNDS round(s), each running the commands below once, in this order; the table gives the median"
  for c in "${WRK_CMDS[@]}"; do echo "$c"; done
  echo '```'
  echo
  echo "Machine:"
  echo
  echo '```'
  echo "\$ uname -a"
  uname -a
  echo "\$ nproc"
  nproc
  echo "CPU: ${cpu:-unknown}"
  echo "$(nginx -v 2>&1); $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
  echo '```'
}

report | tee "$RESULTS/report.md"
log_info "report and raw wrk outputs: ${RESULTS#"$MERCATO_ROOT"/}/"
