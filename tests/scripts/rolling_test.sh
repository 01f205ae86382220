#!/usr/bin/env bash
# A rolling restart of every service under load, as an operator does one: a whole system on free ports
# (`./mercato up` with etcd), every service on its own database of the tests' PostgreSQL so that each can
# run two instances (`./mercato scale <service> 2`), then SIGTERM to the first instance of each service in
# turn (it deregisters, keeps serving for its deregister delay, drains; the supervisor restarts it) while a
# client places orders (the order service's gRPC calls to user and inventory) and reads from every
# service through the gateway. Not one request may fail (5xx or no answer; a 4xx is an answer).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/scripts/system_lib.sh
source "$root/tests/scripts/system_lib.sh"

system_require_postgres

database="rolling_$$_$RANDOM"
services=(user order payment inventory shipping notification)
system_cleanup_hook() {
  for service in "${services[@]}"; do
    psql -q "$MERCATO_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS ${database}_$service" >/dev/null 2>&1 || true
  done
}
# A database per service (each service owns its own), so that every one of them can scale.
declare -a databases=()
for service in "${services[@]}"; do
  psql -q "$MERCATO_TEST_POSTGRES_URL" -c "CREATE DATABASE ${database}_$service" >/dev/null ||
    fail "cannot create a database"
  databases+=("MERCATO_${service^^}_DATABASE_URL=${MERCATO_TEST_POSTGRES_URL%/*}/${database}_$service")
done
system_start "${databases[@]}"

# Every service at two instances, then a rolling restart of each under a client that places orders and
# reads from every service through the gateway (as the admin; a 4xx is an answer, 5xx or none a failure).
admin="$(curl -s -X POST "http://127.0.0.1:$gateway/api/auth/login" \
  -d '{"email":"admin@mercato.local","password":"'"$(cat "$var/secrets/admin-password")"'"}' | jq -r .access_token)"
[[ -n "$admin" && "$admin" != null ]] || fail "the admin cannot log in"
auth=(-H "Authorization: Bearer $admin")
customer="$(curl -s -X POST "http://127.0.0.1:$gateway/api/users" \
  -d '{"email":"rolling@example.com","name":"Rolf","password":"correct horse"}' | jq -r .id)"
[[ -n "$customer" && "$customer" != null ]] || fail "no customer"
code="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X PUT "http://127.0.0.1:$gateway/api/inventory/rolling-pear" \
  -d '{"name":"Pear","price_cents":90,"available":100000}')"
[[ "$code" == 201 || "$code" == 200 ]] || fail "stocking answered $code"
order_body='{"customer_id":"'"$customer"'","payment_token":"tok_visa","items":[{"product_id":"rolling-pear","quantity":1}],"shipping_address":{"name":"Rolf","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}'
for service in "${services[@]}"; do
  mercato scale "$service" 2 >"$work/scale.out" 2>&1 || { cat "$work/scale.out" >&2; fail "scale $service 2"; }
  wait_registered "$service" 2 || fail "two $service instances are not registered"
done
(
  errors=0 total=0 placed=0
  end=$((SECONDS + 8))
  while ((SECONDS < end)); do
    for target in "POST /api/orders" "GET /api/inventory/rolling-pear" "GET /api/users/$customer" \
      "GET /api/payments/none" "GET /api/shipments/none" "GET /api/notifications?customer_id=$customer"; do
      if [[ "$target" == POST* ]]; then
        code="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "http://127.0.0.1:$gateway/api/orders" -d "$order_body")"
        [[ "$code" == 201 ]] && placed=$((placed + 1))
      else
        code="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://127.0.0.1:$gateway${target#GET }")"
      fi
      total=$((total + 1))
      if [[ "$code" == 000 || "$code" -ge 500 ]]; then
        errors=$((errors + 1))
        echo "$target: $code" >>"$work/rolling-errors.out"
      fi
    done
  done
  echo "$errors $total $placed" >"$work/rolling-all.out"
) &
client=$!
sleep 0.5
for service in "${services[@]}"; do
  kill -TERM "$(cat "$var/run/$service.pid")"
  sleep 1  # one after another, as a rolling restart goes; each deregisters, drains, is restarted
done
wait "$client"
read -r errors total placed <"$work/rolling-all.out"
((placed > 10)) || fail "only $placed orders were placed during the rolling restarts"
((errors == 0)) || { cat "$work/rolling-errors.out" >&2; fail "$errors of $total requests failed during the rolling restarts"; }
for service in "${services[@]}"; do
  wait_registered "$service" 2 || fail "$service did not come back after its restart"
done

echo "ok"
