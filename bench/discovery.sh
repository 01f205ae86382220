#!/usr/bin/env bash
# bench/discovery.sh — how fast discovery and live configuration act (issue 16), each beside the way it
# is done without etcd, in one run on one system (`./mercato up` on free ports, etcd and NATS, the user
# service on a private PostgreSQL so that it can scale; bench/lib.sh):
#
#   config      the time from a change of the gateway's traffic policy to the change being in force (a
#               per-client rate limit of 1/s, burst 1: in force once a request gets 429):
#                 etcd   `etcdctl put /mercato/config/gateway/policy` (what `./mercato config set` does);
#                 file   the same policy written to the gateway's policy file, found by its file poll
#                        (gateway.policy_poll, 1 s by default) — the reference;
#               BENCH_DISC_ROUNDS rounds of each (the limit is taken off again between rounds);
#   instance    the time from `./mercato scale user 2` to the new instance's first proxied request (a
#               client asking GET /.well-known/jwks.json through the gateway in a loop), beside the
#               instance's /health/ready answering 200: the difference is what registration and the
#               gateway's watch add. BENCH_DISC_ROUNDS rounds (scale 2, then 1).
#
# Prints a markdown report, kept with the logs in var/bench/discovery-<stamp>/. About a minute.
#
# Environment (defaults in brackets):
#   BENCH_DISC_ROUNDS [10]   rounds of each measurement
#   BENCH_BUILD [1]          0 = do not build first
#   BENCH_KEEP [0]           1 = keep the temporary folder
set -euo pipefail

MERCATO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$MERCATO_ROOT"
# shellcheck source=bench/preamble.sh disable=SC1091
source bench/preamble.sh

ROUNDS="${BENCH_DISC_ROUNDS:-10}"
bench_positive BENCH_DISC_ ROUNDS

deps_ensure core bench
if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
  build_project
fi
command -v etcdctl >/dev/null 2>&1 || die "etcdctl not found (./mercato deps installs etcd-client)"
bench_workspace discovery

log_info "starting a private PostgreSQL for the user service"
bench_pg_start on "$RESULTS/postgres.log"
USER_DB="$(bench_pg_database bench_users)"
log_info "starting the system (separate processes, etcd, NATS)"
bench_up "$RESULTS/up.log" "MERCATO_USER_DATABASE_URL=$USER_DB"
ETCD="$(grep -o 'MERCATO_ETCD_PORT=[0-9]*' <<<"$BENCH_UP_CMD" | cut -d= -f2)"
POLICY_FILE="$BENCH_ROOT/config/gateway-policy.yaml"
ORIGINAL_POLICY="$(cat "$POLICY_FILE")"
LIMITED_POLICY="$(printf '%s\nrateLimits:\n  perClient: {rate: 1, burst: 1}\n' "$ORIGINAL_POLICY")"

# status_of URL: the HTTP status of GET URL (000: none).
status_of() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$1" || true; }

# wait_for STATUS|not:STATUS: ms until GET through the gateway answers (or stops answering) STATUS.
wait_for() {
  local want="$1" t0 code
  t0="$(now_ms)"
  while :; do
    code="$(status_of "http://$BENCH_GATEWAY/.well-known/jwks.json")"
    if [[ "$want" == not:* ]]; then [[ "$code" != "${want#not:}" ]] && break; else [[ "$code" == "$want" ]] && break; fi
    (($(now_ms) - t0 < 10000)) || die "no $want within 10 s (last $code)"
  done
  echo $(($(now_ms) - t0))
}

# percentiles of a list of numbers: "p50 max"
summary() { tr ' ' '\n' <<<"$*" | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%d %d\n", v[int((NR + 1) / 2)], v[NR] }'; }

declare -a etcd_on=() file_on=()
log_info "config: $ROUNDS rounds through etcd, $ROUNDS through the policy file"
for ((i = 0; i < ROUNDS; i++)); do
  t0="$(now_ms)"
  ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD" put /mercato/config/gateway/policy -- "$LIMITED_POLICY" >/dev/null
  wait_for 429 >/dev/null
  etcd_on+=($(($(now_ms) - t0)))
  ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD" del /mercato/config/gateway/policy >/dev/null
  sleep 1.1 # the token bucket refills (rate 1/s), so "back to normal" is not a refill
  wait_for not:429 >/dev/null
  t0="$(now_ms)"
  printf '%s\n' "$LIMITED_POLICY" >"$POLICY_FILE.tmp" && mv -f "$POLICY_FILE.tmp" "$POLICY_FILE"
  wait_for 429 >/dev/null
  file_on+=($(($(now_ms) - t0)))
  printf '%s\n' "$ORIGINAL_POLICY" >"$POLICY_FILE.tmp" && mv -f "$POLICY_FILE.tmp" "$POLICY_FILE"
  sleep 1.1
  wait_for not:429 >/dev/null
done

declare -a first_request=() ready=()
log_info "instance: $ROUNDS rounds of ./mercato scale user 2 (then 1)"
# A client through the gateway all along, so that the new instance's first request comes as soon as
# the gateway sends it one.
(while :; do status_of "http://$BENCH_GATEWAY/.well-known/jwks.json" >/dev/null; done) &
CLIENT_PID=$!
BENCH_PIDS+=("$CLIENT_PID")
for ((i = 0; i < ROUNDS; i++)); do
  t0="$(now_ms)"
  env MERCATO_VAR_DIR="$BENCH_ROOT/var" "$BENCH_ROOT/mercato" scale user 2 >>"$RESULTS/scale.log" 2>&1 &
  scale_pid=$!
  port="" t_ready="" t_first=""
  while [[ -z "$t_first" || -z "$t_ready" ]]; do
    (($(now_ms) - t0 < 20000)) || die "user@2 was not ready and served within 20 s"
    [[ -n "$port" ]] || port="$(awk '$1 == "user@2" { print $2 }' "$BENCH_ROOT/var/run/ports" 2>/dev/null || true)"
    [[ -n "$port" ]] || continue
    if [[ -z "$t_ready" && "$(status_of "http://127.0.0.1:$port/health/ready")" == 200 ]]; then
      t_ready=$(($(now_ms) - t0))
    fi
    served="$(curl -s --max-time 1 "http://127.0.0.1:$port/metrics" 2>/dev/null |
      awk '/^http_server_requests_total\{.*jwks/ { s += $2 } END { print s + 0 }' || true)"
    if [[ -z "$t_first" ]] && ((served > 0)); then t_first=$(($(now_ms) - t0)); fi
  done
  wait "$scale_pid" || die "./mercato scale user 2 failed (see $RESULTS/scale.log)"
  ready+=("$t_ready")
  first_request+=("$t_first")
  env MERCATO_VAR_DIR="$BENCH_ROOT/var" "$BENCH_ROOT/mercato" scale user 1 >>"$RESULTS/scale.log" 2>&1
done
proc_stop 5 "$CLIENT_PID"
bench_forget "$CLIENT_PID"
bench_down

read -r eon_p50 eon_max <<<"$(summary "${etcd_on[*]}")"
read -r fon_p50 fon_max <<<"$(summary "${file_on[*]}")"
read -r fr_p50 fr_max <<<"$(summary "${first_request[*]}")"
read -r rd_p50 rd_max <<<"$(summary "${ready[*]}")"
{
  echo "## Discovery and live configuration (\`./mercato bench discovery\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(bench_rev))"
  echo
  echo "System: \`$BENCH_UP_CMD\` (user service on PostgreSQL); $ROUNDS rounds each; ms."
  echo
  echo "| a change of the gateway's policy, until in force (a rate limit: the first 429) | p50 | max |"
  echo "|---|---|---|"
  echo "| live configuration: \`etcdctl put /mercato/config/gateway/policy\` | $eon_p50 | $eon_max |"
  echo "| reference: the policy file, found by the gateway's file poll (every 1 s) | $fon_p50 | $fon_max |"
  echo
  echo "| a new instance: from \`./mercato scale user 2\` to ... | p50 | max |"
  echo "|---|---|---|"
  echo "| its first request through the gateway | $fr_p50 | $fr_max |"
  echo "| reference: its /health/ready answering 200 (registration follows readiness) | $rd_p50 | $rd_max |"
  echo
  echo "Raw: etcd ${etcd_on[*]}; file ${file_on[*]}; first request ${first_request[*]}; ready ${ready[*]}."
} | tee "$RESULTS/report.md"
