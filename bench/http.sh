#!/usr/bin/env bash
# bench/http.sh — HTTP throughput and latency of Mercato's servers next to nginx, HAProxy and the
# Python design (FastAPI + uvicorn), in one run.
#
# Cases (same wrk settings for all; everything on 127.0.0.1, on free high ports):
#   nginx-static          nginx answering GET /static/x with a fixed JSON body (the ceiling for a read)
#   user-get              the user service's GET /users/{id} (one user created first with POST /users),
#                         read by that user: with their access token (the route wants a signed-in caller)
#   inventory-get         the inventory service's GET /inventory/{id} (one product PUT first, as the admin),
#                         anonymous (the catalog is public)
#   inventory-get-auth    the same GET with "Authorization: Bearer <that user's token>": what verifying a
#                         token (Ed25519 signature, claims) costs a service read, next to inventory-get
#   fastapi-user-get      bench/fastapi/app.py's GET /users/{id}: FastAPI + uvicorn from Debian under
#   fastapi-inventory-get   /usr/bin/python3, and GET /inventory/{id}; async handlers, one SQLite
#                         connection per worker, one SQLite read per request, the same record and JSON
#                         shape as our services (seeded with a copy of their response)
#   gateway-proxy         the gateway's GET /api/static/x, proxied to that nginx as /static/x, anonymous
#   gateway-proxy-auth    the same with the user's token: the gateway verifies it before forwarding
#   nginx-proxy           nginx as a reverse proxy (keep-alive upstream pool) to that same nginx
#   haproxy-proxy         HAProxy (http-reuse always, idle server connections kept) to that same nginx
# Sets: "read" = nginx-static user-get inventory-get inventory-get-auth fastapi-user-get
# fastapi-inventory-get (a service read endpoint vs a fixed body and vs FastAPI, and with vs without a
# token), "proxy" = gateway-proxy gateway-proxy-auth nginx-proxy haproxy-proxy (the gateway vs the two
# reverse proxies, and with vs without a token), "all" = both (the default). BENCH_CASES takes case
# names and set names, e.g. BENCH_CASES=proxy or BENCH_CASES="nginx-static user-get".
# Authorization (docs/security.md): the user service is started with a bootstrap admin (a random password
# in the workspace), the inventory service and the gateway with the user service as their key source
# (APP_UPSTREAMS__USER; the gateway's users route); the product is PUT as that admin (bench/lib.sh), the
# user logs in (POST /auth/login) for their token. A token lives 15 minutes, so the user logs in again
# before the warm-ups and before every round, and wrk sends the fresh one (-H); the printed commands show
# it as $TOKEN. The FastAPI app has no authorization: user-get (token verified) vs fastapi-user-get (none)
# includes that cost; inventory-get vs fastapi-inventory-get does not.
# The nginx body is a copy of the user service's GET /users/{id} response when there is one, so the
# cases move the same bytes. Every server gets the same budget: BENCH_WORKERS nginx worker processes,
# HAProxy threads (nbthread), uvicorn worker processes and I/O threads for our servers
# (APP_SERVER__THREADS); nothing is pinned. Access logs are off everywhere. A case whose binary or
# package is missing is reported as skipped.
# FastAPI runs on Debian's uvicorn (0.17) as it comes: the asyncio event loop and the h11 parser,
# neither uvloop nor httptools (pinned with --loop asyncio --http h11, whatever else is installed).
# BENCH_FASTAPI_FAST=1 runs it with --loop uvloop --http httptools instead (Debian's python3-uvloop and
# python3-httptools, in the [bench] packages), and the report says so.
#
# Rounds: on a small machine wrk, nginx and our servers share the cores, and where the scheduler puts
# them moves one run's throughput by tens of percent. So the servers are started once, every case gets
# one un-measured warm-up (all warm-ups before the first round), and then BENCH_ROUNDS rounds run;
# each round runs every case once, in BENCH_CASES order, so the cases interleave in time and a slow
# stretch of the machine hits all of them. The table reports the median over the rounds.
#
# Prints a markdown table (per case: median requests/s, min–max requests/s over the rounds, median
# p50, median p99, errors summed over the rounds (non-2xx + socket errors), rounds, body bytes), the
# ratios of the medians (gateway / the faster of nginx-proxy and haproxy-proxy, a service read /
# nginx-static and / its FastAPI twin, with a token / without for the inventory read and the gateway), the exact commands and the machine (uname -a, nproc, CPU
# model, versions) to paste into docs/benchmarks.md; nothing is appended anywhere. The report and the
# raw wrk output of every round (<case>.round<N>.wrk.txt) are also kept in var/bench/http-<timestamp>/.
# Every process it starts is stopped by PID when it exits (normally, on error or on Ctrl-C).
#
# Environment (defaults in brackets):
#   BENCH_THREADS [2]  BENCH_CONNECTIONS [64]  BENCH_DURATION [10s]   wrk -t / -c / -d
#   BENCH_ROUNDS [3]       measured rounds; each round runs every case once (median reported)
#   BENCH_WARMUP [2s]      un-measured wrk run per case, once, before the first round ("0" for none)
#   BENCH_WRK_TIMEOUT [2s] wrk --timeout (a slower response counts as a timeout error)
#   BENCH_WORKERS [1]      nginx worker_processes = HAProxy nbthread = uvicorn --workers = our
#                          servers' I/O threads
#   BENCH_CASES [all]      which cases (names or the sets read, proxy, all), run in the order given
#   BENCH_USER_JSON        the POST /users body (default: a generated email and a name)
#   BENCH_PYTHON [/usr/bin/python3]   the interpreter of the FastAPI cases (Debian's, not a pyenv one)
#   BENCH_FASTAPI_FAST [0] 1 = uvicorn with uvloop and httptools instead of asyncio and h11
#   BENCH_BUILD [1]        0 = do not run ./mercato build first
#   BENCH_KEEP [0]         1 = keep the temporary folder (configs, server logs) for inspection
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
WRK_TIMEOUT="${BENCH_WRK_TIMEOUT:-2s}"
WORKERS="${BENCH_WORKERS:-1}"
ROUNDS="${BENCH_ROUNDS:-3}"
PYTHON="${BENCH_PYTHON:-/usr/bin/python3}"
FASTAPI_FAST="${BENCH_FASTAPI_FAST:-0}"

READ_CASES=(nginx-static user-get inventory-get inventory-get-auth fastapi-user-get fastapi-inventory-get)
PROXY_CASES=(gateway-proxy gateway-proxy-auth nginx-proxy haproxy-proxy)
# CASES: BENCH_CASES with the sets expanded, each case once, in the order given.
CASES=()
read -r -a _requested <<<"${BENCH_CASES:-all}"
for c in "${_requested[@]}"; do
  case "$c" in
    all) _expanded=("${READ_CASES[@]}" "${PROXY_CASES[@]}") ;;
    read) _expanded=("${READ_CASES[@]}") ;;
    proxy) _expanded=("${PROXY_CASES[@]}") ;;
    *) _expanded=("$c") ;;
  esac
  for e in "${_expanded[@]}"; do
    [[ " ${CASES[*]} " == *" $e "* ]] || CASES+=("$e")
  done
done
((${#CASES[@]})) || die "BENCH_CASES names no case"

bench_positive BENCH_ THREADS CONNECTIONS WORKERS ROUNDS

DURATION_S="$(bench_seconds "$DURATION")"
WARMUP_S="$(bench_seconds "$WARMUP" 0)"
for c in "${CASES[@]}"; do
  [[ " ${READ_CASES[*]} ${PROXY_CASES[*]} " == *" $c "* ]] ||
    die "unknown case '$c' in BENCH_CASES (${READ_CASES[*]} ${PROXY_CASES[*]}, or the sets read proxy all)"
done
[[ "$FASTAPI_FAST" == 0 || "$FASTAPI_FAST" == 1 ]] || die "BENCH_FASTAPI_FAST must be 0 or 1"
want() { [[ " ${CASES[*]} " == *" $1 "* ]]; }

deps_ensure core bench
if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
  build_project
fi

bench_workspace http

# fail_log NAME: shows the end of a server's log.
fail_log() {
  log_note "last lines of $1.log:"
  tail -n 20 "$WORK/$1.log" 2>/dev/null | sed 's/^/      /' >&2 || true
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
  bench_render "$template" "DIR=$dir" "PORT=$port" "WORKERS=$WORKERS" "USER_DIRECTIVE=$USER_DIRECTIVE" "$@" \
    >"$dir/nginx.conf"
  nginx -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" ||
    die "nginx rejected $dir/nginx.conf (from $template)"
  bench_start "$name" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
}

# start_haproxy NAME TEMPLATE PORT KEY=VALUE...: renders the config into $WORK/NAME/ and starts HAProxy
# in the foreground (-db: no daemon, no master process), so the recorded PID is HAProxy's own.
start_haproxy() {
  local name="$1" template="$2" port="$3" dir="$WORK/$1"
  shift 3
  mkdir -p "$dir"
  bench_render "$template" "PORT=$port" "WORKERS=$WORKERS" "$@" >"$dir/haproxy.cfg"
  haproxy -c -q -f "$dir/haproxy.cfg" >>"$WORK/$name.log" 2>&1 ||
    die "haproxy rejected $dir/haproxy.cfg (from $template): $(tail -n 5 "$WORK/$name.log")"
  bench_start "$name" haproxy -db -f "$dir/haproxy.cfg"
}

# our_env NAME PORT: the APP_* settings every one of our servers gets in the benchmark.
our_env() {
  printf '%s\n' "APP_SERVER__HOST=127.0.0.1" "APP_SERVER__PORT=$2" "APP_SERVER__THREADS=$WORKERS" \
    "APP_LOG__LEVEL=warn" "APP_LOG__ACCESS=false"
}

# ---------------------------------------------------------------------------------------------------
declare -A SKIP=() URL=() LABEL=() BYTES=() AUTH=()
# AUTH[case]=1: the case sends "Authorization: Bearer $TOKEN" (the user's token, fresh every round).
TOKEN=""
LABEL[nginx-static]="nginx, fixed JSON body"
LABEL[user-get]="user service, GET /users/{id}"
LABEL[inventory-get]="inventory service, GET /inventory/{id}"
LABEL[inventory-get-auth]="inventory service, GET /inventory/{id} with a token"
LABEL[fastapi-user-get]="FastAPI + uvicorn (Python), GET /users/{id}"
LABEL[fastapi-inventory-get]="FastAPI + uvicorn (Python), GET /inventory/{id}"
LABEL[gateway-proxy]="gateway → nginx (GET /api/static/x)"
LABEL[gateway-proxy-auth]="gateway → nginx (GET /api/static/x) with a token"
LABEL[nginx-proxy]="nginx reverse proxy (keep-alive pool) → nginx"
LABEL[haproxy-proxy]="HAProxy reverse proxy (http-reuse always) → nginx"

P_UPSTREAM="$(free_port)"
P_PROXY="$(free_port "$P_UPSTREAM")"
P_USER="$(free_port "$P_UPSTREAM" "$P_PROXY")"
P_GATEWAY="$(free_port "$P_UPSTREAM" "$P_PROXY" "$P_USER")"
P_INVENTORY="$(free_port "$P_UPSTREAM" "$P_PROXY" "$P_USER" "$P_GATEWAY")"
P_FASTAPI="$(free_port "$P_UPSTREAM" "$P_PROXY" "$P_USER" "$P_GATEWAY" "$P_INVENTORY")"
P_HAPROXY="$(free_port "$P_UPSTREAM" "$P_PROXY" "$P_USER" "$P_GATEWAY" "$P_INVENTORY" "$P_FASTAPI")"

# The records the FastAPI app is seeded with: copies of our services' responses when they run, else these
# (a user record of the service's shape and size; nginx's body is the user record).
USER_RECORD='{"id":"0191f3c2-7b7e-7c4a-9a51-3f2d9c0e8b11","email":"bench-00000000-000000-00000@example.com","name":"Bench User","created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}'
USER_RECORD_SOURCE="fixed"
BODY="$USER_RECORD"
BODY_SOURCE="a fixed user record"
PRODUCT_ID="bench-mug"
PRODUCT_RECORD='{"product_id":"bench-mug","name":"Bench Mug","price_cents":1299,"available":1000,"reserved":0,"sold":0,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}'
PRODUCT_RECORD_SOURCE="fixed"

# single_quoted TEXT: TEXT as one single-quoted shell word (for the printed commands).
single_quoted() {
  local q="'"
  printf "'%s'" "${1//$q/$q\\$q$q}"
}

# start_service NAME PORT: starts one of our services on PORT with its own SQLite file under $WORK;
# true once it is ready. Sets SERVICE_BIN_MISSING=1 when the binary is not built. The user service gets
# the bootstrap admin, any other service the user service (already started) as its key source.
start_service() {
  local name="$1" port="$2" bin
  local -a env_svc
  SERVICE_BIN_MISSING=0
  bin="$(service_binary "$name")"
  if [[ ! -x "$bin" ]]; then
    SERVICE_BIN_MISSING=1
    return 1
  fi
  mkdir -p "$WORK/$name"
  mapfile -t env_svc < <(our_env "$name" "$port")
  if [[ "$name" == user ]]; then
    bench_secrets
    env_svc+=("APP_AUTH__ADMIN__PASSWORD_FILE=$BENCH_SECRETS/admin-password")
  else
    env_svc+=("APP_UPSTREAMS__USER=127.0.0.1:$P_USER")
  fi
  log_info "starting the $name service on 127.0.0.1:$port"
  bench_start "$name" env "${env_svc[@]}" "APP_DATABASE__PATH=$WORK/$name/$name.db" "$bin" --config "config/$name.yaml"
  wait_http_ok "http://127.0.0.1:$port/health/ready" 30 "$LAST_PID" && return 0
  fail_log "$name"
  return 1
}

# The user service first: its GET /users/{id} body becomes nginx's body and the FastAPI app's user; it
# issues the tokens every other case verifies, and the admin's.
USER_UP=0
if want user-get || want gateway-proxy || want gateway-proxy-auth || want fastapi-user-get ||
  want inventory-get || want inventory-get-auth || want fastapi-inventory-get; then
  if start_service user "$P_USER"; then
    USER_UP=1
  elif ((SERVICE_BIN_MISSING)); then
    SKIP[user-get]="user service not built"
  else
    SKIP[user-get]="user service did not become ready"
  fi
fi
if ((!USER_UP)); then
  for c in inventory-get inventory-get-auth gateway-proxy-auth; do
    SKIP[$c]="${SKIP[user-get]:-user service not started} (it issues the tokens)"
  done
fi
# The user: registered, then logged in for their token (login_user, again before every round).
USER_EMAIL="" USER_PASSWORD=""
login_user() {
  [[ -n "$USER_EMAIL" ]] || return 1
  TOKEN="$(bench_customer_token "http://127.0.0.1:$P_USER" "$USER_EMAIL" "$USER_PASSWORD")" || {
    TOKEN=""
    return 1
  }
}
if ((USER_UP)); then
  user_json="${BENCH_USER_JSON:-$(printf '{"email":"bench-%s-%s@example.com","name":"Bench User","password":"bench-password"}' "$STAMP" "$RANDOM")}"
  bench_call POST "http://127.0.0.1:$P_USER/users" "$user_json"
  user_id="$(jq -r '.id // .user.id // empty' <<<"$GOT" 2>/dev/null || true)"
  USER_EMAIL="$(jq -r '.email // empty' <<<"$user_json")"
  USER_PASSWORD="$(jq -r '.password // empty' <<<"$user_json")"
  if [[ "$CODE" != 20? || -z "$user_id" ]]; then
    log_warn "POST /users answered $CODE: $GOT"
    SKIP[user-get]="POST /users failed ($CODE)"
    USER_EMAIL=""
  elif ! login_user; then
    SKIP[user-get]="the user's login failed"
  else
    URL[user-get]="http://127.0.0.1:$P_USER/users/$user_id"
    AUTH[user-get]=1
    bench_call GET "${URL[user-get]}" "" "$TOKEN"
    if [[ "$CODE" != 200 ]]; then
      log_warn "GET /users/$user_id answered $CODE: $GOT"
      SKIP[user-get]="GET /users/{id} answered $CODE"
    else
      USER_RECORD="$GOT"
      USER_RECORD_SOURCE="copy of the user service's GET /users/{id} response"
      if [[ "$GOT" == *'$'* || "$GOT" == *$'\n'* ]]; then
        log_note "the user body holds \$ or a newline: nginx keeps its fixed body"
      else
        BODY="$GOT"
        BODY_SOURCE="copy of the user service's GET /users/{id} response"
      fi
    fi
  fi
fi

# The inventory service: one product, PUT first (as the admin); its GET body becomes the FastAPI app's
# product. It verifies tokens with the user service's keys, fetched at start (ready once it has them).
if ((USER_UP)) && { want inventory-get || want inventory-get-auth || want fastapi-inventory-get; }; then
  if start_service inventory "$P_INVENTORY"; then
    bench_call PUT "http://127.0.0.1:$P_INVENTORY/inventory/$PRODUCT_ID" \
      '{"name":"Bench Mug","price_cents":1299,"available":1000}' "$(bench_admin_token "http://127.0.0.1:$P_USER")"
    if [[ "$CODE" != 20? ]]; then
      log_warn "PUT /inventory/$PRODUCT_ID answered $CODE: $GOT"
      SKIP[inventory-get]="PUT /inventory/{id} failed ($CODE)"
    else
      URL[inventory-get]="http://127.0.0.1:$P_INVENTORY/inventory/$PRODUCT_ID"
      if [[ -n "$TOKEN" ]]; then
        URL[inventory-get-auth]="${URL[inventory-get]}"
        AUTH[inventory-get-auth]=1
        bench_call GET "${URL[inventory-get-auth]}" "" "$TOKEN"
        [[ "$CODE" == 200 ]] || SKIP[inventory-get-auth]="GET /inventory/{id} with the user's token answered $CODE"
      else
        SKIP[inventory-get-auth]="no user token"
      fi
      bench_call GET "${URL[inventory-get]}"
      if [[ "$CODE" != 200 ]]; then
        log_warn "GET /inventory/$PRODUCT_ID answered $CODE: $GOT"
        SKIP[inventory-get]="GET /inventory/{id} answered $CODE"
        unset 'URL[inventory-get]'
      else
        PRODUCT_RECORD="$GOT"
        PRODUCT_RECORD_SOURCE="copy of the inventory service's GET /inventory/{id} response"
      fi
    fi
  elif ((SERVICE_BIN_MISSING)); then
    SKIP[inventory-get]="inventory service not built"
  else
    SKIP[inventory-get]="inventory service did not become ready"
  fi
fi
[[ -z "${SKIP[inventory-get]:-}" ]] || SKIP[inventory-get-auth]="${SKIP[inventory-get-auth]:-${SKIP[inventory-get]}}"

# The FastAPI app: one process serving both endpoints, seeded with the same two records.
FASTAPI_FLAGS=(--loop asyncio --http h11)
((FASTAPI_FAST)) && FASTAPI_FLAGS=(--loop uvloop --http httptools)
FASTAPI_VERSIONS=""
FASTAPI_SAME=1 # 0 once a FastAPI body differs from the record it was seeded with
if want fastapi-user-get || want fastapi-inventory-get; then
  fastapi_skip=""
  if [[ ! -x "$PYTHON" ]]; then
    fastapi_skip="$PYTHON not found"
  elif ! FASTAPI_VERSIONS="$("$PYTHON" -c 'import sys, fastapi, starlette, uvicorn
print("Python %s, FastAPI %s, Starlette %s, uvicorn %s" % (sys.version.split()[0], fastapi.__version__,
      starlette.__version__, uvicorn.__version__))' 2>/dev/null)"; then
    fastapi_skip="fastapi or uvicorn missing under $PYTHON (./mercato deps bench)"
  elif ((FASTAPI_FAST)) && ! "$PYTHON" -c 'import uvloop, httptools' 2>/dev/null; then
    fastapi_skip="uvloop or httptools missing under $PYTHON (./mercato deps bench)"
  else
    mkdir -p "$WORK/fastapi"
    fastapi_db="$WORK/fastapi/bench.db"
    for kind in users inventory; do
      record="$USER_RECORD"
      [[ "$kind" == inventory ]] && record="$PRODUCT_RECORD"
      "$PYTHON" bench/fastapi/app.py seed "$fastapi_db" "$kind" "$record" || die "seeding $fastapi_db failed"
    done
    BENCH_SERVER_CMDS+=("# fastapi: its SQLite file, seeded with the records our services returned"
      "$PYTHON bench/fastapi/app.py seed $fastapi_db users $(single_quoted "$USER_RECORD")"
      "$PYTHON bench/fastapi/app.py seed $fastapi_db inventory $(single_quoted "$PRODUCT_RECORD")")
    log_info "starting FastAPI + uvicorn (${FASTAPI_FLAGS[*]}) on 127.0.0.1:$P_FASTAPI"
    bench_start fastapi env "MERCATO_FASTAPI_DB=$fastapi_db" "$PYTHON" -m uvicorn app:app --app-dir bench/fastapi \
      --host 127.0.0.1 --port "$P_FASTAPI" --workers "$WORKERS" --no-access-log --log-level warning \
      "${FASTAPI_FLAGS[@]}"
    if wait_http_ok "http://127.0.0.1:$P_FASTAPI/health/ready" 30 "$LAST_PID"; then
      uid="$(jq -r .id <<<"$USER_RECORD")"
      URL[fastapi-user-get]="http://127.0.0.1:$P_FASTAPI/users/$uid"
      URL[fastapi-inventory-get]="http://127.0.0.1:$P_FASTAPI/inventory/$(jq -r .product_id <<<"$PRODUCT_RECORD")"
      # The same record must come back as the same bytes our service sends.
      for pair in "fastapi-user-get:$USER_RECORD" "fastapi-inventory-get:$PRODUCT_RECORD"; do
        c="${pair%%:*}"
        bench_call GET "${URL[$c]}"
        if [[ "$CODE" != 200 ]]; then
          log_warn "$c: ${URL[$c]} answered $CODE: $GOT"
          SKIP[$c]="answered $CODE"
        elif [[ "$GOT" != "${pair#*:}" ]]; then
          log_warn "$c: the body differs from our service's: $GOT"
          FASTAPI_SAME=0
        fi
      done
    else
      fail_log fastapi
      fastapi_skip="uvicorn did not become ready"
    fi
  fi
  if [[ -n "$fastapi_skip" ]]; then
    SKIP[fastapi-user-get]="$fastapi_skip"
    SKIP[fastapi-inventory-get]="$fastapi_skip"
  fi
fi

# nginx upstream (needed by nginx-static and every proxy case).
if want nginx-static || want gateway-proxy || want nginx-proxy || want haproxy-proxy; then
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

if want haproxy-proxy; then
  if ! command -v haproxy >/dev/null 2>&1; then
    SKIP[haproxy-proxy]="haproxy not installed (./mercato deps bench)"
  else
    log_info "starting HAProxy (reverse proxy) on 127.0.0.1:$P_HAPROXY"
    start_haproxy haproxy-proxy bench/haproxy/proxy.cfg.in "$P_HAPROXY" "UPSTREAM_PORT=$P_UPSTREAM" \
      "KEEPALIVE=$CONNECTIONS"
    wait_http_ok "http://127.0.0.1:$P_HAPROXY/static/x" 10 "$LAST_PID" || {
      fail_log haproxy-proxy
      die "HAProxy did not start"
    }
    URL[haproxy-proxy]="http://127.0.0.1:$P_HAPROXY/static/x"
  fi
fi

if want gateway-proxy || want gateway-proxy-auth; then
  gw_bin="$(service_binary gateway)"
  if [[ ! -x "$gw_bin" ]]; then
    SKIP[gateway-proxy]="gateway not built"
    SKIP[gateway-proxy-auth]="gateway not built"
  else
    mapfile -t env_gw < <(our_env gateway "$P_GATEWAY")
    # nginx behind the gateway: an upstream that is no described service, so it names its route.
    env_gw+=("APP_GATEWAY__SERVICES__STATIC__UPSTREAM=127.0.0.1:$P_UPSTREAM" "APP_GATEWAY__SERVICES__STATIC__ROUTES=static")
    # The default user service address (8081) may be someone else's: point it at the benchmark's own,
    # whose /.well-known/jwks.json gives the gateway the keys it verifies tokens with. No policy file: no
    # per-client rate limits (wrk is one client).
    ((USER_UP)) && env_gw+=("APP_GATEWAY__SERVICES__USER__UPSTREAM=127.0.0.1:$P_USER")
    log_info "starting the gateway on 127.0.0.1:$P_GATEWAY"
    bench_start gateway env "${env_gw[@]}" "$gw_bin" --config config/gateway.yaml
    if wait_http_ok "http://127.0.0.1:$P_GATEWAY/api/static/x" 30 "$LAST_PID"; then
      URL[gateway-proxy]="http://127.0.0.1:$P_GATEWAY/api/static/x"
      if [[ -z "$TOKEN" ]]; then
        SKIP[gateway-proxy-auth]="${SKIP[gateway-proxy-auth]:-no user token}"
      elif ! wait_http_ok "http://127.0.0.1:$P_GATEWAY/health/ready" 30 "$LAST_PID"; then
        SKIP[gateway-proxy-auth]="the gateway did not get the user service's keys (not ready)"
      else
        URL[gateway-proxy-auth]="${URL[gateway-proxy]}"
        AUTH[gateway-proxy-auth]=1
        bench_call GET "${URL[gateway-proxy-auth]}" "" "$TOKEN"
        [[ "$CODE" == 200 ]] || SKIP[gateway-proxy-auth]="GET /api/static/x with the user's token answered $CODE"
      fi
    else
      fail_log gateway
      SKIP[gateway-proxy]="gateway did not answer 200 on /api/static/x"
      SKIP[gateway-proxy-auth]="gateway did not answer 200 on /api/static/x"
    fi
  fi
fi

# Body bytes per case (what one GET returns), for the table.
for c in "${CASES[@]}"; do
  if [[ -n "${URL[$c]:-}" && -z "${SKIP[$c]:-}" ]]; then
    auth=()
    [[ -n "${AUTH[$c]:-}" ]] && auth=(-H "Authorization: Bearer $TOKEN")
    BYTES[$c]="$(curl --noproxy '*' -s -o /dev/null --max-time 5 -w '%{size_download}' "${auth[@]}" "${URL[$c]}" || true)"
  fi
done

# ---------------------------------------------------------------------------------------------------
# wrk runs: one warm-up per case, then ROUNDS rounds of every case in order.
WRK_CMDS=()
RUN=()
declare -A OUTS=() FAILED=() STATS=()

# wrk_cmd NAME: the measured wrk command of a case, into the array WRK (with the user's current token
# when the case sends one).
wrk_cmd() {
  local -a header=()
  [[ -n "${AUTH[$1]:-}" ]] && header=(-H "Authorization: Bearer $TOKEN")
  WRK=(wrk "-t$THREADS" "-c$CONNECTIONS" "-d$DURATION" --timeout "$WRK_TIMEOUT" --latency "${header[@]}" "${URL[$1]}")
}

# shown_cmd WORDS...: a command for the report, the token as $TOKEN and quoted where it has spaces.
shown_cmd() {
  local w out=""
  for w in "$@"; do
    [[ -n "$TOKEN" ]] && w="${w//"$TOKEN"/\$TOKEN}"
    [[ "$w" == *" "* ]] && w="\"$w\""
    out+="${out:+ }$w"
  done
  echo "$out"
}

# fresh_token: the user logs in again (tokens live 15 minutes; a run of every case is longer), so each
# round's wrk runs send a token that is valid throughout. A failed login fails the token cases' round.
fresh_token() {
  ((${#AUTH[@]})) || return 0
  login_user || log_warn "the user's login failed: the cases with a token will answer 401"
}

# warm_up NAME: one un-measured wrk run (bounded by `timeout`).
warm_up() {
  local -a header=()
  [[ -n "${AUTH[$1]:-}" ]] && header=(-H "Authorization: Bearer $TOKEN")
  log_info "$1: warm-up ${WARMUP}"
  timeout --kill-after=5 $((WARMUP_S + 30)) wrk "-t$THREADS" "-c$CONNECTIONS" "-d$WARMUP" \
    --timeout "$WRK_TIMEOUT" "${header[@]}" "${URL[$1]}" >/dev/null 2>&1 || log_warn "$1: warm-up run failed"
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
# max requests/s (rounded), median p50, median p99 (wrk's units), median p99 in microseconds (for the
# ratios), total errors (with a breakdown).
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
      p99us = median(p99, f)
      printf "%.0f\t%.0f\t%.0f\t%s\t%s\t%.0f\t%d%s\n", median(rps, f), lo, hi, fmt(median(p50, f)), fmt(p99us),
        p99us, n, (n ? " (" substr(detail, 3) ")" : "")
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
  fresh_token
  for c in "${RUN[@]}"; do warm_up "$c"; done
fi
for ((round = 1; round <= ROUNDS; round++)); do
  fresh_token
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
  WRK_CMDS+=("# ${LABEL[$c]}" "$(shown_cmd "${WRK[@]}")")
done

# ---------------------------------------------------------------------------------------------------
# Report
group_digits() { sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta' <<<"$1"; }

# field NAME INDEX: field INDEX (1-based) of STATS[NAME]: 1 median requests/s, 6 median p99 in µs.
field() { cut -f "$2" <<<"${STATS[$1]}"; }
have() { [[ -n "${STATS[$1]:-}" && -z "${SKIP[$1]:-}" ]]; }

# ratio_line TEXT A B [TARGET]: "- TEXT: A/B× (… requests/s vs …)" from the medians, when both ran.
ratio_line() {
  local text="$1" a="$2" b="$3" target="${4:-}"
  have "$a" && have "$b" || return 0
  awk -v t="$text" -v x="$(field "$a" 1)" -v y="$(field "$b" 1)" -v g="$target" 'BEGIN {
    printf "- %s: **%.2f×** (%d vs %d requests/s)%s\n", t, (y > 0 ? x / y : 0), x, y, (g != "" ? "; target " g : "") }'
}

# ratios: the comparisons issue 7 asks for, computed from the medians of this run.
ratios() {
  local faster="" p99s
  if have nginx-proxy && have haproxy-proxy; then
    faster=nginx-proxy
    (($(field haproxy-proxy 1) > $(field nginx-proxy 1))) && faster=haproxy-proxy
  elif have nginx-proxy; then
    faster=nginx-proxy
  elif have haproxy-proxy; then
    faster=haproxy-proxy
  fi
  if [[ -n "$faster" ]] && have gateway-proxy; then
    ratio_line "gateway / the faster proxy (${faster%-proxy})" gateway-proxy "$faster" "≥ 1.2×"
    ratio_line "gateway / nginx reverse proxy" gateway-proxy nginx-proxy
    ratio_line "gateway / HAProxy" gateway-proxy haproxy-proxy
    ratio_line "HAProxy / nginx reverse proxy (the two references)" haproxy-proxy nginx-proxy
    p99s="$(for c in gateway-proxy nginx-proxy haproxy-proxy; do have "$c" && echo "$c $(field "$c" 6)"; done)"
    awk '{ us[$1] = $2; order[++n] = $1 }
      END {
        line = sprintf("- gateway p99 / proxy p99:")
        for (i = 2; i <= n; i++) line = line sprintf(" %s %.2f×%s", order[i], (us[order[i]] > 0 ? us["gateway-proxy"] / us[order[i]] : 0), (i < n ? "," : ""))
        print line "; target ≤ 1× (no worse than either)"
      }' <<<"$p99s"
  fi
  ratio_line "user service GET /users/{id} / nginx fixed body" user-get nginx-static "≥ 0.9×"
  ratio_line "user service GET /users/{id} / FastAPI GET /users/{id}" user-get fastapi-user-get "≥ 10×"
  ratio_line "inventory service GET /inventory/{id} / nginx fixed body" inventory-get nginx-static "≥ 0.9×"
  ratio_line "inventory service GET /inventory/{id} / FastAPI GET /inventory/{id}" inventory-get \
    fastapi-inventory-get "≥ 10×"
  # What verifying a bearer token costs: the same GET, with the token / without.
  ratio_line "inventory service GET /inventory/{id}, with a token / without" inventory-get-auth inventory-get
  ratio_line "gateway → nginx, with a token / without" gateway-proxy-auth gateway-proxy
  token_p99_line inventory-get-auth inventory-get "inventory service GET /inventory/{id}"
  token_p99_line gateway-proxy-auth gateway-proxy "gateway → nginx"
}

# token_p99_line WITH WITHOUT TEXT: "- TEXT, p99 with a token / without: …×" when both ran.
token_p99_line() {
  have "$1" && have "$2" || return 0
  awk -v t="$3" -v x="$(field "$1" 6)" -v y="$(field "$2" 6)" 'BEGIN {
    printf "- %s, p99 with a token / without: **%.2f×** (%.0f vs %.0f µs)\n", t, (y > 0 ? x / y : 0), x, y }'
}

report() {
  local c rev cpu build_type warm rounds rps lo hi p50 p99 errors any_fastapi=0 ratio_lines nginx_body=""
  rev="$(git rev-parse -q --verify --short HEAD 2>/dev/null || echo "no commit")"
  [[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || rev+=" + uncommitted changes"
  cpu="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
  [[ -n "$cpu" ]] || cpu="$(lscpu 2>/dev/null | awk -F': *' '/Model name/ { print $2; exit }')"
  build_type="$(_cmake_cache_value CMAKE_BUILD_TYPE)"
  warm="no warm-up"
  ((WARMUP_S > 0)) && warm="one unmeasured ${WARMUP} warm-up per case before the first round"
  { want fastapi-user-get || want fastapi-inventory-get; } && any_fastapi=1
  [[ -n "${URL[nginx-static]:-}" ]] && nginx_body=" nginx's fixed body: ${#BODY} bytes ($BODY_SOURCE)."
  echo "### HTTP: Mercato vs nginx, HAProxy and FastAPI, median of $ROUNDS round(s) ($(date -u '+%Y-%m-%d %H:%M UTC'), $rev)"
  echo
  echo "| case | requests/s (median) | requests/s (min–max) | p50 (median) | p99 (median) | errors (total) | rounds | body (bytes) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for c in "${CASES[@]}"; do
    if [[ -n "${SKIP[$c]:-}" ]]; then
      echo "| ${LABEL[$c]} | skipped: ${SKIP[$c]} | | | | | | |"
    else
      IFS=$'\t' read -r rps lo hi p50 p99 _ errors <<<"${STATS[$c]}"
      rounds="$((ROUNDS - ${FAILED[$c]:-0}))"
      ((rounds == ROUNDS)) || rounds+=" of $ROUNDS (wrk failed in ${FAILED[$c]})"
      echo "| ${LABEL[$c]} | $(group_digits "$rps") | $(group_digits "$lo")–$(group_digits "$hi") | $p50 | $p99 |" \
        "$errors | $rounds | ${BYTES[$c]:-?} |"
    fi
  done
  echo
  ratio_lines="$(ratios)"
  if [[ -n "$ratio_lines" ]]; then
    echo "Ratios of the medians above (Mercato / reference):"
    echo
    echo "$ratio_lines"
    echo
  fi
  echo "Median over $ROUNDS round(s); each round runs every case once, in the order of the table, so the" \
    "cases interleave in time (servers stay up across rounds). Errors: non-2xx responses + socket errors," \
    "summed over the rounds. wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $WRK_TIMEOUT --latency," \
    "$warm; every server has $WORKERS worker process(es) / thread(s) (nginx worker_processes, HAProxy" \
    "nbthread, uvicorn --workers, APP_SERVER__THREADS), nothing pinned, access logs off; wrk shares the" \
    "machine with the servers.${nginx_body} Our servers: CMake" \
    "${build_type:-?} build; each service on its own SQLite file (one connection, exclusive locking)."
  if ((${#AUTH[@]})); then
    echo
    echo "Tokens: the cases \"with a token\" and user-get send \"Authorization: Bearer <a customer's access" \
      "token>\" (Ed25519 JWT from the user service's POST /auth/login, the customer logging in again before" \
      "the warm-ups and every round); the server verifies it on every request (signature, then claims)." \
      "The other cases send none (anonymous). The FastAPI app checks no token."
  fi
  if ((any_fastapi)); then
    echo
    if ((FASTAPI_FAST)); then
      echo "FastAPI: bench/fastapi/app.py on Debian's packages under $PYTHON (${FASTAPI_VERSIONS:-versions unknown})," \
        "run with uvloop and httptools (--loop uvloop --http httptools; Debian's python3-uvloop and" \
        "python3-httptools, BENCH_FASTAPI_FAST=1), not uvicorn's Debian default."
    else
      echo "FastAPI: bench/fastapi/app.py on Debian's packages under $PYTHON (${FASTAPI_VERSIONS:-versions unknown})." \
        "Debian's uvicorn runs without uvloop and httptools: the asyncio event loop and the pure-Python h11" \
        "parser (--loop asyncio --http h11). Debian 12 does package python3-uvloop and python3-httptools;" \
        "BENCH_FASTAPI_FAST=1 runs the same cases with them."
    fi
    local same="byte for byte the same body (checked before the first round)"
    ((FASTAPI_SAME)) || same="WARNING: a body differed from the seeded record (see the log)"
    echo "Async handlers, one sqlite3 connection per worker process (default journal and locking), one" \
      "SELECT per request, the same record and JSON shape as our services - user: $USER_RECORD_SOURCE;" \
      "product: $PRODUCT_RECORD_SOURCE; $same."
  fi
  echo
  echo "Commands (ports were picked free at run time; configs rendered from bench/nginx/*.conf.in and" \
    "bench/haproxy/proxy.cfg.in):"
  echo
  echo '```'
  for c in "${BENCH_SERVER_CMDS[@]}"; do echo "${c% }"; done | sed -e "s|$WORK|\$TMP|g" -e "s|$MERCATO_ROOT/||g"
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
  if want haproxy-proxy && command -v haproxy >/dev/null 2>&1; then
    haproxy -v 2>/dev/null | head -n 1
  fi
  ((any_fastapi)) && [[ -n "$FASTAPI_VERSIONS" ]] && echo "$FASTAPI_VERSIONS ($PYTHON)"
  echo '```'
}

report | tee "$RESULTS/report.md"
log_info "report and raw wrk outputs: ${RESULTS#"$MERCATO_ROOT"/}/"
