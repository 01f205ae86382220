# shellcheck shell=bash
# `./mercato check`: verifies the system's invariants against running services, through their APIs on
# loopback, and prints a pass/fail report (exit 1 on any failure). Ports: MERCATO_<SVC>_PORT, else the
# running ./mercato up's (var/run/ports), else the defaults.
#
# Invariants (the order saga, docs/saga.md):
#   1. every order is confirmed or cancelled, or still pending within its saga's deadline;
#   2. a confirmed order: its reservation committed, exactly one captured payment of its total (never
#      two), exactly one shipment (not cancelled), exactly one order_confirmed notification;
#      a cancelled order: no committed reservation, nothing held (reserved) for it, captured − refunded = 0,
#      no live shipment;
#   3. per product: reserved = the quantities of the orders' open reservations, sold = those of the
#      committed ones (no stock held or sold that no order explains);
#   4. money: captured − refunded over all payments = the total of the confirmed orders.

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

_check_get() { curl --noproxy '*' -sS --fail-with-body --connect-timeout 1 --max-time 10 "$1"; }

cmd_check() {
  command -v jq >/dev/null 2>&1 || die "jq not found (./mercato deps installs it)"
  local order_port inventory_port payment_port shipping_port notification_port
  order_port="$(_check_port order)"
  inventory_port="$(_check_port inventory)"
  payment_port="$(_check_port payment)"
  shipping_port="$(_check_port shipping)"
  notification_port="$(_check_port notification)"
  local now_ms failures=0 orders=0 confirmed=0 cancelled=0 pending=0 page=1 body
  now_ms=$(now_ms)
  local -A reserved_by=() sold_by=() notified=()
  local confirmed_total=0 net_money=0
  fail() {
    failures=$((failures + 1))
    echo "FAIL  $*"
  }
  while :; do
    body="$(_check_get "http://127.0.0.1:${order_port}/admin/orders?page=${page}&limit=500")" ||
      die "the order service (port $order_port) did not answer"
    local id status customer total
    while IFS=$'\t' read -r id status customer total; do
      [[ -n "$id" ]] || continue
      orders=$((orders + 1))
      # 1. terminal, or pending within its deadline
      if [[ "$status" == pending || "$status" == pending_payment ]]; then
        pending=$((pending + 1))
        local deadline
        deadline="$(_check_get "http://127.0.0.1:${order_port}/orders/${id}/saga" 2>/dev/null | jq -r '.order_deadline // empty' || true)"
        if [[ -z "$deadline" ]]; then
          fail "order $id is $status and has no saga to finish it"
        elif (($(date -d "$deadline" +%s%3N) < now_ms)); then
          fail "order $id is still $status after its deadline ($deadline)"
        fi
      fi
      # 2. per order: reservation, payments, shipment, notification
      local reservation res_status payments shipments
      reservation="$(curl --noproxy '*' -sS --max-time 10 "http://127.0.0.1:${inventory_port}/inventory/reservations/${id}")"
      res_status="$(jq -r '.status // "none"' <<<"$reservation")"
      payments="$(_check_get "http://127.0.0.1:${payment_port}/payments?order_id=${id}")" || die "the payment service did not answer"
      shipments="$(_check_get "http://127.0.0.1:${shipping_port}/shipments?order_id=${id}")" || die "the shipping service did not answer"
      local captured refunded live_shipments
      captured="$(jq '[.payments[] | select(.status == "captured" or .status == "refunded") | .amount_cents] | add // 0' <<<"$payments")"
      refunded="$(jq '[.payments[] | select(.status == "refunded") | .amount_cents] | add // 0' <<<"$payments")"
      live_shipments="$(jq '[.shipments[] | select(.status != "cancelled")] | length' <<<"$shipments")"
      net_money=$((net_money + captured - refunded))
      while IFS=$'\t' read -r product quantity; do
        [[ -n "$product" ]] || continue
        if [[ "$res_status" == reserved ]]; then reserved_by[$product]=$((${reserved_by[$product]:-0} + quantity)); fi
        if [[ "$res_status" == committed ]]; then sold_by[$product]=$((${sold_by[$product]:-0} + quantity)); fi
      done < <(jq -r '(.items // [])[] | [.product_id, (.quantity|tostring)] | @tsv' <<<"$reservation")
      case "$status" in
        confirmed)
          confirmed=$((confirmed + 1))
          confirmed_total=$((confirmed_total + total))
          [[ "$res_status" == committed ]] || fail "confirmed order $id: reservation is $res_status, not committed"
          local captures
          captures="$(jq '[.payments[] | select(.status == "captured")] | length' <<<"$payments")"
          [[ "$captures" == 1 ]] || fail "confirmed order $id: $captures captured payments, not 1"
          ((captured - refunded == total)) || fail "confirmed order $id: captured − refunded = $((captured - refunded)), total is $total"
          [[ "$live_shipments" == 1 ]] || fail "confirmed order $id: $live_shipments shipments, not 1"
          if [[ -z "${notified[$customer]+x}" ]]; then
            notified[$customer]="$(_check_get "http://127.0.0.1:${notification_port}/notifications?customer_id=${customer}&limit=100" |
              jq -r '[.notifications[] | select(.kind == "order_confirmed") | .order_id] | join(" ")')"
          fi
          local count
          count="$(tr ' ' '\n' <<<"${notified[$customer]}" | grep -cx "$id" || true)"
          [[ "$count" == 1 ]] || fail "confirmed order $id: $count order_confirmed notifications, not 1"
          ;;
        cancelled)
          cancelled=$((cancelled + 1))
          [[ "$res_status" == released || "$res_status" == none ]] ||
            fail "cancelled order $id: reservation is $res_status (stock held or sold for a cancelled order)"
          ((captured == refunded)) || fail "cancelled order $id: captured $captured, refunded $refunded"
          [[ "$live_shipments" == 0 ]] || fail "cancelled order $id: $live_shipments live shipments"
          ;;
      esac
    done < <(jq -r '.orders[] | [.id, .status, .customer_id, (.total_cents|tostring)] | @tsv' <<<"$body")
    [[ "$(jq -r .has_more <<<"$body")" == true ]] || break
    page=$((page + 1))
  done
  # 3. per product
  local product products=0 stock
  for product in $(printf '%s\n' "${!reserved_by[@]}" "${!sold_by[@]}" | sort -u); do
    products=$((products + 1))
    stock="$(_check_get "http://127.0.0.1:${inventory_port}/inventory/${product}")" || {
      fail "product $product: the inventory service does not know it"
      continue
    }
    local reserved sold
    reserved="$(jq .reserved <<<"$stock")"
    sold="$(jq .sold <<<"$stock")"
    ((reserved == ${reserved_by[$product]:-0})) || fail "product $product: reserved $reserved, the orders hold ${reserved_by[$product]:-0}"
    ((sold == ${sold_by[$product]:-0})) || fail "product $product: sold $sold, the orders bought ${sold_by[$product]:-0}"
  done
  # 4. money
  ((net_money == confirmed_total)) ||
    fail "money: captured − refunded = $net_money cents, confirmed orders total $confirmed_total cents"
  echo "checked $orders orders ($confirmed confirmed, $cancelled cancelled, $pending in progress), $products products"
  if ((failures)); then
    echo "check: FAILED ($failures problem(s))"
    return 1
  fi
  echo "check: PASSED"
}
