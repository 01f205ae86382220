# shellcheck shell=bash
# `./mercato config get|set|edit|history|rollback`: live configuration in etcd (README "Live
# configuration"). Values live under /mercato/config/<service>/<key>; every running instance of the
# service watches its prefix, validates a change as it would its file, and applies or refuses it. What
# each instance made of a key is on its GET /config/live, which `get` and `set` read back.
# etcd: 127.0.0.1:MERCATO_ETCD_PORT (2379), or MERCATO_ETCD_ENDPOINT; Debian's etcdctl speaks to it.

CONFIG_PREFIX="/mercato/config"

config_etcd() { echo "${MERCATO_ETCD_ENDPOINT:-127.0.0.1:$(service_port etcd)}"; }

# config_etcdctl ARGS...: etcdctl against the configured etcd.
config_etcdctl() { ETCDCTL_API=3 etcdctl --endpoints "$(config_etcd)" --dial-timeout 2s --command-timeout 5s "$@"; }

config_key() {
  local service="$1" key="$2"
  [[ "$service" =~ ^[a-z][a-z0-9-]*$ ]] || die "config: '$service' is not a service name"
  [[ -z "$key" || "$key" =~ ^[a-z][a-z0-9_.-]*$ ]] || die "config: '$key' is not a setting name (e.g. log.level)"
  echo "${CONFIG_PREFIX}/${service}/${key}"
}

# config_instances SERVICE: "name port" of each running instance of SERVICE (var/run/ports of ./mercato up).
config_instances() {
  local name port _
  [[ -f "${MERCATO_RUN_DIR}/ports" ]] || return 0
  while read -r name port _; do
    [[ "$name" == "$1" || "$name" == "$1@"* ]] && echo "$name $port"
  done < <(grep -v '^#' "${MERCATO_RUN_DIR}/ports")
}

# config_report SERVICE KEY [VALUE]: each running instance's status of KEY ("applied", "refused: why", or
# "-" when it has none yet — for VALUE, when given).
config_report() {
  local service="$1" key="$2" expected="${3-}" check=false name port body line
  (($# >= 3)) && check=true
  while read -r name port; do
    body="$(curl -s --max-time 2 "http://127.0.0.1:${port}/config/live" 2>/dev/null)" || body=""
    if [[ -z "$body" ]]; then
      line="no answer (not running with discovery.mode etcd?)"
    else
      line="$(jq -r --arg k "$key" --arg v "$expected" --argjson check "$check" \
        '.keys[$k] | if . == null or ($check and .value != $v) then "-" elif .status == "applied" then "applied"
        else "refused: " + .error end' <<<"$body" 2>/dev/null || echo "unreadable answer")"
    fi
    printf '  %-16s %s\n' "$name" "$line"
  done < <(config_instances "$service")
}

# config_value_at KEY REVISION: the value KEY had at REVISION (empty output if none).
config_value_at() {
  config_etcdctl get "$1" --rev="$2" --print-value-only 2>/dev/null
}

cmd_config() {
  local sub="${1:-}"
  (($#)) && shift
  command -v etcdctl >/dev/null 2>&1 || die "etcdctl not found (./mercato deps installs etcd-client)"
  case "$sub" in
    get) config_get "$@" ;;
    set) config_set "$@" ;;
    edit) config_edit "$@" ;;
    history) config_history "$@" ;;
    rollback) config_rollback "$@" ;;
    *) die "usage: ./mercato config get SERVICE [KEY] | set SERVICE KEY VALUE|@FILE|- | edit SERVICE KEY | history SERVICE KEY | rollback SERVICE KEY [REVISION]" ;;
  esac
}

config_get() {
  (($# >= 1 && $# <= 2)) || die "usage: ./mercato config get SERVICE [KEY]"
  local service="$1" key="${2:-}" path keys k line
  path="$(config_key "$service" "$key")"
  if [[ -n "$key" ]]; then
    local value
    value="$(config_etcdctl get "$path" --print-value-only)" || die "config: cannot read etcd at $(config_etcd)"
    if [[ -z "$value" ]] && ! config_etcdctl get "$path" --keys-only | grep -q .; then
      echo "$service $key: not set in etcd (the file's value is in force)"
    else
      echo "$service $key ="
      while IFS= read -r line; do echo "  $line"; done <<<"$value"
    fi
    config_report "$service" "$key"
    return 0
  fi
  keys="$(config_etcdctl get "$path" --prefix --keys-only)" || die "config: cannot read etcd at $(config_etcd)"
  if [[ -z "$keys" ]]; then
    echo "$service: no live settings in etcd (the files' values are in force)"
    return 0
  fi
  while read -r k; do
    [[ -n "$k" ]] || continue
    echo "${k#"${CONFIG_PREFIX}/${service}/"} = $(config_etcdctl get "$k" --print-value-only | head -n 1)$(
      (($(config_etcdctl get "$k" --print-value-only | wc -l) > 1)) && echo " ...")"
    config_report "$service" "${k#"${CONFIG_PREFIX}/${service}/"}"
  done <<<"$keys"
}

config_set() {
  (($# == 3)) || die "usage: ./mercato config set SERVICE KEY VALUE   (VALUE @FILE reads a file, - reads stdin)"
  local service="$1" key="$2" value="$3" path
  path="$(config_key "$service" "$key")"
  case "$value" in
    -) value="$(cat)" ;;
    @*) [[ -r "${value#@}" ]] || die "config: cannot read ${value#@}"
        value="$(cat "${value#@}")" ;;
  esac
  config_etcdctl put "$path" -- "$value" >/dev/null || die "config: cannot write to etcd at $(config_etcd)"
  log_info "$service $key set in etcd; the running instances:"
  # Each instance applies or refuses within moments (its watch); report once every one has answered for
  # this value, at most 5 s.
  local deadline=$(($(now_ms) + 5000)) report pending
  while :; do
    report="$(config_report "$service" "$key" "$value")"
    pending=0
    grep -q ' -$' <<<"$report" && pending=1
    ((pending == 0)) || (($(now_ms) >= deadline)) && break
    sleep 0.1
  done
  [[ -n "$report" ]] && echo "$report"
  ! grep -q 'refused' <<<"$report" || die "refused by at least one instance: the last good value stays there"
}

config_edit() {
  (($# == 2)) || die "usage: ./mercato config edit SERVICE KEY"
  local service="$1" key="$2" file
  file="$(mktemp "/tmp/mercato-config-XXXXXX")"
  config_etcdctl get "$(config_key "$service" "$key")" --print-value-only >"$file" || { rm -f "$file"; die "config: cannot read etcd"; }
  "${EDITOR:-vi}" "$file"
  config_set "$service" "$key" "@$file"
  rm -f "$file"
}

# history: the key's versions, newest first, from etcd's revisions (until compaction removed them).
config_history() {
  (($# == 2)) || die "usage: ./mercato config history SERVICE KEY"
  local path json mod version created n=0 value
  path="$(config_key "$1" "$2")"
  json="$(config_etcdctl get "$path" -w json)" || die "config: cannot read etcd at $(config_etcd)"
  mod="$(jq -r '.kvs[0].mod_revision // empty' <<<"$json")"
  [[ -n "$mod" ]] || { echo "$1 $2: not set in etcd"; return 0; }
  created="$(jq -r '.kvs[0].create_revision' <<<"$json")"
  version="$(jq -r '.kvs[0].version' <<<"$json")"
  printf 'REVISION  VALUE (newest first; ./mercato config rollback %s %s REVISION)\n' "$1" "$2"
  while [[ -n "$mod" ]] && ((n < 20)); do
    value="$(config_value_at "$path" "$mod" | head -n 1)"
    printf '%-9s %s\n' "$mod" "$value"
    n=$((n + 1))
    ((mod > created)) || break
    json="$(config_etcdctl get "$path" --rev=$((mod - 1)) -w json 2>/dev/null)" || break
    mod="$(jq -r '.kvs[0].mod_revision // empty' <<<"$json")"
  done
  ((version > n)) && echo "... ($version versions in all)"
  return 0
}

config_rollback() {
  (($# >= 2 && $# <= 3)) || die "usage: ./mercato config rollback SERVICE KEY [REVISION]"
  local service="$1" key="$2" revision="${3:-}" path json mod value
  path="$(config_key "$service" "$key")"
  if [[ -z "$revision" ]]; then
    json="$(config_etcdctl get "$path" -w json)" || die "config: cannot read etcd at $(config_etcd)"
    mod="$(jq -r '.kvs[0].mod_revision // empty' <<<"$json")"
    [[ -n "$mod" && "$(jq -r '.kvs[0].version' <<<"$json")" -gt 1 ]] || die "config: $service $key has no earlier version"
    revision=$(jq -r '.kvs[0].mod_revision' <<<"$(config_etcdctl get "$path" --rev=$((mod - 1)) -w json)")
  fi
  [[ "$revision" =~ ^[0-9]+$ ]] || die "config: REVISION must be a number (see ./mercato config history)"
  value="$(config_value_at "$path" "$revision")"
  [[ -n "$value" ]] || die "config: $service $key had no value at revision $revision (or it was compacted)"
  log_info "rolling $service $key back to its value of revision $revision"
  config_set "$service" "$key" "$value"
}
