# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts that source it
# bench/lib.sh — helpers shared by the benchmarks (bench/*.sh): the workspace and its exit trap,
# durations, config templates, one-off requests, logins (the admin's and a customer's tokens), a private
# `./mercato up` on free ports with its own var/ folder, a private PostgreSQL, runs of the load generator
# (tools/load, mercato-load) with their JSON kept, and the machine's description. Sourced after scripts/lib.sh, never run. The caller sets
# MERCATO_ROOT and calls bench_workspace NAME (WORK, a temporary folder removed at exit; RESULTS, where
# raw output is kept): every process started is recorded by PID in BENCH_PIDS and stopped by PID at exit,
# the newest first (a system before the database it uses).

BENCH_PIDS=()

# bench_forget PID...: drops stopped PIDs from BENCH_PIDS (so the exit trap never signals a reused PID).
bench_forget() {
  local p q
  local -a keep=()
  for p in "${BENCH_PIDS[@]}"; do
    for q in "$@"; do [[ "$p" == "$q" ]] && continue 2; done
    keep+=("$p")
  done
  BENCH_PIDS=("${keep[@]}")
}

# bench_stop_all: stops every recorded process, newest first, each by its PID.
bench_stop_all() {
  local i
  ((${#BENCH_PIDS[@]} == 0)) || log_info "stopping ${#BENCH_PIDS[@]} process(es): pid ${BENCH_PIDS[*]}"
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    proc_stop 30 "${BENCH_PIDS[$i]}"
  done
  BENCH_PIDS=()
}

# bench_start NAME COMMAND...: runs a server in the background (output to $WORK/NAME.log), records its
# PID in BENCH_PIDS (stopped at exit) and LAST_PID, and its command in BENCH_SERVER_CMDS (for a report).
BENCH_SERVER_CMDS=()
bench_start() {
  local name="$1"
  shift
  "${PROC_LAUNCHER[@]}" "$@" >>"$WORK/$name.log" 2>&1 </dev/null &
  BENCH_PIDS+=("$!")
  LAST_PID=$!
  BENCH_SERVER_CMDS+=("# $name" "$(printf '%q ' "$@")")
}

# bench_workspace NAME: STAMP, RESULTS (var/bench/NAME-<stamp>/, kept) and WORK (a temporary folder,
# removed at exit unless BENCH_KEEP=1); the exit trap stops every process of BENCH_PIDS.
bench_workspace() {
  STAMP="$(date +%Y%m%d-%H%M%S)"
  RESULTS="${MERCATO_VAR_DIR}/bench/$1-${STAMP}"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/mercato-$1.XXXXXX")"
  mkdir -p "$RESULTS"
  trap _bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

_bench_cleanup() {
  local rc=$?
  trap '' INT TERM
  bench_stop_all
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    log_note "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  return "$rc"
}

# bench_positive PREFIX NAME...: dies unless every variable NAME holds a positive integer, naming the
# environment variable it came from, PREFIX + NAME (bench_positive BENCH_TOPO_ ORDERS RATE).
bench_positive() {
  local prefix="$1" v
  shift
  for v in "$@"; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "${prefix}$v=${!v} is not a positive integer"
  done
}

# bench_saga_modes VAR: the saga modes the environment variable VAR lists (default both) into MODES,
# or dies naming VAR and the mode it does not know.
bench_saga_modes() {
  local var="$1" m
  read -r -a MODES <<<"${!var:-orchestration choreography}"
  ((${#MODES[@]})) || die "$var names no saga mode"
  for m in "${MODES[@]}"; do
    [[ "$m" == orchestration || "$m" == choreography ]] || die "$var: unknown saga mode '$m' (orchestration choreography)"
  done
}

# bench_seconds DURATION [MIN]: whole seconds of a duration (20, 20s, 2m, 1h); at least MIN (default 1).
bench_seconds() {
  [[ "$1" =~ ^([0-9]+)([smh]?)$ ]] || die "bad duration '$1' (use e.g. 20s, 2m)"
  local s="${BASH_REMATCH[1]}"
  case "${BASH_REMATCH[2]}" in
    m) s=$((s * 60)) ;;
    h) s=$((s * 3600)) ;;
  esac
  ((s >= ${2:-1})) || die "a duration must be at least ${2:-1}s (got '$1')"
  echo "$s"
}

# bench_render TEMPLATE KEY=VALUE...: the template with every @KEY@ replaced by VALUE; a placeholder
# left without a value is an error.
bench_render() {
  local template="$1" text kv
  text="$(<"$template")"
  shift
  for kv in "$@"; do
    text="${text//"@${kv%%=*}@"/"${kv#*=}"}"
  done
  [[ ! "$text" =~ @[A-Z_]+@ ]] || die "placeholder ${BASH_REMATCH[0]} of $template has no value"
  printf '%s\n' "$text"
}

# bench_call METHOD URL [BODY [TOKEN]]: one request to our own servers (with "Authorization: Bearer
# TOKEN" when a token is given); sets CODE (000 when nothing answered) and GOT (the body).
bench_call() {
  local -a data=()
  [[ -n "${3:-}" ]] && data=(-H 'Content-Type: application/json' --data "$3")
  [[ -n "${4:-}" ]] && data+=(-H "Authorization: Bearer $4")
  GOT="$(curl --noproxy '*' -sS --max-time 5 -w '\n%{http_code}' -X "$1" "${data[@]}" "$2" 2>&1 || true)"
  CODE="${GOT##*$'\n'}"
  GOT="${GOT%$'\n'*}"
}

# --- logins (docs/security.md): every benchmark acts as the roles the API asks for -----------------------
# Services a benchmark starts by hand get what `./mercato up` gives them: the user service the bootstrap
# admin (APP_AUTH__ADMIN__PASSWORD_FILE=$BENCH_SECRETS/admin-password), every other service the user
# service's keys (APP_UPSTREAMS__USER). PUTs to the catalog are sent as that admin (scripts/lib.sh
# admin_token); reads that need a signed-in caller as a customer who logged in.

BENCH_SECRETS=""

# bench_secrets: makes $WORK/secrets/admin-password (0600, random) once; sets BENCH_SECRETS.
bench_secrets() {
  [[ -z "$BENCH_SECRETS" ]] || return 0
  BENCH_SECRETS="$WORK/secrets"
  (umask 077 && mkdir -p "$BENCH_SECRETS" && _random_secret >"$BENCH_SECRETS/admin-password")
}

# bench_admin_token USER_BASE_URL: the bootstrap admin's access token (a login at USER_BASE_URL with the
# password of bench_secrets; an operator's MERCATO_ADMIN_TOKEN belongs to another system and is not used).
bench_admin_token() {
  bench_secrets
  MERCATO_ADMIN_TOKEN="" MERCATO_SECRETS_DIR="$BENCH_SECRETS" admin_token "$1"
}

# bench_customer_token USER_BASE_URL EMAIL PASSWORD: logs a customer in (POST /auth/login); prints the
# access token, or fails saying what the user service answered.
bench_customer_token() {
  local body token
  body="$(jq -cn --arg e "$2" --arg p "$3" '{email: $e, password: $p}')"
  bench_call POST "$1/auth/login" "$body"
  token="$(jq -r '.access_token // empty' <<<"$GOT" 2>/dev/null || true)"
  if [[ "$CODE" != 200 || -z "$token" ]]; then
    log_warn "login of $2 at $1 answered $CODE: $GOT"
    return 1
  fi
  echo "$token"
}

# bench_show TEXT: TEXT with the temporary folder as $TMP and paths relative to the checkout.
bench_show() { sed -e "s|$WORK|\$TMP|g" -e "s|$MERCATO_ROOT/||g" <<<"$*"; }

# bench_rev: the commit measured, and whether the checkout had uncommitted changes.
bench_rev() {
  local rev
  rev="$(git -C "$MERCATO_ROOT" rev-parse -q --verify --short HEAD 2>/dev/null || echo "no commit")"
  [[ -z "$(git -C "$MERCATO_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]] ||
    rev+=" + uncommitted changes"
  echo "$rev"
}

# bench_machine: the machine block of a report (markdown code block).
bench_machine() {
  local cpu
  cpu="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
  [[ -n "$cpu" ]] || cpu="$(lscpu 2>/dev/null | awk -F': *' '/Model name/ { print $2; exit }')"
  echo '```'
  echo "\$ uname -a"
  uname -a
  echo "\$ nproc"
  nproc
  echo "CPU: ${cpu:-unknown}; memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "load average when the report was written: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "Our servers: CMake $(_cmake_cache_value CMAKE_BUILD_TYPE 2>/dev/null || echo '?') build;" \
    "$(nats-server --version 2>/dev/null || echo 'nats-server ?')"
  [[ -n "${BENCH_PG_VERSION:-}" ]] && echo "$BENCH_PG_VERSION"
  echo '```'
}

# ---------------------------------------------------------------------------------------------------
# A private PostgreSQL: its own cluster in $WORK, on a free port, trust authentication on 127.0.0.1
# only, stopped by PID. Unlike the tests' server (scripts/test.sh: fsync off) it keeps PostgreSQL's
# durability settings: fsync on, full_page_writes on, and synchronous_commit as asked (default on:
# a commit returns once its WAL is flushed to disk). PostgreSQL refuses to run as root, so as root it
# runs as the `postgres` system user the Debian package creates.

BENCH_PG_PORT="" BENCH_PG_PID="" BENCH_PG_BIN="" BENCH_PG_VERSION="" BENCH_PG_CMD=""

# bench_pg_start SYNCHRONOUS_COMMIT LOG: initdb + postgres; sets BENCH_PG_PORT and BENCH_PG_PID.
bench_pg_start() {
  local sync="$1" log="$2" dir deadline
  local -a as_user=()
  BENCH_PG_BIN="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  [[ -x "$BENCH_PG_BIN/postgres" ]] ||
    die "PostgreSQL server binaries not found under /usr/lib/postgresql (package postgresql)"
  dir="$WORK/postgres"
  mkdir -p "$dir"
  if ((EUID == 0)); then
    chown postgres:postgres "$dir"
    chmod 755 "$WORK"
    as_user=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  "${as_user[@]}" "$BENCH_PG_BIN/initdb" -D "$dir/data" -U mercato -A trust -E UTF8 --locale=C --no-sync \
    >"$log" 2>&1 || die "initdb failed (see $log)"
  BENCH_PG_PORT="$(free_port)"
  local -a cmd=("$BENCH_PG_BIN/postgres" -D "$dir/data" -h 127.0.0.1 -p "$BENCH_PG_PORT" -k "$dir"
    -c "synchronous_commit=$sync" -c max_connections=200 -c shared_buffers=256MB)
  BENCH_PG_CMD="$(bench_show "${cmd[*]}")"
  "${PROC_LAUNCHER[@]}" "${as_user[@]}" "${cmd[@]}" >>"$log" 2>&1 </dev/null &
  BENCH_PG_PID=$!
  BENCH_PIDS+=("$BENCH_PG_PID")
  deadline=$(($(now_ms) + 30000))
  until "$BENCH_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$BENCH_PG_PORT"; do
    proc_alive "$BENCH_PG_PID" || die "PostgreSQL exited at start (see $log)"
    (($(now_ms) < deadline)) || die "PostgreSQL did not start within 30s (see $log)"
    sleep 0.1
  done
  BENCH_PG_VERSION="$("$BENCH_PG_BIN/postgres" --version 2>/dev/null || true)"
}

# bench_pg_stop: stops the private PostgreSQL (its data stays in $WORK until the script ends).
bench_pg_stop() {
  [[ -n "$BENCH_PG_PID" ]] || return 0
  proc_stop 30 "$BENCH_PG_PID"
  bench_forget "$BENCH_PG_PID"
  BENCH_PG_PID=""
}

# bench_pg_database NAME: creates database NAME (dropped first if it exists), prints its URL.
bench_pg_database() {
  local psql="$BENCH_PG_BIN/psql"
  [[ -x "$psql" ]] || psql=psql
  "$psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BENCH_PG_PORT" -U mercato -d postgres \
    -c "SET client_min_messages TO warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null ||
    die "could not create database $1"
  echo "postgresql://mercato@127.0.0.1:${BENCH_PG_PORT}/$1"
}

# ---------------------------------------------------------------------------------------------------
# A private `./mercato up --no-build`. It runs from a temporary root: copies of ./mercato and scripts/
# and every other top-level entry of the checkout linked (build/, config/, ...), with its own empty var/
# (MERCATO_VAR_DIR points there too). The same code and binaries; nothing of another ./mercato up of
# this checkout is touched — including the files the services write relative to their working
# directory (the notification service's outbox log, config/notification.yaml), which MERCATO_VAR_DIR
# alone does not move. Every port is picked free: MERCATO_<NAME>_PORT for the services and the
# gateway, MERCATO_NATS_PORT and MERCATO_NATS_HTTP_PORT for the broker, MERCATO_ETCD_PORT and
# MERCATO_ETCD_PEER_PORT for etcd (service discovery, when the system runs it).
# Its gateway policy is config/gateway-policy.yaml without its rateLimits section: the per-client limits
# (registrations and logins per address, orders per customer) are a defence against one client taking
# too much, and a load generator is exactly one client taking as much as it can, from one address — with
# them the benchmarks would measure the limits, not the system. Everything else of the policy stays.

BENCH_ROOT="" BENCH_UP_PID="" BENCH_UP_LOG="" BENCH_GATEWAY="" BENCH_UP_CMD="" BENCH_UP_READY_MS=""
BENCH_CHECK_CMD=""
BENCH_UP_ARGS=() # extra arguments of `./mercato up` for bench_up (e.g. --monolith)

# bench_root: creates the temporary root (once) and sets BENCH_ROOT.
bench_root() {
  [[ -z "$BENCH_ROOT" ]] || return 0
  local entry base file
  BENCH_ROOT="$WORK/root"
  mkdir -p "$BENCH_ROOT"
  for entry in "$MERCATO_ROOT"/* "$MERCATO_ROOT"/.[!.]*; do
    [[ -e "$entry" ]] || continue
    base="${entry##*/}"
    case "$base" in
      mercato | scripts) cp -a "$entry" "$BENCH_ROOT/$base" ;;
      var | .git) ;;
      config)
        mkdir -p "$BENCH_ROOT/config"
        for file in "$MERCATO_ROOT"/config/*; do
          if [[ "${file##*/}" == gateway-policy.yaml ]]; then
            bench_policy_without_client_limits "$file" >"$BENCH_ROOT/config/gateway-policy.yaml"
          else
            ln -s "$file" "$BENCH_ROOT/config/${file##*/}"
          fi
        done
        ;;
      *) ln -s "$entry" "$BENCH_ROOT/$base" ;;
    esac
  done
}

# bench_admission on|off: the private root's config/order.yaml (call after bench_root, before bench_up):
# "on" the checkout's as shipped (a link); "off" a copy whose admission limits never refuse
# (admission.min_backlog = max_backlog = 100000000: the backlog gauge still runs) — the order flow's
# own capacity, with every order of a burst accepted (ADR 0018; section 12 of docs/benchmarks.md
# measures admission itself).
bench_admission() {
  rm -f "$BENCH_ROOT/config/order.yaml"
  case "$1" in
    on) ln -s "$MERCATO_ROOT/config/order.yaml" "$BENCH_ROOT/config/order.yaml" ;;
    off)
      sed -e 's/^\(  min_backlog:\) *[0-9]*/\1 100000000/' -e 's/^\(  max_backlog:\) *[0-9]*/\1 100000000/' \
        "$MERCATO_ROOT/config/order.yaml" >"$BENCH_ROOT/config/order.yaml"
      grep -q '^  max_backlog: 100000000' "$BENCH_ROOT/config/order.yaml" ||
        die "config/order.yaml has no admission.max_backlog to raise"
      ;;
    *) die "bench_admission: on or off, not '$1'" ;;
  esac
}

# bench_policy_without_client_limits FILE: the policy FILE without its top-level rateLimits section (up
# to the next top-level key); comments say what was removed. A service's own rateLimit (virtualServices)
# is a capacity guard of that service, not a per-client limit, and stays.
bench_policy_without_client_limits() {
  echo "# bench/lib.sh: ${1#"$MERCATO_ROOT"/} without its rateLimits section (per-client limits; see bench/lib.sh)"
  awk '/^rateLimits:/ { skip = 1; print "# (rateLimits removed for the benchmark)"; next }
       skip && /^[^[:space:]#]/ { skip = 0 }
       !skip' "$1"
}

# bench_up LOG VAR=VALUE...: starts the whole system with the extra environment given (e.g.
# MERCATO_SAGA_MODE=choreography, MERCATO_ORDER_DATABASE_URL=...) on a fresh var/ and waits until the
# supervisor says "supervising" (it does once every process answers 200 on /health/ready) and the
# gateway answers ready. Sets BENCH_UP_PID, BENCH_GATEWAY (127.0.0.1:port), BENCH_UP_CMD (for the
# report), BENCH_UP_READY_MS and BENCH_CHECK_CMD (./mercato check against this system).
bench_up() {
  local log="$1" name t0 deadline
  shift
  local -a env_up=() taken=()
  bench_root
  rm -rf "${BENCH_ROOT:?}/var"
  mkdir -p "$BENCH_ROOT/var"
  for name in $(service_names) gateway nats nats_http etcd etcd_peer; do
    local port
    port="$(free_port "${taken[@]}")"
    taken+=("$port")
    env_up+=("MERCATO_${name^^}_PORT=$port")
    [[ "$name" == gateway ]] && BENCH_GATEWAY="127.0.0.1:$port"
  done
  env_up+=("MERCATO_VAR_DIR=$BENCH_ROOT/var" "$@")
  # What the caller's environment says about storage and saga mode does not leak in: only VAR=VALUE given.
  local -a unset_env=(-u MERCATO_SAGA_MODE -u MERCATO_ORDER_TRANSPORT)
  for name in $(service_names); do unset_env+=(-u "MERCATO_${name^^}_DATABASE_URL"); done
  BENCH_UP_LOG="$log"
  BENCH_UP_CMD="$(bench_show "${env_up[*]} $BENCH_ROOT/mercato up --no-build ${BENCH_UP_ARGS[*]}")"
  t0="$(now_ms)"
  "${PROC_LAUNCHER[@]}" env "${unset_env[@]}" "${env_up[@]}" "$BENCH_ROOT/mercato" up --no-build "${BENCH_UP_ARGS[@]}" >"$log" 2>&1 </dev/null &
  BENCH_UP_PID=$!
  BENCH_PIDS+=("$BENCH_UP_PID")
  deadline=$((t0 + 120000))
  until grep -q 'supervising (pid' "$log" 2>/dev/null; do
    if ! proc_alive "$BENCH_UP_PID" || (($(now_ms) >= deadline)); then
      tail -n 30 "$log" >&2 || true
      die "./mercato up did not get every process ready (log: $log)"
    fi
    sleep 0.05
  done
  http_probe "http://$BENCH_GATEWAY/health/ready"
  [[ "$HTTP_PROBE_CODE" == 200 ]] || die "the gateway on $BENCH_GATEWAY is not ready ($HTTP_PROBE_CODE)"
  BENCH_UP_READY_MS=$(($(now_ms) - t0))
  # The checker logs in as this system's admin (var/secrets/admin-password): an operator's
  # MERCATO_ADMIN_TOKEN belongs to another system.
  BENCH_CHECK_CMD="env -u MERCATO_ADMIN_TOKEN MERCATO_VAR_DIR='$BENCH_ROOT/var' '$BENCH_ROOT/mercato' check"
}

# bench_rss_kib: the resident memory (KiB) of every process of the system started by bench_up (its
# var/run/<name>.pid files but the supervisor's), as "total name=KiB name=KiB ...".
bench_rss_kib() {
  local pid_file name pid rss total=0 parts=""
  for pid_file in "$BENCH_ROOT"/var/run/*.pid; do
    name="${pid_file##*/}"
    name="${name%.pid}"
    [[ "$name" == mercato ]] && continue
    pid=""
    { read -r pid <"$pid_file"; } 2>/dev/null || continue
    rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)"
    [[ -n "$rss" ]] || continue
    total=$((total + rss))
    parts+=" $name=$rss"
  done
  echo "$total$parts"
}

# bench_down: SIGTERM to the supervisor's PID (it stops its children, each by PID, and waits for them),
# up to 60 s for it to exit, then SIGKILL.
bench_down() {
  [[ -n "$BENCH_UP_PID" ]] || return 0
  local deadline
  kill -TERM "$BENCH_UP_PID" 2>/dev/null || true
  deadline=$(($(now_ms) + 60000))
  while proc_alive "$BENCH_UP_PID" && (($(now_ms) < deadline)); do sleep 0.1; done
  proc_stop 5 "$BENCH_UP_PID"
  bench_forget "$BENCH_UP_PID"
  BENCH_UP_PID=""
}

# ---------------------------------------------------------------------------------------------------
# Where the CPU goes during a run: every half second a sampler reads the CPU time (utime + stime from
# /proc/<pid>/stat) of every process of the system (var/run/<name>.pid: the broker, the services, the
# gateway), of the private PostgreSQL (the postmaster and its backends, summed), of mercato-load itself
# (not the checker it runs afterwards) and the whole machine's busy time (/proc/stat), into a file of
# "<ms> <name> <ticks>" lines. bench_cpu_summary turns the samples inside the measured window into CPU
# percentages (100% = one core); "others" is the machine's busy time that none of ours explains (other
# users of a shared machine). Bash builtins only, no process per sample but the sleep.

BENCH_CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# _bench_ticks PID: adds utime + stime of PID (clock ticks) to TICKS; nothing when it is gone.
_bench_ticks() {
  local line
  local -a f
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
  read -r -a f <<<"${line##*) }"
  TICKS=$((TICKS + f[11] + f[12]))
}

# _bench_cpu_sampler OUT LOAD_PARENT MAX_SAMPLES: the sampling loop (run in the background).
_bench_cpu_sampler() {
  local out="$1" parent="$2" max="$3" i name pid t kid
  local -a names=() kids=() cpu
  local -A pids=()
  for ((i = 0; i < max; i++)); do
    t="${EPOCHREALTIME/[.,]/}"
    t=$((t / 1000))
    if ((${#names[@]} == 0)); then
      for pid in "$BENCH_ROOT"/var/run/*.pid; do
        name="${pid##*/}"
        name="${name%.pid}"
        [[ "$name" == mercato ]] && continue
        { read -r "pids[$name]" <"$pid"; } 2>/dev/null || continue
        names+=("$name")
      done
    fi
    {
      for name in "${names[@]}"; do
        TICKS=0
        _bench_ticks "${pids[$name]}"
        echo "$t $name $TICKS"
      done
      if [[ -n "$BENCH_PG_PID" ]]; then
        TICKS=0
        _bench_ticks "$BENCH_PG_PID"
        kids=()
        { read -r -a kids <"/proc/$BENCH_PG_PID/task/$BENCH_PG_PID/children"; } 2>/dev/null || true
        for kid in "${kids[@]}"; do _bench_ticks "$kid"; done
        echo "$t postgres $TICKS"
      fi
      kids=()
      { read -r -a kids <"/proc/$parent/task/$parent/children"; } 2>/dev/null || true
      if ((${#kids[@]})); then
        TICKS=0
        _bench_ticks "${kids[0]}"
        echo "$t mercato-load $TICKS"
      fi
      cpu=()
      { read -r -a cpu </proc/stat; } 2>/dev/null || true
      # cpu user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
      ((${#cpu[@]} > 8)) && echo "$t machine $((cpu[1] + cpu[2] + cpu[3] + cpu[6] + cpu[7] + cpu[8]))"
    } >>"$out"
    sleep 0.5
  done
}

# bench_cpu_start OUT LOAD_PARENT_PID MAX_SECONDS: starts the sampler (recorded in BENCH_PIDS).
bench_cpu_start() {
  _bench_cpu_sampler "$1" "$2" "$3" </dev/null >/dev/null 2>&1 &
  BENCH_CPU_PID=$!
  BENCH_PIDS+=("$BENCH_CPU_PID")
}

# bench_cpu_stop: stops the sampler by its PID.
bench_cpu_stop() {
  [[ -n "${BENCH_CPU_PID:-}" ]] || return 0
  proc_stop 5 "$BENCH_CPU_PID"
  bench_forget "$BENCH_CPU_PID"
  BENCH_CPU_PID=""
}

# bench_cpu_summary FILE FROM_MS TO_MS: "name N%, ..." for the window (busiest first), then "others
# N%" and "machine N% of M%"; nothing when the window holds fewer than two samples.
bench_cpu_summary() {
  [[ -s "$1" ]] || return 0
  awk -v from="$2" -v to="$3" -v hz="$BENCH_CLK_TCK" -v cores="$(nproc)" '
    $1 >= from && $1 <= to {
      if (!($2 in t0)) { t0[$2] = $1; v0[$2] = $3 }
      t1[$2] = $1; v1[$2] = $3
    }
    END {
      for (n in t0) if (t1[n] > t0[n]) pct[n] = (v1[n] - v0[n]) / hz / ((t1[n] - t0[n]) / 1000) * 100
      if (!("machine" in pct)) exit
      ours = 0
      for (n in pct) if (n != "machine") { ours += pct[n]; line[n] = sprintf("%s %.0f%%", n, pct[n]) }
      k = 0
      for (n in line) names[++k] = n
      for (i = 2; i <= k; i++) for (j = i; j > 1 && pct[names[j - 1]] < pct[names[j]]; j--) { x = names[j]; names[j] = names[j - 1]; names[j - 1] = x }
      out = ""
      for (i = 1; i <= k; i++) out = out (i > 1 ? ", " : "") line[names[i]]
      o = pct["machine"] - ours; if (o < 0) o = 0
      printf "%s, others %.0f%% (machine busy %.0f%% of %d%%)\n", out, o, pct["machine"], cores * 100
    }' "$1"
}

# ---------------------------------------------------------------------------------------------------
# The load generator

BENCH_LOAD_BIN="${MERCATO_BUILD_DIR}/tools/load/mercato-load"

# bench_load_ensure: builds mercato-load when it is missing (one build at a time on this machine).
bench_load_ensure() {
  [[ -x "$BENCH_LOAD_BIN" ]] && return 0
  log_info "building mercato-load"
  flock /tmp/mercato-build.lock cmake --build "$MERCATO_BUILD_DIR" --target mercato-load >&2 ||
    die "could not build mercato-load"
}

# bench_prepare: what every benchmark of the whole system needs first: the core and bench packages, the
# build (unless BENCH_BUILD=0) and mercato-load.
bench_prepare() {
  deps_ensure core bench
  if [[ "${BENCH_BUILD:-1}" == 1 ]]; then
    build_project
  fi
  bench_load_ensure
}

# bench_load NAME BOUND_SECONDS ARGS...: runs mercato-load against the system started by bench_up with
# ARGS, its JSON into $RESULTS/NAME.json and its output (summary, progress, checker report) into
# $RESULTS/NAME.log; the checker runs against the same system. Like any run of it, mercato-load stocks
# the products as that system's admin (it logs in with the password ./mercato up wrote to its
# var/secrets/admin-password) and registers and logs in its customers, whose tokens place and read the
# orders (tools/load/main.cpp); its setup, not measured, is not throttled (bench_root's policy). CPU samples go to $RESULTS/NAME.cpu.
# Bounded: SIGINT after BOUND_SECONDS (mercato-load then stops, summarises and writes its JSON),
# SIGKILL 30 s later. Sets LOAD_STATUS (its exit status), LOAD_CMD (the command, for the report) and
# LOAD_CPU (bench_cpu_summary of the measured window: from the end of the setup to the last answer).
# Never fails: the JSON says what happened.
bench_load() {
  local name="$1" bound="$2" t0 tpid from to
  shift 2
  local -a cmd=("$BENCH_LOAD_BIN" --gateway "$BENCH_GATEWAY" --no-progress --json "$RESULTS/$name.json"
    --admin-password-file "$BENCH_ROOT/var/secrets/admin-password" --check-command "$BENCH_CHECK_CMD" "$@")
  LOAD_CMD="mercato-load --gateway \$GATEWAY --admin-password-file \$TMP/root/var/secrets/admin-password $* --json $name.json"
  rm -f "$RESULTS/$name.json" "$RESULTS/$name.cpu"
  LOAD_STATUS=0
  t0="$(now_ms)"
  timeout -s INT --kill-after=30 "$bound" "${cmd[@]}" >"$RESULTS/$name.log" 2>&1 </dev/null &
  tpid=$!
  BENCH_PIDS+=("$tpid")
  bench_cpu_start "$RESULTS/$name.cpu" "$tpid" $((2 * bound + 80))
  wait "$tpid" || LOAD_STATUS=$?
  bench_forget "$tpid"
  bench_cpu_stop
  LOAD_CPU=""
  if [[ -s "$RESULTS/$name.json" ]]; then
    # The window: from the end of the setup for as long as the run sent (elapsed_s) or, when longer, as
    # its orders took to confirm (confirmed / confirmed_per_second: first placement .. last confirmation).
    read -r from to < <(jq -r --argjson t0 "$t0" '
      (.setup.seconds // 0) as $setup
      | ([.elapsed_s // 0, (if (.orders.confirmed_per_second // 0) > 0
                             then .orders.confirmed / .orders.confirmed_per_second else 0 end)] | max) as $span
      | [$t0 + $setup * 1000, $t0 + ($setup + $span) * 1000] | map(floor) | @tsv' \
      "$RESULTS/$name.json" 2>/dev/null || echo "0 0")
    LOAD_CPU="$(bench_cpu_summary "$RESULTS/$name.cpu" "$from" "$to")"
  fi
  return 0
}

# bench_json NAME JQ_FILTER: the filter applied to $RESULTS/NAME.json ("–" when there is none).
bench_json() {
  if [[ -s "$RESULTS/$1.json" ]]; then
    jq -r "$2 // \"–\"" "$RESULTS/$1.json" 2>/dev/null || echo "–"
  else
    echo "–"
  fi
}

# bench_ms MICROSECONDS: as milliseconds, with a precision that suits the size ("–" passes through).
bench_ms() {
  awk -v u="$1" 'BEGIN {
    if (u == "–" || u == "" || u == "null") { print "–"; exit }
    m = u / 1000
    if (m < 10) printf "%.2f\n", m; else if (m < 100) printf "%.1f\n", m; else printf "%.0f\n", m }'
}
