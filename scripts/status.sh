# shellcheck shell=bash
# `./mercato status`: for each process of a running `./mercato up` (read from var/run/ports and
# var/run/<svc>.pid): port, pid, /health/live, /health/ready. Exits 1 when any is not ready, or when
# nothing is running. Without var/run/ports it probes the default ports of the built services.
#
# `./mercato stop`: SIGTERM to a running `./mercato up` (by the PID in var/run/mercato.pid), which then
# stops its children; waits for it to finish.

# _status_word CODE: "yes" for 200, "no (CODE)" for another answer, "down" for none.
_status_word() {
  case "$1" in
    200) echo yes ;;
    000 | "") echo down ;;
    *) echo "no ($1)" ;;
  esac
}

cmd_status() {
  local name port served pid live ready sup down=0 count=0
  local -a entries=()
  sup="$(up_supervisor_pid)"
  if [[ -f "$UP_PORTS_FILE" ]]; then
    mapfile -t entries < <(grep -v '^#' "$UP_PORTS_FILE")
  else
    log_note "no var/run/ports (./mercato up is not running): probing the default ports of built services"
    for name in $(service_names) "$MERCATO_GATEWAY_NAME"; do
      [[ -x "$(service_binary "$name")" ]] && entries+=("$name $(service_port "$name")")
    done
  fi
  if [[ -n "$sup" ]]; then
    echo "supervisor: ./mercato up, pid $sup"
  else
    echo "supervisor: not running"
  fi
  printf '%-14s %-6s %-12s %-10s %s\n' SERVICE PORT PID LIVE READY
  local entry
  for entry in "${entries[@]}"; do
    served=""
    read -r name port served <<<"$entry"
    [[ -n "$name" ]] || continue
    count=$((count + 1))
    pid=""
    # A module of the monolith has the monolith's pid (the third column of var/run/ports).
    local pid_file="${MERCATO_RUN_DIR}/${served:-$name}.pid"
    if [[ -f "$pid_file" ]]; then read -r pid <"$pid_file" || true; fi
    if [[ -n "$pid" ]] && ! proc_alive "$pid"; then pid="$pid(gone)"; fi
    if [[ "$name" == kafka ]]; then
      # The mock cluster speaks only Kafka: alive is all there is to know.
      live=no
      [[ "$pid" =~ ^[0-9]+$ ]] && live=yes
      ready=$live
    else
      live="$(_status_word "$(http_code "$(health_url "$name" "$port" live)")")"
      ready="$(_status_word "$(http_code "$(health_url "$name" "$port" ready)")")"
    fi
    [[ "$ready" == yes ]] || down=$((down + 1))
    printf '%-14s %-6s %-12s %-10s %s\n' "$name" "$port" "${pid:--}" "$live" "$ready"
  done
  if ((count == 0)); then
    log_error "no services to check (nothing built, nothing running)"
    return 1
  fi
  if ((down)); then
    log_error "$down of $count not ready"
    return 1
  fi
  return 0
}

# _stop_leftovers: after a supervisor that died without cleaning up: stops any process still named
# in var/run/<svc>.pid (only if it still runs that service's binary, so a reused PID is never hit),
# and removes the stale run files.
_stop_leftovers() {
  local file name pid exe
  local -a pids=()
  for file in "${MERCATO_RUN_DIR}"/*.pid; do
    [[ -f "$file" ]] || continue
    name="$(basename "$file" .pid)"
    pid=""
    read -r pid <"$file" || true
    if [[ "$name" != mercato && "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid"; then
      exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
      if [[ "${exe% (deleted)}" == "$(service_binary "$name")" ]]; then
        pids+=("$pid")
      fi
    fi
    rm -f "$file"
  done
  rm -f "$UP_PORTS_FILE"
  if ((${#pids[@]})); then
    log_info "stopping leftover process(es) of an earlier ./mercato up: pid ${pids[*]}"
    proc_stop "${MERCATO_STOP_TIMEOUT:-10}" "${pids[@]}"
  fi
}

cmd_stop() {
  local sup deadline limit
  sup="$(up_supervisor_pid)"
  if [[ -z "$sup" ]]; then
    _stop_leftovers
    log_info "mercato is not running"
    return 0
  fi
  log_info "stopping ./mercato up (pid $sup)"
  kill -TERM "$sup"
  # The supervisor gives its children MERCATO_STOP_TIMEOUT (10s) and then SIGKILLs them.
  limit=$((${MERCATO_STOP_TIMEOUT:-10} + 5))
  deadline=$(($(now_ms) + limit * 1000))
  while proc_alive "$sup"; do
    (($(now_ms) < deadline)) || die "supervisor pid $sup is still running after ${limit}s"
    sleep 0.2
  done
  log_info "stopped"
}
