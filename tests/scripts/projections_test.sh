#!/usr/bin/env bash
# `./mercato projections status|rebuild` as an operator runs them, on a whole system (system_lib.sh):
#   - an order placed through the gateway answers its stream position, and the customer's list read
#     with that position (min_position) shows it at once;
#   - status prints a header line, then one line per projection starting with its name, caught up (lag 0);
#   - rebuild order_summaries replays into generation 2 and waits until queries read it; the list still
#     shows the order; an unknown name is refused with the names there are.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/scripts/system_lib.sh
source "$root/tests/scripts/system_lib.sh"
[[ -x "$root/build/services/order/mercato-order" ]] || fail "the services are not built"

system_start
api="http://127.0.0.1:$gateway/api"
password="$(cat "$var/secrets/admin-password")"
admin="$(curl -sf -X POST "$api/auth/login" -d '{"email":"admin@mercato.local","password":"'"$password"'"}' | jq -r .access_token)"
[[ -n "$admin" && "$admin" != null ]] || fail "the admin cannot log in"
curl -sf -X PUT "$api/inventory/proj-mug" -H "Authorization: Bearer $admin" \
  -d '{"name":"Mug","price_cents":1299,"available":10}' >/dev/null || fail "cannot stock a product"
curl -sf -X POST "$api/users" -d '{"email":"proj@example.com","name":"Pat","password":"correct horse"}' >/dev/null ||
  fail "cannot register"
token="$(curl -sf -X POST "$api/auth/login" -d '{"email":"proj@example.com","password":"correct horse"}' | jq -r .access_token)"
auth=(-H "Authorization: Bearer $token")

headers="$(curl -sf -D - -o "$work/order.json" -X POST "$api/orders" "${auth[@]}" -d '{"items":[{"product_id":"proj-mug","quantity":1}],
  "payment_token":"tok_visa","shipping_address":{"name":"Pat","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}')" ||
  fail "cannot place an order"
id="$(jq -r .id "$work/order.json")"
position="$(awk -F': ' 'tolower($1) == "mercato-position" { gsub("\r", "", $2); print $2 }' <<<"$headers")"
[[ "$position" =~ ^[0-9]+$ ]] || fail "the placement answered no Mercato-Position: $headers"
listed="$(curl -sf "$api/orders?min_position=$position" "${auth[@]}" | jq -r --arg id "$id" '[.orders[] | select(.id == $id)] | length')"
[[ "$listed" == 1 ]] || fail "the list read at position $position does not show the order just placed"

mercato projections status >"$work/status.txt" || fail "projections status failed: $(cat "$work/status.txt")"
head -n 1 "$work/status.txt" | grep -q '^NAME ' || fail "no header line: $(cat "$work/status.txt")"
[[ "$(awk 'NR > 1 { print $1 }' "$work/status.txt" | sort | tr '\n' ' ')" == "order_summaries sales_daily " ]] ||
  fail "status lists $(cat "$work/status.txt")"

mercato projections rebuild order_summaries >"$work/rebuild.txt" 2>&1 || fail "rebuild failed: $(cat "$work/rebuild.txt")"
generation="$(awk '$1 == "order_summaries" { print $2 }' "$work/rebuild.txt")"
[[ "$generation" == 2 ]] || fail "after the rebuild, order_summaries is at generation '$generation': $(cat "$work/rebuild.txt")"
listed="$(curl -sf "$api/orders" "${auth[@]}" | jq -r --arg id "$id" '[.orders[] | select(.id == $id)] | length')"
[[ "$listed" == 1 ]] || fail "the rebuilt list does not show the order once"

if mercato projections rebuild nope >"$work/nope.txt" 2>&1; then fail "an unknown projection was rebuilt"; fi
grep -q "order_summaries" "$work/nope.txt" || fail "the refusal does not name the projections: $(cat "$work/nope.txt")"
echo "ok"
