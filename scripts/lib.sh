# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts that source it
# Shared helpers for ./mercato and bench/*.sh: paths, messages, the service catalog, HTTP probes,
# port checks and starting/stopping processes by PID. Sourced, never run; the caller sets
# `set -euo pipefail` and MERCATO_ROOT (the repository root) before sourcing.

: "${MERCATO_ROOT:?MERCATO_ROOT must be set before sourcing scripts/lib.sh}"
MERCATO_BUILD_DIR="${MERCATO_ROOT}/build"
# MERCATO_VAR_DIR: where runtime data, logs and run files go (default var/); a second `./mercato up` of
# the same checkout (benchmarks, experiments) gets its own with MERCATO_VAR_DIR=/some/dir.
MERCATO_VAR_DIR="${MERCATO_VAR_DIR:-${MERCATO_ROOT}/var}"
MERCATO_RUN_DIR="${MERCATO_VAR_DIR}/run"
MERCATO_LOG_DIR="${MERCATO_VAR_DIR}/log"

# ---------------------------------------------------------------------------------------------------
# Messages (to stderr, so stdout stays for tables and results)

if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  _c_dim=$'\e[2m' _c_red=$'\e[31m' _c_yellow=$'\e[33m' _c_green=$'\e[32m' _c_off=$'\e[0m'
else
  _c_dim='' _c_red='' _c_yellow='' _c_green='' _c_off=''
fi

log_info() { printf '%s==>%s %s\n' "$_c_green" "$_c_off" "$*" >&2; }
log_note() { printf '%s    %s%s\n' "$_c_dim" "$*" "$_c_off" >&2; }
log_warn() { printf '%swarning:%s %s\n' "$_c_yellow" "$_c_off" "$*" >&2; }
log_error() { printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2; }
die() {
  log_error "$*"
  exit 1
}

# is_ci: true when the CI environment variable says so (CI=true, as the CI runner sets it).
is_ci() {
  case "${CI:-}" in
    true | TRUE | True | 1 | yes) return 0 ;;
    *) return 1 ;;
  esac
}

# now_ms: wall-clock milliseconds, without forking.
now_ms() {
  local t="${EPOCHREALTIME/[.,]/}"
  echo $((t / 1000))
}

# ---------------------------------------------------------------------------------------------------
# The service catalog: services/<name>/service.conf, read by scripts/services.sh

# shellcheck source=scripts/services.sh
source "${MERCATO_ROOT}/scripts/services.sh"
services_load "$MERCATO_ROOT"

# service_names: names of the domain services (not the gateway), in the order of their default ports.
service_names() {
  ((${#MERCATO_SERVICE_NAMES[@]} == 0)) || printf '%s\n' "${MERCATO_SERVICE_NAMES[@]}"
}

# _service_field ARRAY NAME: NAME's entry in the catalog array ARRAY; fails for an undescribed NAME.
_service_field() {
  local -n _field="$1"
  [[ "$2" =~ ^[a-z][a-z0-9]*$ && -v _field[$2] ]] || return 1
  echo "${_field[$2]}"
}

# service_route NAME: its gateway routes, comma-separated (users,auth: /api/users/... and /api/auth/...).
service_route() { _service_field MERCATO_SERVICE_ROUTES "$1"; }
# service_paths NAME: the exact paths outside /api/ the gateway forwards to it, comma-separated.
service_paths() { _service_field MERCATO_SERVICE_PATHS "$1"; }
# service_storage NAME: sqlite or none.
service_storage() { _service_field MERCATO_SERVICE_STORAGE "$1"; }
# service_calls NAME: the services it calls directly, comma-separated (empty for none).
service_calls() { _service_field MERCATO_SERVICE_CALLS "$1"; }

# service_port NAME: the port of NAME (domain service or gateway): MERCATO_<NAME>_PORT or the default.
service_port() {
  local name="$1" default var port
  if [[ "$name" == nats ]]; then
    default=4222
  elif [[ "$name" == etcd ]]; then
    default=2379
  elif [[ "$name" == prometheus ]]; then
    default=9090
  else
    default="$(_service_field MERCATO_SERVICE_PORT "$name")" || die "unknown service: $name"
  fi
  var="MERCATO_${name^^}_PORT"
  port="${!var:-$default}"
  if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    die "$var=$port is not a port number"
  fi
  echo "$port"
}

service_binary() {
  case "$1" in
    nats) command -v nats-server || echo /usr/sbin/nats-server ;;
    etcd) command -v etcd || echo /usr/bin/etcd ;;
    prometheus) command -v prometheus || echo /usr/bin/prometheus ;;
    kafka) echo "${MERCATO_BUILD_DIR}/tools/kafka-mock/mercato-kafka-mock" ;;
    monolith) echo "${MERCATO_BUILD_DIR}/apps/monolith/mercato-monolith" ;;
    *) echo "${MERCATO_BUILD_DIR}/services/$1/mercato-$1" ;;
  esac
}

# health_url NAME PORT live|ready: where a process of ./mercato up answers health probes. The services
# answer /health/*; nats-server answers /healthz on its monitoring port (the port recorded for it),
# 200 only once JetStream is up.
health_url() {
  case "$1" in
    nats) echo "http://127.0.0.1:$2/healthz?js-enabled=true" ;;
    etcd) echo "http://127.0.0.1:$2/health" ;;
    # Prometheus: healthy once serving, ready once its storage and rules are loaded.
    prometheus) if [[ "$3" == live ]]; then echo "http://127.0.0.1:$2/-/healthy"; else echo "http://127.0.0.1:$2/-/ready"; fi ;;
    *) echo "http://127.0.0.1:$2/health/$3" ;;
  esac
}
service_config() { echo "${MERCATO_ROOT}/config/$1.yaml"; }

# ---------------------------------------------------------------------------------------------------
# HTTP probes (always direct to loopback: proxies in the environment are ignored)

# http_probe URL: sets HTTP_PROBE_CODE to the status of GET URL (http://127.0.0.1:PORT/PATH only), or
# 000 when nothing answered within 1 s, and HTTP_PROBE_BODY to the rest of the answer (headers, body).
# Bash's /dev/tcp, no process started: readiness loops poll every few milliseconds, and a curl per
# probe per service was a visible share of start-up on 2 cores.
http_probe() {
  HTTP_PROBE_CODE=000
  HTTP_PROBE_BODY=""
  [[ "$1" =~ ^http://127\.0\.0\.1:([0-9]+)(/.*)$ ]] || return 0
  local port="${BASH_REMATCH[1]}" path="${BASH_REMATCH[2]}" fd line=""
  { exec {fd}<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null || return 0
  { printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" 1>&"$fd"; } 2>/dev/null || true
  IFS= read -r -t 1 line <&"$fd" || true
  # The rest (headers and body: an HTTP/1.0 request is answered and closed) for HTTP_PROBE_BODY.
  IFS= read -r -d '' -t 1 HTTP_PROBE_BODY <&"$fd" || true
  exec {fd}>&-
  if [[ "$line" =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]]; then HTTP_PROBE_CODE="${BASH_REMATCH[1]}"; fi
  return 0
}

# http_code URL [MAX_SECONDS]: prints the HTTP status, or 000 when nothing answered.
http_code() {
  curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time "${2:-2}" "$1" \
    2>/dev/null || true
}

# wait_http_ok URL TIMEOUT_SECONDS [PID]: polls URL until it answers 200. Fails when the time is up or
# when PID (the server being waited for) has exited.
wait_http_ok() {
  local url="$1" timeout_s="$2" pid="${3:-}" deadline code
  deadline=$(($(now_ms) + timeout_s * 1000))
  while :; do
    code="$(http_code "$url" 1)"
    [[ "$code" == 200 ]] && return 0
    if [[ -n "$pid" ]] && ! proc_alive "$pid"; then
      return 1
    fi
    (($(now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

# ---------------------------------------------------------------------------------------------------
# Ports

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
# Bash's /dev/tcp in this shell, no process started (a loopback connect is answered or refused at once).
port_in_use() {
  local fd
  { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  exec {fd}>&-
  return 0
}

# port_claimed PORT: true while a test holds PORT's claim (the lock lib/testing's free_port() and
# tests/scripts/system_lib.sh take under ${TMPDIR:-/tmp}/mercato-ports): it picked the port for a
# process that may not have bound it yet, so a port free to connect to is not free to take.
port_claimed() {
  local lock="${TMPDIR:-/tmp}/mercato-ports/$1.lock"
  [[ -e "$lock" ]] || return 1
  ! flock -n "$lock" true 2>/dev/null
}

# port_owner PORT: a short description of the listener on PORT (best effort, may be empty).
port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | awk '{ $1=$2=$3=""; sub(/^ +/, ""); print }' | head -n 1
}

# free_port [EXCLUDED...]: a free loopback port in 20000-32767 (below Linux's ephemeral range, so
# outgoing connections never hold it), not one of EXCLUDED, nor one a test has claimed (port_claimed).
free_port() {
  local attempt port ex taken
  for attempt in $(seq 1 200); do
    port=$((20000 + RANDOM % 12768))
    taken=0
    for ex in "$@"; do [[ "$ex" == "$port" ]] && taken=1; done
    ((taken)) && continue
    port_in_use "$port" && continue
    port_claimed "$port" && continue
    echo "$port"
    return 0
  done
  die "no free loopback port found after $attempt attempts"
}

# ---------------------------------------------------------------------------------------------------
# Processes. Everything a script starts is remembered by PID and stopped by PID; nothing is ever
# looked up or killed by name.

# proc_alive PID: true while PID exists and is not a zombie.
proc_alive() {
  local stat state
  [[ -n "$1" && -r "/proc/$1/stat" ]] || return 1
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  state="${stat##*) }"
  state="${state%% *}"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# proc_children PID: PIDs of the direct children of PID (e.g. nginx's workers).
proc_children() {
  ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true
}

# PROC_LAUNCHER: prefix for the servers a script starts in the background.
#  - setsid: a session of its own, so a Ctrl-C in the terminal reaches only the script, which then
#    stops its servers by PID in its own order (a background child of a script is never a process
#    group leader, so setsid execs in place rather than forking);
#  - setpriv --pdeathsig TERM: the kernel sends SIGTERM to the server if the script dies, even by
#    SIGKILL, so no orphan is ever left behind.
# Both exec the command, so the PID recorded with $! is the server's own.
PROC_LAUNCHER=()
if command -v setsid >/dev/null 2>&1; then
  PROC_LAUNCHER+=(setsid)
fi
if command -v setpriv >/dev/null 2>&1 && setpriv --help 2>&1 | grep -q -- --pdeathsig; then
  PROC_LAUNCHER+=(setpriv --pdeathsig TERM --)
fi

# proc_stop TIMEOUT_SECONDS PID...: SIGTERM to each PID, wait up to TIMEOUT for all to exit, then
# SIGKILL the stragglers and their direct children. Reaps them when they are children of this shell.
proc_stop() {
  local timeout_s="$1" pid deadline any
  shift
  local -a pids=() kids=()
  for pid in "$@"; do
    [[ -n "$pid" ]] && proc_alive "$pid" && pids+=("$pid")
  done
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    deadline=$(($(now_ms) + timeout_s * 1000))
    while :; do
      any=0
      for pid in "${pids[@]}"; do proc_alive "$pid" && any=1; done
      ((any)) || break
      if (($(now_ms) >= deadline)); then
        for pid in "${pids[@]}"; do
          if proc_alive "$pid"; then
            log_warn "pid $pid did not stop within ${timeout_s}s: SIGKILL"
            mapfile -t kids < <(proc_children "$pid")
            kill -KILL "$pid" "${kids[@]}" 2>/dev/null || true
          fi
        done
        break
      fi
      sleep 0.1
    done
  fi
  for pid in "$@"; do
    [[ -n "$pid" ]] && { wait "$pid" 2>/dev/null || true; }
  done
  return 0
}

# --- credentials (docs/security.md, "Bootstrap") ---------------------------------------------------------
# var/secrets/ (0700) holds what `./mercato up` gives the processes: one client secret per service that
# calls others (<service>.secret: the service's own identity at the user service) and the admin's password
# (admin-password), each 0600. Made once, kept across restarts.
MERCATO_SECRETS_DIR="${MERCATO_VAR_DIR}/secrets"
MERCATO_ADMIN_EMAIL="admin@mercato.local"

# _random_secret: 32 bytes from the kernel's CSPRNG, base64url without padding (43 characters).
_random_secret() { head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='; }

# secrets_ensure: creates what is missing. The admin's password is MERCATO_ADMIN_PASSWORD when set (it
# replaces a stored one only before the account exists: the user service sets it at first start), or a
# generated one, which is also written to var/admin-password (0600) and named on the console, once.
secrets_ensure() {
  local name file
  (umask 077 && mkdir -p "$MERCATO_SECRETS_DIR")
  chmod 700 "$MERCATO_SECRETS_DIR"
  for name in $(service_names); do
    [[ "$name" == user ]] && continue
    file="${MERCATO_SECRETS_DIR}/${name}.secret"
    [[ -s "$file" ]] || (umask 077 && _random_secret >"$file")
  done
  file="${MERCATO_SECRETS_DIR}/admin-password"
  if [[ -n "${MERCATO_ADMIN_PASSWORD:-}" ]]; then
    (umask 077 && printf '%s' "$MERCATO_ADMIN_PASSWORD" >"$file")
  elif [[ ! -s "$file" ]]; then
    (umask 077 && _random_secret >"$file" && cp "$file" "${MERCATO_VAR_DIR}/admin-password")
    log_note "admin account ${MERCATO_ADMIN_EMAIL}: its generated password is in var/admin-password (0600)"
  fi
}

# secret_hash SERVICE: the SHA-256 (hex) of SERVICE's client secret, as the user service is told it.
secret_hash() { tr -d '\n' <"${MERCATO_SECRETS_DIR}/$1.secret" | sha256sum | cut -d' ' -f1; }

# admin_token USER_BASE_URL: an admin's access token: MERCATO_ADMIN_TOKEN when set (an operator's own,
# or a test's), else a login as the bootstrap admin.
admin_token() {
  local password body token
  if [[ -n "${MERCATO_ADMIN_TOKEN:-}" ]]; then
    echo "$MERCATO_ADMIN_TOKEN"
    return
  fi
  [[ -r "${MERCATO_SECRETS_DIR}/admin-password" ]] ||
    die "no admin password in ${MERCATO_SECRETS_DIR}/admin-password (./mercato up makes it)"
  password="$(cat "${MERCATO_SECRETS_DIR}/admin-password")"
  body="$(jq -cn --arg e "$MERCATO_ADMIN_EMAIL" --arg p "$password" '{email: $e, password: $p}')"
  token="$(curl --noproxy '*' -sS --connect-timeout 2 --max-time 10 -H 'Content-Type: application/json' \
    --data-binary @- "$1/auth/login" <<<"$body" | jq -r '.access_token // empty')" || true
  [[ -n "$token" ]] || die "cannot log in as ${MERCATO_ADMIN_EMAIL} at $1"
  echo "$token"
}
