#!/usr/bin/env bash
# ./mercato up with etcd, ./mercato scale and ./mercato config, as an operator uses them: a whole system on
# free ports with its own var/ (the user service on a database of the tests' PostgreSQL, so that it can
# scale), then:
#   - every process registered in etcd; `scale user 2` adds user@2 (registered, in var/run/ports, ready),
#     `scale payment 2` is refused (SQLite), SIGTERM to the first instance under a client's requests
#     fails none of them (rolling restart), `scale user 1` removes user@2 (deregistered);
#   - `config set` of a valid value is applied by the running instance (exit 0), an invalid one refused
#     (exit 1, the instance says why), `config history` lists both, `config rollback` restores the first;
#     the order service's saga.step_timeout, its admission control's limits (admission.*, bound to the
#     step timeout) and its calls' settings (order.inventory.*) likewise.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/scripts/system_lib.sh
source "$root/tests/scripts/system_lib.sh"

system_require_postgres

database="scale_$$_$RANDOM"
system_cleanup_hook() {
  psql -q "$MERCATO_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
}
psql -q "$MERCATO_TEST_POSTGRES_URL" -c "CREATE DATABASE $database" >/dev/null || fail "cannot create a database"
system_start "MERCATO_USER_DATABASE_URL=${MERCATO_TEST_POSTGRES_URL%/*}/$database"

mercato scale user 2 >"$work/scale.out" 2>&1 || { cat "$work/scale.out" >&2; fail "scale user 2"; }
grep -q '^user@2 ' "$var/run/ports" || fail "user@2 is not in var/run/ports"
wait_registered user 2 || fail "two user instances are not registered"
if mercato scale payment 2 >"$work/refused.out" 2>&1; then fail "scaling a service on SQLite was not refused"; fi
grep -q 'SQLite' "$work/refused.out" || { cat "$work/refused.out" >&2; fail "the refusal does not say why"; }
# Through the gateway the user service still answers (whichever instance serves).
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gateway/.well-known/jwks.json")"
[[ "$code" == 200 ]] || fail "GET /.well-known/jwks.json through the gateway answered $code"
# A rolling restart under load: the first instance gets SIGTERM (it deregisters, keeps serving for its
# deregister delay, drains; the supervisor restarts it) while a client asks through the gateway without
# pause — not one request may fail, since user@2 serves throughout.
(
  errors=0 total=0
  end=$((SECONDS + 4))
  while ((SECONDS < end)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gateway/.well-known/jwks.json")"
    total=$((total + 1))
    [[ "$code" == 200 ]] || errors=$((errors + 1))
  done
  echo "$errors $total" >"$work/rolling.out"
) &
client=$!
sleep 0.5 # the client is under way before the restart
kill -TERM "$(cat "$var/run/user.pid")"
wait "$client"
read -r errors total <"$work/rolling.out"
((total > 20)) || fail "the client sent only $total requests"
((errors == 0)) || fail "$errors of $total requests failed during a rolling restart"
mercato scale user 1 >"$work/scale.out" 2>&1 || { cat "$work/scale.out" >&2; fail "scale user 1"; }
grep -q '^user@2 ' "$var/run/ports" && fail "user@2 is still in var/run/ports"
[[ "$(registered user)" == 1 ]] || fail "user@2 did not deregister"

# Live configuration, as ./mercato config does it (its etcd: MERCATO_ETCD_PORT above).
mercato config set user log.level debug >"$work/set.out" 2>&1 || { cat "$work/set.out" >&2; fail "config set"; }
grep -q 'user .*applied' "$work/set.out" || { cat "$work/set.out" >&2; fail "the instance did not apply it"; }
if mercato config set user log.level loud >"$work/bad.out" 2>&1; then fail "an invalid value was not refused"; fi
grep -q 'refused: must be one of' "$work/bad.out" || { cat "$work/bad.out" >&2; fail "the refusal does not say why"; }
mercato config history user log.level >"$work/history.out" 2>&1 || fail "config history"
if ! grep -q ' loud$' "$work/history.out" || ! grep -q ' debug$' "$work/history.out"; then
  cat "$work/history.out" >&2
  fail "history does not list both values"
fi
mercato config rollback user log.level >"$work/rollback.out" 2>&1 || { cat "$work/rollback.out" >&2; fail "rollback"; }
mercato config get user log.level >"$work/get.out" 2>&1 || fail "config get"
if ! grep -q '^  debug$' "$work/get.out" || ! grep -q 'user .*applied' "$work/get.out"; then
  cat "$work/get.out" >&2
  fail "rollback did not restore debug"
fi
# The order service's saga timeouts, checked as its file's values are.
mercato config set order saga.step_timeout 10s >"$work/saga.out" 2>&1 || { cat "$work/saga.out" >&2; fail "saga.step_timeout 10s"; }
if mercato config set order saga.step_timeout soon >"$work/saga.out" 2>&1; then fail "saga.step_timeout soon was not refused"; fi
grep -q 'refused: .*a duration such as' "$work/saga.out" || { cat "$work/saga.out" >&2; fail "the saga refusal does not say why"; }
# Admission control's limits (ADR 0018), and the rule that binds them to the step timeout: a step
# timeout at or below admission.max_backlog_time (5s in the file) is refused, and the other way round.
if mercato config set order saga.step_timeout 5s >"$work/saga.out" 2>&1; then fail "saga.step_timeout 5s was not refused"; fi
grep -q 'refused: .*admission.max_backlog_time' "$work/saga.out" || { cat "$work/saga.out" >&2; fail "the step timeout refusal does not say why"; }
mercato config set order admission.max_backlog_time 3s >"$work/admission.out" 2>&1 || { cat "$work/admission.out" >&2; fail "admission.max_backlog_time 3s"; }
if mercato config set order admission.max_backlog_time 10s >"$work/admission.out" 2>&1; then fail "admission.max_backlog_time 10s was not refused"; fi
grep -q 'refused: .*saga.step_timeout' "$work/admission.out" || { cat "$work/admission.out" >&2; fail "the admission refusal does not say why"; }
mercato config set order admission.min_backlog 50 >"$work/admission.out" 2>&1 || { cat "$work/admission.out" >&2; fail "admission.min_backlog 50"; }
if mercato config set order admission.max_backlog 10 >"$work/admission.out" 2>&1; then fail "admission.max_backlog below min_backlog was not refused"; fi
grep -q 'refused: .*at least min_backlog' "$work/admission.out" || { cat "$work/admission.out" >&2; fail "the max_backlog refusal does not say why"; }
# Its calls to inventory: a timeout, retries and a breaker threshold, with the file's ranges.
for kv in "order.inventory.timeout 750ms" "order.inventory.retries 2" "order.inventory.circuit_breaker.failure_threshold 3"; do
  # shellcheck disable=SC2086  # key and value as two words
  mercato config set order $kv >"$work/calls.out" 2>&1 || { cat "$work/calls.out" >&2; fail "config set order $kv"; }
  grep -q 'order .*applied' "$work/calls.out" || { cat "$work/calls.out" >&2; fail "order did not apply $kv"; }
done
if mercato config set order order.inventory.retries 9 >"$work/calls.out" 2>&1; then fail "retries 9 was not refused"; fi
grep -q 'refused: ' "$work/calls.out" || { cat "$work/calls.out" >&2; fail "the retries refusal does not say why"; }
if mercato config set order order.inventory.circuit_breaker.failure_threshold 0 >"$work/calls.out" 2>&1; then
  fail "a failure_threshold of 0 was not refused"
fi
echo "ok"
