# shellcheck shell=bash
# `./mercato up`: builds, then runs every built service as its own process and the gateway in front,
# and supervises them in the foreground until Ctrl-C / SIGTERM.
#
#   - each service: build/services/<svc>/mercato-<svc> --config config/<svc>.yaml, with
#     APP_SERVER__HOST=127.0.0.1, APP_SERVER__PORT=<port>, APP_DATABASE__PATH=var/<svc>/<svc>.db;
#     its output goes to var/log/<svc>.log (appended, one header line per start);
#   - the gateway (started with the services), with APP_GATEWAY__SERVICES__<SVC>__UPSTREAM=127.0.0.1:<port>
#     per running service (what it routes there is the service's description, services/<svc>/service.conf);
#   - start-up waits (bounded) for each /health/ready to answer 200, then prints where things listen;
#   - a process that exits is restarted after 1s, 2s, 4s, ... (capped at 30s); the delay goes back to
#     1s once a process has stayed up 60s;
#   - Ctrl-C / SIGTERM / SIGHUP: SIGTERM to every child by PID, up to MERCATO_STOP_TIMEOUT (10s) for
#     them to exit, SIGKILL for the rest. Children also get SIGTERM from the kernel if this supervisor
#     dies without cleaning up (setpriv --pdeathsig), so no process is ever orphaned;
#   - var/run/mercato.pid (this supervisor), var/run/<svc>.pid, var/run/ports ("<svc> <port>" lines)
#     are written for `./mercato status` and `./mercato stop`, and removed on exit.
#
# `./mercato up --monolith` runs the gateway and every service as the modules of one process instead
# (build/apps/monolith/mercato-monolith --config config/monolith.yaml; docs/topologies.md): the same
# ports, databases, secrets and settings, each module's variables as APP_<MODULE>__* (APP_ORDER__SAGA__MODE),
# its output in var/log/monolith.log; var/run/ports lists every module with its port and "monolith" as
# the process serving it. Its events stay in the process (no broker is started) unless MERCATO_EVENTS or
# MERCATO_EVENTS_URL says otherwise. `--split SVC[,SVC...]` runs those services as their own processes
# beside it (the article's "split when needed"); every process then uses the broker (nats by default).
#
# The event broker comes first (MERCATO_EVENTS, default nats):
#   nats       nats-server with JetStream on 127.0.0.1:MERCATO_NATS_PORT (4222), its monitoring endpoint on
#              MERCATO_NATS_HTTP_PORT (8222), data under var/nats (config written by scripts/nats.sh);
#   kafka      librdkafka's mock cluster (build/tools/kafka-mock/mercato-kafka-mock), port chosen by it and
#              read from its first output line; in memory only, so a restart of it starts empty;
#   inprocess  no broker: each service's events stay inside its own process (tests, the monolith mode);
#   MERCATO_EVENTS_URL=nats://... or kafka://... uses a broker that runs elsewhere instead.
# Every domain service gets APP_EVENTS__URL for it. With the NATS broker up starts, every process also
# gets APP_EVENTS__PARTITIONS=MERCATO_EVENTS_PARTITIONS (default 1, config/*.yaml says 8): here a
# consumer group has one member, and more partitions would only split each relay round's events into
# more, smaller batch messages, each with a consumer thread of its own (ADR 0020; docs/benchmarks.md,
# 19 and 20: 1 against 2 measured 4% less CPU per order and more confirmed orders/s). Changing it on a
# var/ that has events in flight strands those of the partitions dropped: let the sagas finish first.
#
# Service discovery (MERCATO_DISCOVERY; README "Service discovery"):
#   etcd       (the default with more than one process) etcd on 127.0.0.1:MERCATO_ETCD_PORT (2379), peers on
#              MERCATO_ETCD_PEER_PORT (2380), data under var/etcd; every process gets APP_DISCOVERY__MODE=etcd
#              and registers itself once ready; callers follow the registered instances (./mercato scale);
#   static     (the default for the monolith alone) fixed addresses only, no etcd.
#
# Observability (`./mercato up --observability`; README "Metrics and alerts", scripts/prometheus.sh):
#   Prometheus on 127.0.0.1:MERCATO_PROMETHEUS_PORT (9090), a child like etcd and NATS (data under
#   var/prometheus/data), scraping every process through file-based service discovery: up writes
#   var/prometheus/targets.json with var/run/ports and rewrites it whenever instances change (scale);
#   deploy/prometheus/rules.yml holds its recording and alerting rules.
#
# Environment: MERCATO_<SVC>_PORT (ports), MERCATO_<SVC>_DATABASE_URL (that service's database.url, e.g.
# postgres://... for any service; redis://... for inventory), MERCATO_DATABASE_OFFLOAD (auto, on or off: every
# service's database.offload, README "Storage"), MERCATO_LOG_LEVEL (sets APP_LOG__LEVEL for every process),
# MERCATO_SAGA_MODE (orchestration, the default in config/order.yaml and the participants' configs, or choreography: how the order saga
# is coordinated; docs/saga.md), MERCATO_ORDER_TRANSPORT (grpc, the default in config/order.yaml, or http:
# how the order service calls the user and inventory services), MERCATO_READY_TIMEOUT (seconds, default 30), MERCATO_STOP_TIMEOUT
# (seconds, default 10). Any APP_*
# variable in the environment reaches every process as a config override.

UP_BACKOFF_FIRST=1
UP_BACKOFF_MAX=30
UP_STABLE_AFTER=60

declare -a UP_ORDER=()     # process names in start order: [broker] services... gateway, or [broker] [split services] monolith
declare -a UP_SERVICES=()  # every domain service that runs, in or out of the monolith
declare -a UP_MODULES=()   # the monolith's modules (services and the gateway), in set-up order
declare -A UP_SERVED_BY=() # name -> the process that serves it ("monolith" for a module)
declare -A UP_PORT=()      # name -> port
declare -A UP_PID=()       # name -> pid of the running process ("" while waiting for a restart)
declare -A UP_STARTED=()   # name -> EPOCHSECONDS of the last start
declare -A UP_BACKOFF=()   # name -> delay before the next restart, seconds
declare -A UP_RESTART_AT=() # name -> EPOCHSECONDS when a restart is due
declare -A UP_RESTARTS=()  # name -> restarts so far
UP_STOPPING=0
UP_SUPERVISOR_PID_FILE="${MERCATO_RUN_DIR}/mercato.pid"
UP_SCALE_FILE="${MERCATO_RUN_DIR}/scale"  # ./mercato scale's request (SERVICE COUNT); .answer: the reply
UP_SCALE_PENDING=0
UP_PORTS_FILE="${MERCATO_RUN_DIR}/ports"
UP_OBSERVABILITY=0  # --observability: Prometheus runs too
UP_PROMETHEUS_DIR="${MERCATO_VAR_DIR}/prometheus"

# up_supervisor_pid: PID of a running `./mercato up`, or nothing.
up_supervisor_pid() {
  local pid=""
  if [[ -f "$UP_SUPERVISOR_PID_FILE" ]]; then read -r pid <"$UP_SUPERVISOR_PID_FILE" || true; fi
  if [[ "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q mercato; then
    echo "$pid"
  fi
}

UP_EVENTS_URL=""   # what services get as APP_EVENTS__URL
UP_EVENTS_PARTITIONS="" # what they get as APP_EVENTS__PARTITIONS (empty: their config's)
UP_DISCOVERY=static  # etcd or static (MERCATO_DISCOVERY)

# up_broker_url: the events URL once the broker is up (kafka: read from the mock's output).
up_broker_url() {
  case "$1" in
    nats) echo "nats://127.0.0.1:$(service_port nats)" ;;
    kafka) grep -o 'kafka://[0-9.:,]*' "${MERCATO_LOG_DIR}/kafka.log" 2>/dev/null | tail -n 1 ;;
  esac
}

# _up_command NAME: sets _UP_ENV (variable assignments) and _UP_CMD (argv) for NAME.
_up_command() {
  local name="$1" config other
  if [[ "$name" == nats ]]; then
    _UP_ENV=()
    _UP_CMD=(nats-server -c "$(nats_config_file "${MERCATO_VAR_DIR}/nats" "$(service_port nats)" "${UP_PORT[nats]}")")
    return
  fi
  if [[ "$name" == kafka ]]; then
    _UP_ENV=()
    _UP_CMD=("$(service_binary kafka)")
    return
  fi
  if [[ "$name" == etcd ]]; then
    _UP_ENV=()
    mapfile -t _UP_CMD < <(etcd_command "${MERCATO_VAR_DIR}/etcd/data" "${UP_PORT[etcd]}" "${MERCATO_ETCD_PEER_PORT:-2380}")
    return
  fi
  if [[ "$name" == prometheus ]]; then
    _UP_ENV=()
    local prometheus_config
    prometheus_config="$(prometheus_config_file "$UP_PROMETHEUS_DIR" "${MERCATO_ROOT}/deploy/prometheus/rules.yml")"
    mapfile -t _UP_CMD < <(prometheus_command "$prometheus_config" "${UP_PROMETHEUS_DIR}/data" "${UP_PORT[prometheus]}")
    return
  fi
  if [[ "$name" == monolith ]]; then
    _up_monolith_command
    return
  fi
  # A further instance of a service (./mercato scale): NAME@K, the service's command on its own port.
  local port="${UP_PORT[$name]}"
  name="${name%@*}"
  _UP_ENV=("APP_SERVER__HOST=127.0.0.1" "APP_SERVER__PORT=${port}")
  if [[ "$UP_DISCOVERY" == etcd ]]; then
    _UP_ENV+=("APP_DISCOVERY__MODE=etcd" "APP_DISCOVERY__ETCD=127.0.0.1:${UP_PORT[etcd]}")
  fi
  if [[ -n "${MERCATO_LOG_LEVEL:-}" ]]; then
    _UP_ENV+=("APP_LOG__LEVEL=${MERCATO_LOG_LEVEL}")
  fi
  if [[ "$name" == "$MERCATO_GATEWAY_NAME" ]]; then
    # The traffic policy (config/gateway-policy.yaml), unless the environment names another.
    if [[ -z "${APP_GATEWAY__POLICY_FILE:-}" && -f "${MERCATO_ROOT}/config/gateway-policy.yaml" ]]; then
      _UP_ENV+=("APP_GATEWAY__POLICY_FILE=${MERCATO_ROOT}/config/gateway-policy.yaml")
    fi
    for other in "${UP_SERVICES[@]}"; do
      _UP_ENV+=("APP_GATEWAY__SERVICES__${other^^}__UPSTREAM=127.0.0.1:${UP_PORT[$other]}")
    done
  else
    if [[ "$(service_storage "$name")" == sqlite ]]; then
      _UP_ENV+=("APP_DATABASE__PATH=${MERCATO_VAR_DIR}/${name}/${name}.db")
    fi
    # MERCATO_<NAME>_DATABASE_URL (postgres://... or redis://...) moves one service off SQLite.
    local url_var="MERCATO_${name^^}_DATABASE_URL"
    if [[ -n "${!url_var:-}" ]]; then
      _UP_ENV+=("APP_DATABASE__URL=${!url_var}")
    fi
    if [[ -n "${MERCATO_DATABASE_OFFLOAD:-}" ]]; then
      _UP_ENV+=("APP_DATABASE__OFFLOAD=${MERCATO_DATABASE_OFFLOAD}")
    fi
    if [[ -n "$UP_EVENTS_URL" ]]; then
      _UP_ENV+=("APP_EVENTS__URL=${UP_EVENTS_URL}")
    fi
    if [[ -n "$UP_EVENTS_PARTITIONS" ]]; then
      _UP_ENV+=("APP_EVENTS__PARTITIONS=${UP_EVENTS_PARTITIONS}")
    fi
    if [[ "$name" == notification ]]; then
      # Its sent messages go beside its database, so MERCATO_VAR_DIR moves them too.
      _UP_ENV+=("APP_NOTIFICATION__OUTBOX_FILE=${MERCATO_VAR_DIR}/notification/outbox.log")
    fi
    if [[ "$name" == user ]]; then
      # The admin made at first start, and the services allowed a token of their own (their secrets'
      # hashes: the user service never holds a secret it does not need).
      _UP_ENV+=("APP_AUTH__ADMIN__PASSWORD_FILE=${MERCATO_SECRETS_DIR}/admin-password")
      for other in $(service_names); do
        [[ "$other" == user ]] && continue
        _UP_ENV+=("APP_AUTH__SERVICE_CLIENTS__${other^^}=$(secret_hash "$other")")
      done
    else
      _UP_ENV+=("APP_AUTH__CLIENT_SECRET_FILE=${MERCATO_SECRETS_DIR}/${name}.secret")
    fi
    # The order service coordinates by it, the participants subscribe by it (lib/service saga.hpp).
    if [[ "$name" =~ ^(order|inventory|payment|shipping)$ && -n "${MERCATO_SAGA_MODE:-}" ]]; then
      _UP_ENV+=("APP_SAGA__MODE=${MERCATO_SAGA_MODE}")
    fi
    if [[ "$name" == order && -n "${MERCATO_ORDER_TRANSPORT:-}" ]]; then
      _UP_ENV+=("APP_ORDER__USER__TRANSPORT=${MERCATO_ORDER_TRANSPORT}" "APP_ORDER__INVENTORY__TRANSPORT=${MERCATO_ORDER_TRANSPORT}")
    fi
    local calls
    calls="$(service_calls "$name")"
    if [[ -n "$calls" ]]; then
      local -a callees
      IFS=, read -r -a callees <<<"$calls"
      for other in "${callees[@]}"; do
        _UP_ENV+=("APP_UPSTREAMS__${other^^}=127.0.0.1:$(service_port "$other")")
      done
    fi
  fi
  _UP_CMD=("$(service_binary "$name")")
  config="$(service_config "$name")"
  if [[ -f "$config" ]]; then
    _UP_CMD+=(--config "$config")
  fi
}

# _up_monolith_command: _UP_ENV and _UP_CMD for the monolith: what each module would get as its own
# process, with APP_<MODULE>__ instead of APP_ (scripts/up.sh header).
_up_monolith_command() {
  local module kv modules
  local -a env=()
  for module in "${UP_MODULES[@]}"; do
    _up_command "$module"
    for kv in "${_UP_ENV[@]}"; do env+=("APP_${module^^}__${kv#APP_}"); done
  done
  modules="$(IFS=,; echo "${UP_MODULES[*]}")"
  # The in-process broker's file beside the modules' databases, so MERCATO_VAR_DIR moves it too.
  _UP_ENV=("${env[@]}" "APP_MONOLITH__MODULES=${modules}" "APP_MONOLITH__EVENTS__FILE=${MERCATO_VAR_DIR}/monolith/events.db")
  if [[ -n "${MERCATO_LOG_LEVEL:-}" ]]; then
    _UP_ENV+=("APP_MONOLITH__LOG__LEVEL=${MERCATO_LOG_LEVEL}")
  fi
  _UP_CMD=("$(service_binary monolith)" --config "$(service_config monolith)")
}

# up_ports NAME: the ports whose /health/ready say whether NAME is ready (a module's for the monolith).
up_ports() {
  local module
  if [[ "$1" == monolith ]]; then
    for module in "${UP_MODULES[@]}"; do echo "${UP_PORT[$module]}"; done
  else
    echo "${UP_PORT[$1]}"
  fi
}

# up_write_ports: var/run/ports, one line per process or module (`./mercato status` reads it).
up_write_ports() {
  local name
  {
    echo "# written by ./mercato up (pid $$) at $(date -Iseconds): <service> <port> [<process serving it>]"
    for name in "${UP_ORDER[@]}" "${UP_MODULES[@]}"; do
      [[ "$name" == monolith ]] && continue
      echo "$name ${UP_PORT[$name]}${UP_SERVED_BY[$name]:+ ${UP_SERVED_BY[$name]}}"
    done
  } >"${UP_PORTS_FILE}.tmp"
  mv -f "${UP_PORTS_FILE}.tmp" "$UP_PORTS_FILE"
  ((UP_OBSERVABILITY)) && up_write_targets
  return 0
}

# up_write_targets: var/prometheus/targets.json, Prometheus's scrape targets: every process or module
# that serves /metrics (the services, the gateway, etcd, Prometheus itself; not NATS, whose monitoring
# port speaks JSON, nor the Kafka mock). Called with up_write_ports, so a scale is followed at once.
up_write_targets() {
  local name
  local -a entries=()
  for name in "${UP_ORDER[@]}" "${UP_MODULES[@]}"; do
    case "$name" in
      monolith | nats | kafka) continue ;;
    esac
    [[ -n "${UP_PORT[$name]:-}" ]] || continue
    entries+=("${name%@*} ${UP_SERVED_BY[$name]:-$name} ${UP_PORT[$name]}")
  done
  mkdir -p "$UP_PROMETHEUS_DIR"
  prometheus_write_targets "${UP_PROMETHEUS_DIR}/targets.json" "${entries[@]}"
}

# up_scale_answer TEXT: the supervisor's answer to `./mercato scale` ("ok ..." or "error ...").
up_scale_answer() {
  echo "$1" >"${UP_SCALE_FILE}.answer.tmp"
  mv -f "${UP_SCALE_FILE}.answer.tmp" "${UP_SCALE_FILE}.answer"
}

# up_scale SERVICE COUNT: runs COUNT instances of SERVICE (the first is the one up started; the others are
# SERVICE@2, SERVICE@3, ... on free ports), each registered in etcd once ready, so callers balance over
# them. Only a service with a database several processes can share (PostgreSQL, Redis) scales: a SQLite
# file belongs to one process (docs/adr/0013-discovery-on-etcd.md).
up_scale() {
  local service="$1" count="$2" name k port running=1
  [[ "$UP_DISCOVERY" == etcd ]] || { up_scale_answer "error: scaling needs discovery (MERCATO_DISCOVERY=etcd)"; return; }
  if [[ -z "${UP_PORT[$service]:-}" || -n "${UP_SERVED_BY[$service]:-}" || "$service" == "$MERCATO_GATEWAY_NAME" ]]; then
    up_scale_answer "error: '$service' is not a service running as its own process here"
    return
  fi
  local url_var="MERCATO_${service^^}_DATABASE_URL"
  if [[ "$(service_storage "$service")" == sqlite && -z "${!url_var:-}" ]]; then
    up_scale_answer "error: $service keeps its data in a SQLite file, which one process owns; start ./mercato up with ${url_var}=postgresql://... to scale it"
    return
  fi
  for name in "${UP_ORDER[@]}"; do [[ "$name" == "$service@"* ]] && running=$((running + 1)); done
  # Fewer: the newest instances leave first (SIGTERM: they deregister, wait, drain).
  for ((k = running; k > count; k--)); do
    name="$service@$k"
    local -a kept=()
    local other
    for other in "${UP_ORDER[@]}"; do [[ "$other" != "$name" ]] && kept+=("$other"); done
    UP_ORDER=("${kept[@]}")
    if [[ -n "${UP_PID[$name]:-}" ]]; then proc_stop "${MERCATO_STOP_TIMEOUT:-10}" "${UP_PID[$name]}"; fi
    rm -f "${MERCATO_RUN_DIR}/${name}.pid"
    unset "UP_PID[$name]" "UP_PORT[$name]"
  done
  # More: each on a free port, started and awaited like the first.
  local -a started=()
  for ((k = running + 1; k <= count; k++)); do
    name="$service@$k"
    local -a used=()
    for port in "${UP_PORT[@]}"; do used+=("$port"); done
    UP_PORT[$name]="$(free_port "${used[@]}")"
    UP_BACKOFF[$name]=$UP_BACKOFF_FIRST
    UP_RESTART_AT[$name]=0
    UP_RESTARTS[$name]=0
    UP_ORDER=("${UP_ORDER[@]:0:${#UP_ORDER[@]}-1}" "$name" "${UP_ORDER[-1]}")  # before the gateway
    up_spawn "$name"
    started+=("$name")
  done
  up_write_ports
  if ((${#started[@]})) && ! up_wait_ready "${started[@]}"; then
    up_scale_answer "error: ${started[*]} did not become ready (see var/log/)"
    return
  fi
  local list="$service:${UP_PORT[$service]}"
  for name in "${UP_ORDER[@]}"; do [[ "$name" == "$service@"* ]] && list+=" $name:${UP_PORT[$name]}"; done
  log_info "scaled $service to $count instance(s): $list"
  up_scale_answer "ok $list"
}

# up_spawn NAME: starts NAME in the background and records its PID.
up_spawn() {
  local name="$1" log="${MERCATO_LOG_DIR}/$1.log" pid
  _up_command "$name"
  [[ -d "${MERCATO_VAR_DIR}/${name}" ]] || mkdir -p "${MERCATO_VAR_DIR}/${name}"
  # printf's own clock, not date(1): up starts every process one after another, and forks add up.
  printf '=== %(%Y-%m-%dT%H:%M:%S%z)T mercato up: starting %s on 127.0.0.1:%s: %s %s\n' -1 "$name" \
    "${UP_PORT[$name]}" "${_UP_ENV[*]}" "${_UP_CMD[*]}" >>"$log"
  # The working directory is the repository root (./mercato cds there), so relative paths in
  # config/*.yaml resolve as documented. PROC_LAUNCHER (scripts/lib.sh) keeps a Ctrl-C in the
  # terminal away from the children: only this supervisor gets it, and stops them in order.
  "${PROC_LAUNCHER[@]}" env "${_UP_ENV[@]}" "${_UP_CMD[@]}" >>"$log" 2>&1 </dev/null &
  pid=$!
  UP_PID[$name]=$pid
  UP_STARTED[$name]=$EPOCHSECONDS
  echo "$pid" >"${MERCATO_RUN_DIR}/${name}.pid"
}

# up_describe_status STATUS: "exit status N" or "killed by SIGNAME".
up_describe_status() {
  if (($1 > 128)); then
    echo "killed by SIG$(kill -l $(($1 - 128)) 2>/dev/null || echo "?$(($1 - 128))")"
  else
    echo "exit status $1"
  fi
}

# up_show_log NAME: the end of NAME's log since its last start, indented.
up_show_log() {
  local log="${MERCATO_LOG_DIR}/$1.log" first
  first="$(grep -n '^=== .* mercato up: starting ' "$log" 2>/dev/null | tail -n 1 | cut -d: -f1 || true)"
  log_note "var/log/$1.log since the last start:"
  tail -n +"$((${first:-0} + 1))" "$log" 2>/dev/null | tail -n 30 | sed 's/^/      /' >&2 || true
}

# up_wait_ready NAME...: waits until every NAME answers 200 on /health/ready; fails (after showing the
# log) when one exits or MERCATO_READY_TIMEOUT passes.
up_wait_ready() {
  local timeout_s="${MERCATO_READY_TIMEOUT:-30}" deadline name pid status
  local -a pending=("$@") still
  deadline=$(($(now_ms) + timeout_s * 1000))
  while ((${#pending[@]})); do
    still=()
    for name in "${pending[@]}"; do
      pid="${UP_PID[$name]}"
      HTTP_PROBE_CODE=000
      if [[ "$name" != kafka ]]; then
        local ready_port
        for ready_port in $(up_ports "$name"); do
          http_probe "$(health_url "$name" "$ready_port" ready)"
          # With discovery, ready means registered too: a caller started next (the gateway) must find
          # this instance in etcd, not an empty list ("registering" until the key is written).
          # shellcheck disable=SC2153  # HTTP_PROBE_BODY is set by http_probe (scripts/lib.sh)
          if [[ "$HTTP_PROBE_BODY" == *'"discovery":"'* && "$HTTP_PROBE_BODY" != *'"discovery":"ok"'* ]]; then
            HTTP_PROBE_CODE=000
          fi
          [[ "$HTTP_PROBE_CODE" == 200 ]] || break
        done
      fi
      if [[ "$name" == kafka && -n "$(up_broker_url kafka)" ]] || [[ "$HTTP_PROBE_CODE" == 200 ]]; then
        log_note "$name ready (pid $pid, port ${UP_PORT[$name]})"
      elif ! proc_alive "$pid"; then
        status=0
        wait "$pid" 2>/dev/null || status=$?
        log_error "$name exited before it was ready ($(up_describe_status "$status"))"
        up_show_log "$name"
        return 1
      else
        still+=("$name")
      fi
    done
    pending=("${still[@]}")
    ((${#pending[@]})) || break
    if (($(now_ms) >= deadline)); then
      for name in "${pending[@]}"; do
        for ready_port in $(up_ports "$name"); do
          log_error "$name is not ready after ${timeout_s}s: $(health_url "$name" "$ready_port" ready) answers $(http_code "$(health_url "$name" "$ready_port" ready)" 1)"
        done
        up_show_log "$name"
      done
      return 1
    fi
    sleep 0.02
  done
}

# up_cleanup [REASON]: stops every child (SIGTERM, grace, SIGKILL) and removes the run files. Runs once.
up_cleanup() {
  ((UP_STOPPING)) && return 0
  UP_STOPPING=1
  local name i phase stopped=0
  local -a pids=()
  # The gateway and the services first (they deregister from etcd and drain), then the broker and etcd,
  # which the services still use while they stop.
  for phase in apps infrastructure; do
    pids=()
    for ((i = ${#UP_ORDER[@]} - 1; i >= 0; i--)); do
      name="${UP_ORDER[$i]}"
      case "$name" in
        nats | kafka | etcd | prometheus) [[ "$phase" == infrastructure ]] || continue ;;
        *) [[ "$phase" == apps ]] || continue ;;
      esac
      if [[ -n "${UP_PID[$name]:-}" ]] && proc_alive "${UP_PID[$name]}"; then
        pids+=("${UP_PID[$name]}")
      fi
    done
    if ((${#pids[@]})); then
      log_info "stopping ${#pids[@]} process(es)${1:+ ($1)}: SIGTERM to pid ${pids[*]}"
      proc_stop "${MERCATO_STOP_TIMEOUT:-10}" "${pids[@]}"
      stopped=1
    fi
  done
  for name in "${UP_ORDER[@]}"; do
    rm -f "${MERCATO_RUN_DIR}/${name}.pid"
  done
  rm -f "$UP_PORTS_FILE" "$UP_SUPERVISOR_PID_FILE" "$UP_SCALE_FILE" "${UP_SCALE_FILE}.answer"
  ((stopped)) && log_info "stopped"
  return 0
}

up_on_signal() {
  trap '' INT TERM HUP
  echo >&2
  up_cleanup "SIG$1"
  exit 0
}

# up_supervise: the foreground loop: notices exits, schedules and performs restarts.
up_supervise() {
  local name pid status uptime delay request_service request_count
  while :; do
    if ((UP_SCALE_PENDING)); then
      UP_SCALE_PENDING=0
      if read -r request_service request_count <"$UP_SCALE_FILE" 2>/dev/null; then
        rm -f "$UP_SCALE_FILE"
        up_scale "$request_service" "$request_count"
      fi
    fi
    for name in "${UP_ORDER[@]}"; do
      pid="${UP_PID[$name]}"
      if [[ -n "$pid" ]] && ! proc_alive "$pid"; then
        status=0
        wait "$pid" 2>/dev/null || status=$?
        uptime=$((EPOCHSECONDS - UP_STARTED[$name]))
        if ((uptime >= UP_STABLE_AFTER)); then
          UP_BACKOFF[$name]=$UP_BACKOFF_FIRST
        fi
        delay=${UP_BACKOFF[$name]}
        UP_BACKOFF[$name]=$((delay * 2 > UP_BACKOFF_MAX ? UP_BACKOFF_MAX : delay * 2))
        UP_RESTART_AT[$name]=$((EPOCHSECONDS + delay))
        UP_PID[$name]=""
        rm -f "${MERCATO_RUN_DIR}/${name}.pid"
        log_warn "$name (pid $pid) stopped: $(up_describe_status "$status") after ${uptime}s; restarting in ${delay}s (see var/log/$name.log)"
      fi
      if [[ -z "${UP_PID[$name]}" ]] && ((EPOCHSECONDS >= UP_RESTART_AT[$name])); then
        up_spawn "$name"
        UP_RESTARTS[$name]=$((UP_RESTARTS[$name] + 1))
        log_info "$name restarted (pid ${UP_PID[$name]}, restart #${UP_RESTARTS[$name]})"
      fi
    done
    sleep 0.5
  done
}

up_print_table() {
  local name i j process
  local -a names=()
  for ((i = ${#UP_ORDER[@]} - 1; i >= 0; i--)); do
    name="${UP_ORDER[$i]}"
    if [[ "$name" == monolith ]]; then
      for ((j = ${#UP_MODULES[@]} - 1; j >= 0; j--)); do names+=("${UP_MODULES[$j]}"); done
    else
      names+=("$name")
    fi
  done
  echo
  printf '%-14s %-24s %-8s %s\n' SERVICE LISTENS PID LOG
  for name in "${names[@]}"; do
    process="${UP_SERVED_BY[$name]:-$name}"
    local where="http://127.0.0.1:${UP_PORT[$name]}"
    [[ "$name" == nats || "$name" == kafka ]] && where="$(up_broker_url "$name")"
    [[ "$name" == etcd ]] && where="etcd 127.0.0.1:${UP_PORT[etcd]}"
    printf '%-14s %-24s %-8s %s\n' "$name" "$where" "${UP_PID[$process]}" "var/log/$process.log"
  done
  echo
  echo "API: http://127.0.0.1:${UP_PORT[$MERCATO_GATEWAY_NAME]}/api/<service>/...   status: ./mercato status   stop: Ctrl-C or ./mercato stop"
  echo
}

# _sigint_ignored: true when this shell was started with SIGINT ignored (as `cmd &` in a script does).
_sigint_ignored() {
  local mask
  mask="$(awk '/^SigIgn:/ { print $2 }' "/proc/$$/status" 2>/dev/null)"
  [[ -n "$mask" ]] && (((16#$mask & 2) != 0))
}

cmd_up() {
  local build=1 arg name port monolith=0 split=""
  # bash cannot trap a signal that was ignored when it started, and a script's `./mercato up &` starts
  # it so: re-exec once (same PID) with SIGINT restored, so `kill -INT` stops it as Ctrl-C does.
  if [[ -z "${MERCATO_UP_REEXEC:-}" ]] && _sigint_ignored && env --default-signal=INT true 2>/dev/null; then
    exec env --default-signal=INT MERCATO_UP_REEXEC=1 "${MERCATO_ROOT}/mercato" up "$@"
  fi
  unset MERCATO_UP_REEXEC
  while (($#)); do
    arg="$1"
    shift
    case "$arg" in
      --no-build) build=0 ;;
      --monolith) monolith=1 ;;
      --observability) UP_OBSERVABILITY=1 ;;
      --split)
        (($#)) || die "up: --split needs a list of services, e.g. --split payment"
        split="$1"
        shift
        ;;
      --split=*) split="${arg#--split=}" ;;
      -h | --help)
        echo "usage: ./mercato up [--no-build] [--observability] [--monolith [--split SVC[,SVC...]]]   (see ./mercato help)"
        return 0
        ;;
      *) die "up: unknown argument '$arg' (see ./mercato help)" ;;
    esac
  done
  [[ -z "$split" || "$monolith" == 1 ]] || die "up: --split splits services out of the monolith: use it with --monolith"
  local -a split_out=()
  if [[ -n "$split" ]]; then
    IFS=, read -r -a split_out <<<"$split"
    for name in "${split_out[@]}"; do
      [[ "$name" == "$MERCATO_GATEWAY_NAME" ]] || service_route "$name" >/dev/null ||
        die "up: --split: unknown service '$name' (services: $(service_names | tr '\n' ' ')gateway)"
    done
  fi

  local running
  running="$(up_supervisor_pid)"
  [[ -z "$running" ]] || die "mercato is already running (supervisor pid $running); ./mercato stop first"
  case "${MERCATO_SAGA_MODE:-orchestration}" in
    orchestration | choreography | none) ;;
    *) die "MERCATO_SAGA_MODE must be orchestration, choreography or none (got '${MERCATO_SAGA_MODE}')" ;;
  esac
  case "${MERCATO_ORDER_TRANSPORT:-grpc}" in
    grpc | http) ;;
    *) die "MERCATO_ORDER_TRANSPORT must be grpc or http (got '${MERCATO_ORDER_TRANSPORT}')" ;;
  esac

  if ((build)); then
    build_project
  else
    deps_ensure core
  fi

  # The broker first (the services connect to it at start), then every built service and the gateway.
  local broker=""
  if [[ -n "${MERCATO_EVENTS_URL:-}" ]]; then
    UP_EVENTS_URL="$MERCATO_EVENTS_URL"
  else
    case "${MERCATO_EVENTS:-nats}" in
      nats)
        command -v nats-server >/dev/null 2>&1 || die "nats-server not found (./mercato deps installs it)"
        broker=nats
        ;;
      kafka)
        [[ -x "$(service_binary kafka)" ]] || die "$(service_binary kafka) is not built"
        broker=kafka
        ;;
      inprocess) UP_EVENTS_URL="" ;; # each service defaults to inprocess://<its process>
      *) die "MERCATO_EVENTS must be nats, kafka or inprocess (got '${MERCATO_EVENTS}')" ;;
    esac
    # The whole monolith is one process: its events need no broker unless one was asked for.
    if ((monolith)) && ((${#split_out[@]} == 0)) && [[ -z "${MERCATO_EVENTS:-}" ]]; then
      broker=""
    fi
  fi
  [[ -n "$broker" ]] && UP_ORDER+=("$broker")
  if [[ "$broker" == nats ]]; then
    UP_EVENTS_PARTITIONS="${MERCATO_EVENTS_PARTITIONS:-1}"
    if ! [[ "$UP_EVENTS_PARTITIONS" =~ ^[1-9][0-9]{0,2}$ ]] || ((UP_EVENTS_PARTITIONS > 256)); then
      die "MERCATO_EVENTS_PARTITIONS must be a whole number from 1 to 256 (got '${UP_EVENTS_PARTITIONS}')"
    fi
  fi
  # Discovery: etcd when more than one process serves (the monolith alone needs no registry).
  local default_discovery=etcd
  ((monolith)) && ((${#split_out[@]} == 0)) && default_discovery=static
  UP_DISCOVERY="${MERCATO_DISCOVERY:-$default_discovery}"
  case "$UP_DISCOVERY" in
    etcd)
      command -v etcd >/dev/null 2>&1 || die "etcd not found (./mercato deps installs it)"
      UP_ORDER+=(etcd)
      ;;
    static) ;;
    *) die "MERCATO_DISCOVERY must be etcd or static (got '${MERCATO_DISCOVERY}')" ;;
  esac
  # Prometheus starts with the services (after the broker and etcd): it needs nothing but its targets
  # file, written before anything starts, and scrapes each process as it comes up.
  if ((UP_OBSERVABILITY)); then
    command -v prometheus >/dev/null 2>&1 || die "prometheus not found (./mercato deps installs it)"
    prometheus_scrape_interval >/dev/null
    UP_ORDER+=(prometheus)
  fi
  local -a skipped=()
  if ((monolith)); then
    [[ -x "$(service_binary monolith)" ]] || die "the monolith is not built ($(service_binary monolith) is missing)"
    local outside
    for name in $(service_names) "$MERCATO_GATEWAY_NAME"; do
      outside=0
      for arg in "${split_out[@]}"; do [[ "$arg" == "$name" ]] && outside=1; done
      if ((outside)); then
        [[ -x "$(service_binary "$name")" ]] || die "$name is not built ($(service_binary "$name") is missing)"
        UP_ORDER+=("$name")
      else
        UP_MODULES+=("$name")
        UP_SERVED_BY[$name]=monolith
      fi
      [[ "$name" == "$MERCATO_GATEWAY_NAME" ]] || UP_SERVICES+=("$name")
    done
    UP_ORDER+=(monolith)
  else
    for name in $(service_names); do
      if [[ -x "$(service_binary "$name")" ]]; then
        UP_ORDER+=("$name")
        UP_SERVICES+=("$name")
      else
        skipped+=("$name")
      fi
    done
    if ((${#skipped[@]})); then
      log_note "not built (skipped): ${skipped[*]}"
    fi
    [[ -x "$(service_binary "$MERCATO_GATEWAY_NAME")" ]] ||
      die "the gateway is not built ($(service_binary "$MERCATO_GATEWAY_NAME") is missing)"
    UP_ORDER+=("$MERCATO_GATEWAY_NAME")
  fi

  # Ports: distinct, and free.
  local -A owner_of=()
  local -a taken=()
  for name in "${UP_ORDER[@]}" "${UP_MODULES[@]}"; do
    [[ "$name" == monolith ]] && continue  # its modules have the ports
    case "$name" in
      nats) port="${MERCATO_NATS_HTTP_PORT:-8222}" ;; # the monitoring port: health and status
      kafka) port=0 ;;                                 # chosen by the mock itself
      etcd) port="$(service_port etcd)" ;;
      *) port="$(service_port "$name")" ;;
    esac
    [[ "$port" == 0 ]] && { UP_PORT[$name]=0; continue; }
    [[ -z "${owner_of[$port]:-}" ]] ||
      die "$name and ${owner_of[$port]} are both configured for port $port (MERCATO_*_PORT)"
    owner_of[$port]=$name
    UP_PORT[$name]=$port
    if port_in_use "$port"; then
      local who
      who="$(port_owner "$port")"
      taken+=("port $port (for $name) is already in use${who:+ by: $who}")
    fi
  done
  if ((${#taken[@]})); then
    for arg in "${taken[@]}"; do log_error "$arg"; done
    die "refusing to start: free those ports or pick others with MERCATO_<SERVICE>_PORT"
  fi

  # The monolith's own line in logs and the table: where its public entry (the gateway module) listens.
  ((monolith)) && UP_PORT[monolith]="${UP_PORT[$MERCATO_GATEWAY_NAME]}"
  secrets_ensure
  local -a dirs=("$MERCATO_RUN_DIR" "$MERCATO_LOG_DIR")
  for name in "${UP_ORDER[@]}" "${UP_MODULES[@]}"; do dirs+=("${MERCATO_VAR_DIR}/${name}"); done
  mkdir -p "${dirs[@]}"
  echo "$$" >"$UP_SUPERVISOR_PID_FILE"
  up_write_ports
  for name in "${UP_ORDER[@]}"; do
    UP_BACKOFF[$name]=$UP_BACKOFF_FIRST
    UP_RESTART_AT[$name]=0
    UP_RESTARTS[$name]=0
  done

  trap 'up_on_signal INT' INT
  trap 'up_on_signal TERM' TERM
  trap 'up_on_signal HUP' HUP
  trap 'UP_SCALE_PENDING=1' USR1
  trap 'up_cleanup' EXIT

  # Everything after the broker and etcd; the gateway (or the monolith) comes last in UP_ORDER.
  local -a services=("${UP_ORDER[@]:0:${#UP_ORDER[@]}-1}")
  local last="${UP_ORDER[-1]}"
  if [[ "$UP_DISCOVERY" == etcd ]]; then
    local -a kept=()
    for name in "${services[@]}"; do [[ "$name" != etcd ]] && kept+=("$name"); done
    services=("${kept[@]}")
    log_info "starting the registry: etcd"
    up_spawn etcd
    up_wait_ready etcd || die "etcd did not start"
    log_note "discovery: etcd at 127.0.0.1:${UP_PORT[etcd]}"
  fi
  if [[ -n "$broker" ]]; then
    services=("${services[@]:1}")
    log_info "starting the event broker: $broker"
    up_spawn "$broker"
    up_wait_ready "$broker" || die "the event broker did not start"
    UP_EVENTS_URL="$(up_broker_url "$broker")"
    [[ -n "$UP_EVENTS_URL" ]] || die "cannot tell where the $broker broker listens (see var/log/$broker.log)"
    log_note "events: $UP_EVENTS_URL"
  fi
  # The services and the gateway all at once: none needs another to start (the gateway answers 503 for
  # a service that is not up yet, and the services' calls to each other go through circuit breakers).
  services+=("$last")
  log_info "starting ${services[*]}${UP_MODULES[*]:+ (modules: ${UP_MODULES[*]})}"
  for name in "${services[@]}"; do up_spawn "$name"; done
  up_wait_ready "${services[@]}" || die "start-up failed"

  up_print_table
  log_info "supervising (pid $$); Ctrl-C stops everything"
  up_supervise
}

# `./mercato scale SERVICE COUNT`: asks the running `./mercato up` for COUNT instances of SERVICE (1..8)
# and waits for its answer (up_scale above).
cmd_scale() {
  (($# == 2)) || die "usage: ./mercato scale SERVICE COUNT   (e.g. ./mercato scale user 3)"
  local service="$1" count="$2" supervisor deadline answer
  [[ "$count" =~ ^[1-8]$ ]] || die "scale: COUNT must be 1..8 (got '$count')"
  service_route "$service" >/dev/null 2>&1 || die "scale: unknown service '$service' (services: $(service_names | tr '\n' ' '))"
  supervisor="$(up_supervisor_pid)"
  [[ -n "$supervisor" ]] || die "scale: ./mercato up is not running"
  rm -f "${UP_SCALE_FILE}.answer"
  echo "$service $count" >"${UP_SCALE_FILE}.tmp"
  mv -f "${UP_SCALE_FILE}.tmp" "$UP_SCALE_FILE"
  kill -USR1 "$supervisor"
  deadline=$(($(now_ms) + (${MERCATO_READY_TIMEOUT:-30} + 15) * 1000))
  until [[ -f "${UP_SCALE_FILE}.answer" ]]; do
    (($(now_ms) < deadline)) || die "scale: no answer from ./mercato up (pid $supervisor)"
    sleep 0.1
  done
  read -r answer <"${UP_SCALE_FILE}.answer"
  rm -f "${UP_SCALE_FILE}.answer"
  [[ "$answer" == ok* ]] || die "scale: ${answer#error: }"
  log_info "$service: ${answer#ok }"
}
