# shellcheck shell=bash
# `./mercato check`: verifies the system's invariants against running services, through their APIs on
# loopback as the admin (logged in with var/secrets/admin-password, which ./mercato up keeps), and prints
# a pass/fail report (exit 1 on any failure). Ports: MERCATO_<SVC>_PORT, else the
# running ./mercato up's (var/run/ports), else the defaults.
#
# Invariants (the order saga, docs/saga.md):
#   1. every order is confirmed or cancelled, or still pending within its saga's deadline;
#   2. a confirmed order: its reservation committed, exactly one captured payment of its total (never
#      two), exactly one live shipment, exactly one order_confirmed notification; a cancelled order: no
#      reservation held or committed, captured − refunded = 0, no live shipment;
#   3. per product: reserved = the quantities of the orders' open reservations, sold = those of the
#      committed ones (no stock held or sold that no order explains) — for the products no order in
#      progress holds (their counters and the reservations are read at different moments, and a saga
#      moving between the two reads would look like a mismatch; the report says how many were skipped);
#   4. money: captured − refunded over the settled (confirmed or cancelled) orders' payments = the total
#      of the confirmed orders; an order still in progress may hold a capture of at most its total (a
#      saga between its charge and its confirmation), never two captures.
#
# Speed: one curl process per service fetches every order's record over one keep-alive connection
# (a curl config with one URL per order), and one jq program checks everything.

_check_port() {
  local name="$1" var port=""
  var="MERCATO_${name^^}_PORT"
  if [[ -n "${!var:-}" ]]; then
    echo "${!var}"
    return
  fi
  if [[ -f "$UP_PORTS_FILE" ]]; then port="$(awk -v n="$name" '$1 == n { print $2 }' "$UP_PORTS_FILE")"; fi
  echo "${port:-$(service_port "$name")}"
}

# _check_fetch URLS_FILE OUT_FILE: GETs every URL of URLS_FILE (one per line) and writes a JSON array of
# the answers in the same order (null for a transfer that got no JSON).
_check_fetch() {
  local urls="$1" out="$2" config="$1.curl"
  { echo "header = \"Authorization: Bearer ${_CHECK_TOKEN}\""; sed 's/.*/url = "&"/' "$urls"; } >"$config"
  curl --noproxy '*' -sS --connect-timeout 2 --max-time 300 -K "$config" -w '\n' 2>/dev/null |
    jq -R -s 'split("\n")[:-1] | map(fromjson? // null)' >"$out"
  [[ "$(jq length "$out")" == "$(wc -l <"$urls")" ]] || die "a service did not answer every request ($(basename "$urls"))"
}

cmd_check() {
  command -v jq >/dev/null 2>&1 || die "jq not found (./mercato deps installs it)"
  local order inventory payment shipping notification
  order="http://127.0.0.1:$(_check_port order)"
  inventory="http://127.0.0.1:$(_check_port inventory)"
  payment="http://127.0.0.1:$(_check_port payment)"
  shipping="http://127.0.0.1:$(_check_port shipping)"
  notification="http://127.0.0.1:$(_check_port notification)"
  local work page=1 body
  _CHECK_TOKEN="$(admin_token "http://127.0.0.1:$(_check_port user)")"
  work="$(mktemp -d /tmp/mercato-check-XXXXXX)"
  # shellcheck disable=SC2064  # the path is fixed now
  trap "rm -rf '$work'" RETURN
  : >"$work/orders.jsonl"
  while :; do
    body="$(curl --noproxy '*' -sS --fail-with-body --connect-timeout 2 --max-time 60 -H "Authorization: Bearer ${_CHECK_TOKEN}" \
      "${order}/admin/orders?page=${page}&limit=1000")" || die "the order service did not answer: $body"
    jq -c '.orders[]' <<<"$body" >>"$work/orders.jsonl"
    [[ "$(jq -r .has_more <<<"$body")" == true ]] || break
    page=$((page + 1))
  done
  jq -s . "$work/orders.jsonl" >"$work/orders.json"
  jq -r --arg u "$inventory" '.[] | "\($u)/inventory/reservations/\(.id)"' "$work/orders.json" >"$work/reservations"
  jq -r --arg u "$payment" '.[] | "\($u)/payments?order_id=\(.id)"' "$work/orders.json" >"$work/payments"
  jq -r --arg u "$shipping" '.[] | "\($u)/shipments?order_id=\(.id)"' "$work/orders.json" >"$work/shipments"
  jq -r --arg u "$notification" '.[] | "\($u)/notifications?customer_id=\(.customer_id)&order_id=\(.id)&limit=100"' \
    "$work/orders.json" >"$work/notifications"
  jq -r --arg u "$order" '.[] | "\($u)/orders/\(.id)/saga"' "$work/orders.json" >"$work/sagas"
  local kind
  for kind in reservations payments shipments notifications sagas; do
    if [[ -s "$work/$kind" ]]; then
      _check_fetch "$work/$kind" "$work/$kind.json"
    else
      echo '[]' >"$work/$kind.json"
    fi
  done
  jq -r --arg u "$inventory" '[.[] | select(. != null) | .items[]?.product_id] | unique | .[] | "\($u)/inventory/\(.)"' \
    "$work/reservations.json" >"$work/products"
  if [[ -s "$work/products" ]]; then _check_fetch "$work/products" "$work/products.json"; else echo '[]' >"$work/products.json"; fi

  jq -r -n --argjson now "$(date +%s)" \
    --slurpfile orders "$work/orders.json" --slurpfile res "$work/reservations.json" \
    --slurpfile pay "$work/payments.json" --slurpfile ship "$work/shipments.json" \
    --slurpfile note "$work/notifications.json" --slurpfile saga "$work/sagas.json" \
    --slurpfile products "$work/products.json" '
    def secs: sub("\\.[0-9]+Z$"; "Z") | fromdate;
    ($orders[0]) as $o | [range(0; $o | length)] as $idx
    | [ $idx[] | . as $i | $o[$i] as $order
        | ($res[0][$i]) as $r | (if ($r | type) == "object" and $r.status then $r.status else "none" end) as $rs
        | ($pay[0][$i].payments // null) as $p | ($ship[0][$i].shipments // null) as $s
        | ($note[0][$i].notifications // null) as $n
        | { id: $order.id, status: $order.status, total: $order.total_cents, rs: $rs,
            products: [$order.items[]?.product_id],
            items: (if ($r | type) == "object" then ($r.items // []) else [] end),
            captured: ([$p[]? | select(.status == "captured" or .status == "refunded") | .amount_cents] | add // 0),
            refunded: ([$p[]? | select(.status == "refunded") | .amount_cents] | add // 0),
            captures: ([$p[]? | select(.status == "captured")] | length),
            live: ([$s[]? | select(.status != "cancelled")] | length),
            confirmations: ([$n[]? | select(.kind == "order_confirmed")] | length),
            answered: ($p != null and $s != null and $n != null),
            deadline: ($saga[0][$i].order_deadline // null) } ] as $rows
    | [ $rows[]
        | if .answered | not then "order \(.id): the payment, shipping or notification service did not answer"
          elif .status == "pending" or .status == "pending_payment" then
            (if .deadline == null then "order \(.id) is \(.status) and has no saga to finish it"
             elif (.deadline | secs) < $now then "order \(.id) is still \(.status) after its deadline (\(.deadline))"
             else empty end),
            (if .captures > 1 then "order \(.id) (\(.status)): \(.captures) captured payments" else empty end),
            (if .captured - .refunded > .total or .captured - .refunded < 0 then "order \(.id) (\(.status)): captured − refunded = \(.captured - .refunded), total is \(.total)" else empty end)
          elif .status == "confirmed" then
            (if .rs != "committed" then "confirmed order \(.id): reservation is \(.rs), not committed" else empty end),
            (if .captures != 1 then "confirmed order \(.id): \(.captures) captured payments, not 1" else empty end),
            (if .captured - .refunded != .total then "confirmed order \(.id): captured − refunded = \(.captured - .refunded), total is \(.total)" else empty end),
            (if .live != 1 then "confirmed order \(.id): \(.live) shipments, not 1" else empty end),
            (if .confirmations != 1 then "confirmed order \(.id): \(.confirmations) order_confirmed notifications, not 1" else empty end)
          elif .status == "cancelled" then
            (if .rs == "reserved" or .rs == "committed" then "cancelled order \(.id): reservation is \(.rs) (stock held or sold for a cancelled order)" else empty end),
            (if .captured != .refunded then "cancelled order \(.id): captured \(.captured), refunded \(.refunded)" else empty end),
            (if .live != 0 then "cancelled order \(.id): \(.live) live shipments" else empty end)
          else empty end ] as $order_failures
    | ( reduce ($rows[] | select(.rs == "reserved") | .items[]) as $it ({}; .[$it.product_id] += $it.quantity) ) as $held
    | ( reduce ($rows[] | select(.rs == "committed") | .items[]) as $it ({}; .[$it.product_id] += $it.quantity) ) as $bought
    | ([$rows[] | select(.status == "pending" or .status == "pending_payment") | .products[]] | unique) as $moving
    | [ $products[0][] | select(. != null) | select(.product_id as $id | any($moving[]; . == $id) | not)
        | (if .reserved != ($held[.product_id] // 0) then "product \(.product_id): reserved \(.reserved), the orders hold \($held[.product_id] // 0)" else empty end),
          (if .sold != ($bought[.product_id] // 0) then "product \(.product_id): sold \(.sold), the orders bought \($bought[.product_id] // 0)" else empty end) ] as $product_failures
    | ([$rows[] | select(.status == "confirmed" or .status == "cancelled") | .captured - .refunded] | add // 0) as $net
    | ([$rows[] | select(.status == "confirmed") | .total] | add // 0) as $confirmed_total
    | (if $net != $confirmed_total then ["money: captured − refunded over the settled orders = \($net) cents, confirmed orders total \($confirmed_total) cents"] else [] end) as $money_failures
    | ($order_failures + $product_failures + $money_failures) as $failures
    | ($failures[] | "FAIL  \(.)"),
      (if ($moving | length) > 0 then "note  stock of \($moving | length) product(s) not compared: orders still in progress hold them, and their counters and reservations are read at different moments" else empty end),
      "checked \($rows | length) orders (\([$rows[] | select(.status == "confirmed")] | length) confirmed, \([$rows[] | select(.status == "cancelled")] | length) cancelled, \([$rows[] | select(.status == "pending" or .status == "pending_payment")] | length) in progress), \($products[0] | length) products",
      (if ($failures | length) > 0 then "check: FAILED (\($failures | length) problem(s))" else "check: PASSED" end)
  ' | tee "$work/report"
  grep -q '^check: PASSED$' "$work/report"
}
