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
# Prints a markdown table (case, requests/s, p50, p99, errors), the exact commands and the machine
# (uname -a, nproc, CPU model) to paste into docs/benchmarks.md; nothing is appended anywhere. The
# report and the raw wrk outputs are also kept in var/bench/http-<timestamp>/.
# Every process it starts is stopped by PID when it exits (normally, on error or on Ctrl-C).
#
# Environment (defaults in brackets):
#   BENCH_THREADS [2]  BENCH_CONNECTIONS [64]  BENCH_DURATION [10s]   wrk -t / -c / -d
#   BENCH_WARMUP [2s]      un-measured wrk run before each case ("0" for none)
#   BENCH_WRK_TIMEOUT [2s] wrk --timeout (a slower response counts as a timeout error)
#   BENCH_WORKERS [1]      nginx worker_processes = our servers' I/O threads
#   BENCH_CASES ["nginx-static user-get gateway-proxy nginx-proxy"]   which cases, in order
#   BENCH_USER_JSON        the POST /users body (default: a generated email and a name)
#   BENCH_BUILD [1]        0 = do not run ./mercato build first
#   BENCH_KEEP [0]         1 = keep the temporary folder (configs, server logs) for inspection
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=scripts/deps.sh
source scripts/deps.sh
# shellcheck source=scripts/build.sh
source scripts/build.sh

THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
WRK_TIMEOUT="${BENCH_WRK_TIMEOUT:-2s}"
WORKERS="${BENCH_WORKERS:-1}"
read -r -a CASES <<<"${BENCH_CASES:-nginx-static user-get gateway-proxy nginx-proxy}"

for v in THREADS CONNECTIONS WORKERS; do
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
# wrk runs
mkdir -p "$RESULTS"
WRK_CMDS=()
declare -A RPS=() P50=() P99=() ERRORS=()

# run_case NAME: warm-up, then the measured wrk run (bounded by `timeout`), parsed into the tables.
run_case() {
  local name="$1" url="${URL[$1]}" out="$RESULTS/$1.wrk.txt" bound
  local -a cmd=(wrk "-t$THREADS" "-c$CONNECTIONS" "-d$DURATION" --timeout "$WRK_TIMEOUT" --latency "$url")
  if ((WARMUP_S > 0)); then
    log_info "$name: warm-up ${WARMUP}"
    timeout --kill-after=5 $((WARMUP_S + 30)) wrk "-t$THREADS" "-c$CONNECTIONS" "-d$WARMUP" \
      --timeout "$WRK_TIMEOUT" "$url" >/dev/null || log_warn "$name: warm-up run failed"
  fi
  log_info "$name: ${cmd[*]}"
  bound=$((DURATION_S + 30))
  if ! timeout --kill-after=5 "$bound" "${cmd[@]}" >"$out" 2>&1; then
    log_warn "$name: wrk failed or exceeded ${bound}s; output in $out"
    SKIP[$name]="wrk failed"
    return 0
  fi
  WRK_CMDS+=("# ${LABEL[$name]}" "${cmd[*]}")
  RPS[$name]="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  P50[$name]="$(awk '/^ +50%/ { print $2; exit }' "$out")"
  P99[$name]="$(awk '/^ +99%/ { print $2; exit }' "$out")"
  ERRORS[$name]="$(awk '
    /Non-2xx or 3xx responses:/ { n += $NF; detail = detail sprintf(" non-2xx %d", $NF) }
    /Socket errors:/ {
      gsub(/,/, "")
      for (i = 3; i < NF; i += 2) if ($(i + 1) > 0) { n += $(i + 1); detail = detail sprintf(" %s %d", $i, $(i + 1)) }
    }
    END { printf "%d%s", n, (n ? " (" substr(detail, 2) ")" : "") }' "$out")"
}

for c in "${CASES[@]}"; do
  if [[ -n "${SKIP[$c]:-}" ]]; then
    log_warn "$c: skipped (${SKIP[$c]})"
  elif [[ -n "${URL[$c]:-}" ]]; then
    run_case "$c"
  else
    SKIP[$c]="not started"
  fi
done

# ---------------------------------------------------------------------------------------------------
# Report
group_digits() { sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta' <<<"$1"; }

report() {
  local c rev cpu build_type
  rev="$(git rev-parse -q --verify --short HEAD 2>/dev/null || echo "no commit")"
  [[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || rev+=" + uncommitted changes"
  cpu="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
  [[ -n "$cpu" ]] || cpu="$(lscpu 2>/dev/null | awk -F': *' '/Model name/ { print $2; exit }')"
  build_type="$(_cmake_cache_value CMAKE_BUILD_TYPE)"
  echo "### HTTP: Mercato vs nginx ($(date -u '+%Y-%m-%d %H:%M UTC'), $rev)"
  echo
  echo "| case | requests/s | p50 | p99 | errors |"
  echo "|---|---:|---:|---:|---:|"
  for c in "${CASES[@]}"; do
    if [[ -n "${SKIP[$c]:-}" ]]; then
      echo "| ${LABEL[$c]} | skipped: ${SKIP[$c]} | | | |"
    else
      echo "| ${LABEL[$c]} | $(group_digits "${RPS[$c]}") | ${P50[$c]} | ${P99[$c]} | ${ERRORS[$c]} |"
    fi
  done
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $WRK_TIMEOUT --latency, after an unmeasured" \
    "${WARMUP} warm-up per case; every server has $WORKERS worker process(es) / I/O thread(s)" \
    "(nginx worker_processes, APP_SERVER__THREADS), nothing pinned, access logs off; wrk shares the" \
    "machine with the servers. Response body: ${#BODY} bytes ($BODY_SOURCE). Our servers: CMake" \
    "${build_type:-?} build."
  echo
  echo "Commands (ports were picked free at run time; nginx configs rendered from bench/nginx/*.conf.in):"
  echo
  echo '```'
  for c in "${SERVER_CMDS[@]}"; do echo "${c% }"; done | sed -e "s|$WORK|\$TMP|g" -e "s|$MERCATO_ROOT/||g"
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
