#!/usr/bin/env bash
# bench/proxycpu.sh — where a proxied request's CPU goes: the gateway, nginx as a reverse proxy and
# HAProxy, each in front of the same nginx upstream and loaded in turn by the same wrk. For every process
# it reports the CPU time per request (utime + stime from /proc/<pid>/stat over the run, divided by the
# requests wrk completed): the proxy's, the upstream's and wrk's own. On a machine where all of them share
# the cores, requests/s is about (cores × busy share) / (the sum of the three), so the gateway's figure
# against the proxies' is what `./mercato bench http`'s ratio is made of, without the noise of the
# machine's speed from one minute to the next (docs/benchmarks.md, section 15).
#
# BENCH_BASE_GATEWAY=PATH adds a case "gateway-base": that binary (a copy of an earlier build's
# bin, e.g. cp build/services/gateway/mercato-gateway /tmp/gw-before before a change) beside the current
# build's, so that a change is measured against its predecessor in the same minutes: within each round
# the cases alternate.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [4]  BENCH_DURATION [6s]  BENCH_THREADS [2]  BENCH_CONNECTIONS [64]   wrk per case and round
#   BENCH_BASE_GATEWAY     another gateway binary to run beside the current one (see above)
#   BENCH_BUILD [1]        0 = do not run ./mercato build first
#   BENCH_KEEP [0]         1 = keep the temporary folder (configs, logs)
# Prints a markdown table (medians over the rounds) and the commands; the raw wrk output stays in
# var/bench/proxycpu-<timestamp>/. Every process it starts is stopped by PID when it exits.
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

ROUNDS="${BENCH_ROUNDS:-4}"
DURATION="${BENCH_DURATION:-6s}"
THREADS="${BENCH_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
BASE="${BENCH_BASE_GATEWAY:-}"
bench_positive BENCH_ ROUNDS THREADS CONNECTIONS
DURATION_S="$(bench_seconds "$DURATION")"
[[ -z "$BASE" || -x "$BASE" ]] || die "BENCH_BASE_GATEWAY=$BASE is not an executable"

bench_prepare
bench_workspace proxycpu

USER_DIRECTIVE="# not root: nginx runs as the current user"
((EUID == 0)) && USER_DIRECTIVE="user $(id -un) $(id -gn);"
BODY='{"id":"0191f3c2-7b7e-7c4a-9a51-3f2d9c0e8b11","name":"Bench User","created_at":"2026-01-01T00:00:00.000Z"}'

# nginx_conf NAME TEMPLATE PORT KEY=VALUE...: renders an nginx config into $WORK/NAME/.
nginx_conf() {
  local name="$1" template="$2" port="$3" dir="$WORK/$1"
  shift 3
  mkdir -p "$dir"
  bench_render "$template" "DIR=$dir" "PORT=$port" "WORKERS=1" "USER_DIRECTIVE=$USER_DIRECTIVE" "$@" >"$dir/nginx.conf"
}
# worker_of PID: the one worker process of an nginx master (nginx's CPU is its worker's).
worker_of() {
  local -a kids=()
  read -r -a kids <"/proc/$1/task/$1/children" 2>/dev/null || true
  echo "${kids[0]:-$1}"
}

P_UP="$(free_port)"
P_NGINX="$(free_port "$P_UP")"
P_HAPROXY="$(free_port "$P_UP" "$P_NGINX")"
P_GW="$(free_port "$P_UP" "$P_NGINX" "$P_HAPROXY")"
P_BASE="$(free_port "$P_UP" "$P_NGINX" "$P_HAPROXY" "$P_GW")"

nginx_conf upstream bench/nginx/upstream.conf.in "$P_UP" "BODY=$BODY"
bench_start upstream nginx -p "$WORK/upstream/" -c "$WORK/upstream/nginx.conf" -e "$WORK/upstream/error.log"
wait_http_ok "http://127.0.0.1:$P_UP/static/x" 10 "$LAST_PID" || die "nginx (upstream) did not start"
UPSTREAM_PID="$(worker_of "$LAST_PID")"

declare -A URL=() PID=()
CASES=()
nginx_conf nginx-proxy bench/nginx/proxy.conf.in "$P_NGINX" "UPSTREAM_PORT=$P_UP" "KEEPALIVE=$CONNECTIONS"
bench_start nginx-proxy nginx -p "$WORK/nginx-proxy/" -c "$WORK/nginx-proxy/nginx.conf" -e "$WORK/nginx-proxy/error.log"
wait_http_ok "http://127.0.0.1:$P_NGINX/static/x" 10 "$LAST_PID" || die "nginx (proxy) did not start"
CASES+=(nginx-proxy) URL[nginx-proxy]="http://127.0.0.1:$P_NGINX/static/x" PID[nginx-proxy]="$(worker_of "$LAST_PID")"

if command -v haproxy >/dev/null 2>&1; then
  bench_render bench/haproxy/proxy.cfg.in "PORT=$P_HAPROXY" "WORKERS=1" "UPSTREAM_PORT=$P_UP" \
    "KEEPALIVE=$CONNECTIONS" >"$WORK/haproxy.cfg"
  bench_start haproxy haproxy -db -f "$WORK/haproxy.cfg"
  wait_http_ok "http://127.0.0.1:$P_HAPROXY/static/x" 10 "$LAST_PID" || die "HAProxy did not start"
  CASES+=(haproxy-proxy) URL[haproxy-proxy]="http://127.0.0.1:$P_HAPROXY/static/x" PID[haproxy-proxy]="$LAST_PID"
fi

# start_gateway CASE BINARY PORT: a gateway with one I/O thread whose route "static" is the upstream.
start_gateway() {
  bench_start "$1" env APP_SERVER__HOST=127.0.0.1 APP_SERVER__PORT="$3" APP_SERVER__THREADS=1 APP_LOG__LEVEL=warn \
    APP_LOG__ACCESS=false APP_GATEWAY__SERVICES__STATIC__UPSTREAM="127.0.0.1:$P_UP" \
    APP_GATEWAY__SERVICES__STATIC__ROUTES=static "$2" --config config/gateway.yaml
  wait_http_ok "http://127.0.0.1:$3/api/static/x" 30 "$LAST_PID" || die "the gateway ($2) did not start"
  CASES+=("$1") URL[$1]="http://127.0.0.1:$3/api/static/x" PID[$1]="$LAST_PID"
}
start_gateway gateway "$(service_binary gateway)" "$P_GW"
[[ -n "$BASE" ]] && start_gateway gateway-base "$BASE" "$P_BASE"

# measure CASE ROUND: one wrk run; appends "case rps proxy_us upstream_us wrk_us" to $WORK/rows.
measure() {
  local c="$1" out="$RESULTS/$1.round$2.wrk.txt" proxy_t up_t n rps wrk_us
  TICKS=0 && _bench_ticks "${PID[$c]}" && proxy_t=$TICKS
  TICKS=0 && _bench_ticks "$UPSTREAM_PID" && up_t=$TICKS
  local started=$SECONDS
  /usr/bin/time -f '%U %S' -o "$WORK/wrk.time" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION_S}s" "${URL[$c]}" >"$out"
  TICKS=0 && _bench_ticks "${PID[$c]}" && proxy_t=$((TICKS - proxy_t))
  TICKS=0 && _bench_ticks "$UPSTREAM_PID" && up_t=$((TICKS - up_t))
  n="$(awk '/requests in/ { print $1 }' "$out")"
  rps="$(awk '/Requests\/sec/ { print $2 }' "$out")"
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "wrk completed no request on ${URL[$c]} (see $out)"
  wrk_us="$(awk -v n="$n" '{ printf "%.2f", ($1 + $2) * 1e6 / n }' "$WORK/wrk.time")"
  awk -v c="$c" -v rps="$rps" -v p="$proxy_t" -v u="$up_t" -v n="$n" -v hz="$BENCH_CLK_TCK" -v w="$wrk_us" \
    'BEGIN { printf "%s %s %.2f %.2f %s\n", c, rps, p * 1e6 / hz / n, u * 1e6 / hz / n, w }' >>"$WORK/rows"
  log_info "$c round $2: $rps requests/s in $((SECONDS - started)) s"
}

for c in "${CASES[@]}"; do
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "${URL[$c]}" >/dev/null # warm-up, not measured
done
for ((r = 1; r <= ROUNDS; r++)); do
  for c in "${CASES[@]}"; do measure "$c" "$r"; done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "### CPU per proxied request, median of $ROUNDS round(s) ($(date -u '+%Y-%m-%d %H:%M') UTC, $(bench_rev))"
echo
echo "| case | requests/s | proxy µs/request | upstream nginx µs/request | wrk µs/request | sum |"
echo "|---|---:|---:|---:|---:|---:|"
for c in "${CASES[@]}"; do
  col() { awk -v c="$c" -v k="$1" '$1 == c { print $k }' "$WORK/rows" | median; }
  rps="$(col 2)" p="$(col 3)" u="$(col 4)" w="$(col 5)"
  printf '| %s | %.0f | %s | %s | %s | %.2f |\n' "$c" "$rps" "$p" "$u" "$w" "$(awk -v a="$p" -v b="$u" -v d="$w" 'BEGIN { print a + b + d }')"
done
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION_S}s per case and round, the cases alternating; one I/O thread," \
  "worker or nbthread per proxy; access logs off; CPU from /proc/<pid>/stat (utime + stime), wrk's from time(1)."
bench_machine
