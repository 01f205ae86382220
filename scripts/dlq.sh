# shellcheck shell=bash
# `./mercato dlq list [SERVICE]` and `./mercato dlq redrive SERVICE ID|--all`: the dead letters of a
# running system — events a consumer gave up on after events.max_deliver failed attempts, kept in that
# service's own database with the last error (lib/events bus.hpp). Redriving hands the event to the
# service's handler again; on success the dead letter is removed, on failure it stays with the new error.
#
# It talks to each service's admin endpoints on loopback (GET /admin/dead-letters,
# POST /admin/dead-letters/{id}/redrive) as the admin (the password ./mercato up keeps in
# var/secrets/admin-password); the gateway does not expose them.

# _dlq_services [SERVICE]: "name port" of the running domain services (or just SERVICE).
_dlq_services() {
  local name port
  if [[ -f "$UP_PORTS_FILE" ]]; then
    while read -r name port; do
      [[ -z "$name" || "$name" == \#* || "$name" == "$MERCATO_GATEWAY_NAME" || "$name" == nats || "$name" == kafka ]] && continue
      [[ -n "${1:-}" && "$name" != "$1" ]] && continue
      echo "$name $port"
    done <"$UP_PORTS_FILE"
  else
    for name in $(service_names); do
      [[ -n "${1:-}" && "$name" != "$1" ]] && continue
      echo "$name $(service_port "$name")"
    done
  fi
}

_DLQ_AUTH=""  # "Authorization: Bearer <admin token>", fetched once per command

_dlq_auth() {
  [[ -n "$_DLQ_AUTH" ]] || _DLQ_AUTH="Authorization: Bearer $(admin_token "http://127.0.0.1:$(_dlq_user_port)")"
}

_dlq_user_port() {
  local name port
  if [[ -f "$UP_PORTS_FILE" ]]; then
    port="$(awk '$1 == "user" { print $2 }' "$UP_PORTS_FILE")"
  fi
  echo "${port:-$(service_port user)}"
}

_dlq_get() {
  curl --noproxy '*' -sS --fail-with-body --connect-timeout 1 --max-time 10 -H "$_DLQ_AUTH" \
    "http://127.0.0.1:$1/admin/dead-letters"
}

cmd_dlq() {
  local action="${1:-list}" name port body total=0
  (($#)) && shift
  command -v jq >/dev/null 2>&1 || die "jq not found (./mercato deps installs it)"
  case "$action" in list | redrive) _dlq_auth ;; esac
  case "$action" in
    list)
      [[ -z "${1:-}" ]] || service_names | grep -qx "$1" || die "unknown service: $1"
      printf '%-13s %-36s %-18s %-36s %-8s %-24s %s\n' SERVICE ID TYPE SUBJECT ATTEMPTS FAILED_AT ERROR
      while read -r name port; do
        if ! body="$(_dlq_get "$port" 2>/dev/null)"; then
          log_warn "$name (port $port) did not answer; is ./mercato up running?"
          continue
        fi
        total=$((total + $(jq '.dead_letters | length' <<<"$body")))
        jq -r --arg s "$name" '.dead_letters[] | [$s, .id, .event.type, (.event.subject // "-"), (.attempts|tostring),
          .failed_at, .error] | @tsv' <<<"$body" |
          while IFS=$'\t' read -r s id type subject attempts at error; do
            printf '%-13s %-36s %-18s %-36s %-8s %-24s %s\n' "$s" "$id" "$type" "$subject" "$attempts" "$at" "$error"
          done
      done < <(_dlq_services "${1:-}")
      log_info "$total dead letter(s)"
      ;;
    redrive)
      name="${1:-}"
      local id="${2:-}"
      [[ -n "$name" && -n "$id" ]] || die "usage: ./mercato dlq redrive SERVICE ID|--all"
      port="$(_dlq_services "$name" | awk '{ print $2 }')"
      [[ -n "$port" ]] || die "unknown or not running service: $name"
      local -a ids=("$id")
      if [[ "$id" == --all ]]; then
        body="$(_dlq_get "$port")" || die "$name (port $port) did not answer"
        mapfile -t ids < <(jq -r '.dead_letters[].id' <<<"$body")
      fi
      local failed=0 answer
      for id in "${ids[@]}"; do
        [[ -n "$id" ]] || continue
        if answer="$(curl --noproxy '*' -sS --fail-with-body --connect-timeout 1 --max-time 30 -X POST -H "$_DLQ_AUTH" \
          "http://127.0.0.1:${port}/admin/dead-letters/${id}/redrive" 2>/dev/null)"; then
          log_info "$name: redriven $id"
        else
          failed=$((failed + 1))
          log_error "$name: $id: $(jq -r '.error.message // .' <<<"$answer" 2>/dev/null || echo "no answer")"
        fi
      done
      ((failed == 0)) || die "$failed dead letter(s) not redriven (a failing handler keeps its letter, with the new error)"
      ;;
    *) die "usage: ./mercato dlq list [SERVICE] | redrive SERVICE ID|--all" ;;
  esac
}
