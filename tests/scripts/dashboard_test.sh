#!/usr/bin/env bash
# The gateway's dashboard (GET /dashboard) on a whole system (system_lib.sh), as an operator and as an
# attacker would use it:
#   - the page comes with a Content-Security-Policy of its own origin only; its data is for admins only
#     (401 without a token, 403 for a customer); asset paths reach no file but the known ones; a redrive
#     names a known service and a plain id;
#   - the overview lists every service with its instances, each ready;
#   - an order placed through the gateway, then tests/browser/dashboard.test.mjs in Debian's Chromium: the
#     page signs in with no console error, shows every service, the order with its saga timeline and trace
#     id, and a stopped service (SIGSTOP) turning down and back; its screenshot is the README's
#     (MERCATO_DASHBOARD_SCREENSHOT=docs/img/dashboard.png to write it there).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/scripts/system_lib.sh
source "$root/tests/scripts/system_lib.sh"
[[ -x "$root/build/services/gateway/mercato-gateway" ]] || fail "the services are not built"
[[ -x /usr/bin/chromium ]] || fail "chromium not found (./mercato test installs the browser package group)"
[[ -d "$root/node_modules/playwright-core" ]] || fail "playwright-core not found (./mercato deps runs npm ci)"

# shellcheck disable=SC2119  # no extra environment: the defaults are what is tested
system_start
base="http://127.0.0.1:$gateway"
api="$base/api"
password="$(cat "$var/secrets/admin-password")"
admin="$(curl -sf -X POST "$api/auth/login" -d '{"email":"admin@mercato.local","password":"'"$password"'"}' | jq -r .access_token)"
[[ -n "$admin" && "$admin" != null ]] || fail "the admin cannot log in"
curl -sf -X POST "$api/users" -d '{"email":"dash@example.com","name":"Dana","password":"correct horse"}' >/dev/null ||
  fail "cannot register"
customer="$(curl -sf -X POST "$api/auth/login" -d '{"email":"dash@example.com","password":"correct horse"}' | jq -r .access_token)"

# status METHOD PATH [TOKEN]: the status code of the call.
status() { curl -s -o "$work/body" -w '%{http_code}' -X "$1" ${3:+-H "Authorization: Bearer $3"} "$base$2"; }

headers="$(curl -sf -D - -o /dev/null "$base/dashboard")" || fail "GET /dashboard failed"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" <<<"$headers" ||
  fail "the page has no strict Content-Security-Policy: $headers"
[[ "$(status GET /dashboard/assets/dashboard.js)" == 200 ]] || fail "the page's script is not served"
[[ "$(status GET /dashboard/assets/uPlot.iife.min.js)" == 200 ]] || fail "the chart library is not served"
for path in /dashboard/assets/..%2F..%2Fconfig%2Fgateway.yaml /dashboard/assets/dashboard.html /dashboard/assets/nope.js; do
  [[ "$(status GET "$path")" == 404 ]] || fail "$path is not 404: $(cat "$work/body")"
  jq -e '.error.code' "$work/body" >/dev/null || fail "$path: no JSON error body"
done
for path in /dashboard/api/overview /dashboard/api/dead-letters; do
  [[ "$(status GET "$path")" == 401 ]] || fail "$path without a token is not 401"
  [[ "$(status GET "$path" "$customer")" == 403 ]] || fail "$path for a customer is not 403"
done
[[ "$(status POST /dashboard/api/dead-letters/order/x/redrive "$customer")" == 403 ]] || fail "a customer may redrive"
[[ "$(status POST /dashboard/api/dead-letters/nope/abc/redrive "$admin")" == 404 ]] ||
  fail "a redrive for an unknown service is not 404: $(cat "$work/body")"
[[ "$(status POST '/dashboard/api/dead-letters/order/a%2F..%2Fx/redrive' "$admin")" == 400 ]] ||
  fail "a redrive id with a slash is not 400: $(cat "$work/body")"
jq -e '.error.field == "id"' "$work/body" >/dev/null || fail "the 400 does not name the id: $(cat "$work/body")"

# The overview: every service, each instance ready (the first refresh reads them all).
[[ "$(status GET /dashboard/api/overview "$admin")" == 200 ]] || fail "the overview failed: $(cat "$work/body")"
names="$(jq -r '[.services[].name] | sort | join(" ")' "$work/body")"
[[ "$names" == "gateway inventory notification order payment shipping user" ]] || fail "the overview lists '$names'"
jq -e 'all(.services[]; .health == "ready" and (.instances | length) == 1)' "$work/body" >/dev/null ||
  fail "not every service is ready with one instance: $(cat "$work/body")"
jq -e '[.circuits[] | select(.from == "gateway" and .to == "orders" and .state == "closed")] | length == 1' \
  "$work/body" >/dev/null || fail "the gateway's circuit to orders is not listed closed: $(cat "$work/body")"
[[ "$(status GET /dashboard/api/dead-letters "$admin")" == 200 ]] || fail "the dead letters failed: $(cat "$work/body")"
jq -e '.services | length >= 1 and all(.[]; has("dead_letters"))' "$work/body" >/dev/null ||
  fail "dead letters not listed per service: $(cat "$work/body")"

curl -sf -X PUT "$api/inventory/dash-mug" -H "Authorization: Bearer $admin" \
  -d '{"name":"Mug","price_cents":1299,"available":10}' >/dev/null || fail "cannot stock a product"
order="$(curl -sf -X POST "$api/orders" -H "Authorization: Bearer $customer" -d '{"items":[{"product_id":"dash-mug","quantity":1}],
  "payment_token":"tok_visa","shipping_address":{"name":"Dana","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}' |
  jq -r .id)" || fail "cannot place an order"
[[ -n "$order" && "$order" != null ]] || fail "the placement answered no id"

stop_pid="$(cat "$var/run/shipping.pid")"
MERCATO_GATEWAY="$base" MERCATO_ADMIN_PASSWORD="$password" MERCATO_ORDER_ID="$order" \
  MERCATO_STOP_SERVICE=shipping MERCATO_STOP_PID="$stop_pid" \
  MERCATO_SCREENSHOT="${MERCATO_DASHBOARD_SCREENSHOT:-$work/dashboard.png}" \
  node "$root/tests/browser/dashboard.test.mjs" || fail "the browser test failed"
echo "ok"
