# shellcheck shell=bash
# `./mercato projections status` and `./mercato projections rebuild NAME`: the order service's read
# models (README "Orders: CQRS with an event store"). status prints a header line, then one line per
# projection starting with its name: the generation queries read, the position it has applied, the
# newest stream position, and its lag in events and seconds (a rebuild in progress shows its position).
# rebuild replays every order stream into a fresh generation while writes go on and switches queries to
# it once it has caught up; the command waits until it has (at most MERCATO_REBUILD_TIMEOUT seconds,
# default 600), printing progress.
#
# It talks to the order service's admin endpoints on loopback (GET /admin/projections,
# POST /admin/projections/{name}/rebuild) as the admin, as ./mercato dlq does; the gateway does not
# expose them.

_projections_port() {
  local port=""
  [[ -f "$UP_PORTS_FILE" ]] && port="$(awk '$1 == "order" { print $2; exit }' "$UP_PORTS_FILE")"
  [[ -z "$port" && -f "$UP_PORTS_FILE" ]] && port="$(awk '$1 == "monolith" { print $2; exit }' "$UP_PORTS_FILE")"
  echo "${port:-$(service_port order)}"
}

_projections_get() {
  curl --noproxy '*' -sS --fail-with-body --connect-timeout 1 --max-time 10 -H "$_DLQ_AUTH" \
    "http://127.0.0.1:$(_projections_port)/admin/projections"
}

_projections_print() {
  printf '%-16s %10s %12s %12s %10s %11s  %s\n' NAME GENERATION POSITION HEAD LAG_EVENTS LAG_SECONDS REBUILDING
  jq -r '.projections[] | [.name, .generation, .position, .head, .lag_events,
           (.lag_seconds * 1000 | round / 1000), (if .rebuilding then "at \(.rebuilding.position)" else "-" end)]
         | @tsv' <<<"$1" |
    while IFS=$'\t' read -r name generation position head lag seconds rebuilding; do
      printf '%-16s %10s %12s %12s %10s %11s  %s\n' "$name" "$generation" "$position" "$head" "$lag" "$seconds" "$rebuilding"
    done
}

cmd_projections() {
  local action="${1:-status}" body name deadline generation
  (($#)) && shift
  command -v jq >/dev/null 2>&1 || die "jq not found (./mercato deps installs it)"
  case "$action" in
    status)
      (($# == 0)) || die "usage: ./mercato projections status"
      _dlq_auth
      body="$(_projections_get)" || die "the order service did not answer: $body (is ./mercato up running?)"
      _projections_print "$body"
      ;;
    rebuild)
      (($# == 1)) || die "usage: ./mercato projections rebuild NAME   (NAME: order_summaries | sales_daily)"
      name="$1"
      _dlq_auth
      body="$(_projections_get)" || die "the order service did not answer: $body (is ./mercato up running?)"
      generation="$(jq -r --arg n "$name" '.projections[] | select(.name == $n) | .generation' <<<"$body")"
      [[ -n "$generation" ]] || die "no projection is named '$name' ($(jq -r '[.projections[].name] | join(", ")' <<<"$body"))"
      body="$(curl --noproxy '*' -sS --fail-with-body --connect-timeout 1 --max-time 10 -X POST -H "$_DLQ_AUTH" \
        "http://127.0.0.1:$(_projections_port)/admin/projections/${name}/rebuild")" ||
        die "the rebuild was refused: $body"
      log_info "rebuilding $name (generation $generation → the next) while writes go on"
      deadline=$((SECONDS + ${MERCATO_REBUILD_TIMEOUT:-600}))
      while ((SECONDS < deadline)); do
        body="$(_projections_get)" || die "the order service did not answer: $body"
        if jq -e --arg n "$name" --argjson g "$generation" \
          '.projections[] | select(.name == $n) | .rebuilding == null and .generation > $g' <<<"$body" >/dev/null; then
          _projections_print "$body"
          log_info "$name rebuilt; queries read the new generation"
          return 0
        fi
        jq -r --arg n "$name" '.projections[] | select(.name == $n and .rebuilding != null)
          | "  at \(.rebuilding.position) of \(.head)"' <<<"$body"
        sleep 1
      done
      die "$name was not rebuilt within ${MERCATO_REBUILD_TIMEOUT:-600}s (./mercato projections status shows where it is)"
      ;;
    *) die "usage: ./mercato projections status | rebuild NAME" ;;
  esac
}
