# shellcheck shell=bash
# `./mercato deps [GROUP...]`: installs the Debian packages of scripts/packages.txt that are missing.
# Checks with dpkg-query first, so it is a quick no-op when everything is there; otherwise runs
# `apt-get update` once and installs only the missing packages (through sudo when not root).
# MERCATO_SKIP_DEPS=1 skips the whole step (for machines managed some other way).

MERCATO_PACKAGES_FILE="${MERCATO_ROOT}/scripts/packages.txt"
_deps_apt_updated=0

# deps_groups: the group names declared in packages.txt.
deps_groups() {
  sed -n 's/^[[:space:]]*\[\([A-Za-z0-9_-]*\)\][[:space:]]*$/\1/p' "$MERCATO_PACKAGES_FILE"
}

# deps_check_groups GROUP...: dies unless every GROUP is declared in packages.txt (or is "all").
# Called in the main shell: a `die` inside a process substitution would not stop the script.
deps_check_groups() {
  local group
  for group in "$@"; do
    [[ "$group" == all ]] && continue
    deps_groups | grep -qx -- "$group" ||
      die "no package group [$group] in scripts/packages.txt (groups: $(deps_groups | tr '\n' ' '))"
  done
}

# deps_packages GROUP...: the packages of the given groups ("all" = every group), one per line.
deps_packages() {
  local -a groups=("$@")
  if [[ " ${groups[*]} " == *" all "* ]]; then
    mapfile -t groups < <(deps_groups)
  fi
  awk -v want=" ${groups[*]} " '
    { sub(/#.*/, ""); gsub(/^[ \t]+|[ \t]+$/, "") }
    $0 == "" { next }
    /^\[.*\]$/ { group = substr($0, 2, length($0) - 2); next }
    index(want, " " group " ") { print }
  ' "$MERCATO_PACKAGES_FILE" | awk '!seen[$0]++'
}

# deps_missing PACKAGE...: those of the given packages that are not installed.
deps_missing() {
  (($#)) || return 0
  local -A installed=()
  local pkg status
  while read -r pkg status; do
    [[ "$status" == ii* ]] && installed["$pkg"]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null || true)
  for pkg in "$@"; do
    [[ -n "${installed[$pkg]:-}" ]] || echo "$pkg"
  done
}

# deps_ensure [GROUP...]: installs what is missing from the groups (default: core).
deps_ensure() {
  if [[ "${MERCATO_SKIP_DEPS:-0}" == 1 ]]; then
    return 0
  fi
  (($#)) || set -- core
  deps_check_groups "$@"
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script installs Debian packages; set MERCATO_SKIP_DEPS=1 and install the packages of scripts/packages.txt yourself"
  local -a packages missing sudo_cmd=()
  mapfile -t packages < <(deps_packages "$@")
  mapfile -t missing < <(deps_missing "${packages[@]}")
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}) and not root, and sudo is not installed"
    sudo_cmd=(sudo)
  fi
  log_info "installing ${#missing[@]} Debian package(s): ${missing[*]}"
  if ((!_deps_apt_updated)); then
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    _deps_apt_updated=1
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  mapfile -t missing < <(deps_missing "${missing[@]}")
  ((${#missing[@]} == 0)) || die "still not installed after apt-get: ${missing[*]}"
}

# deps_npm: the front-end files the gateway serves (package.json: the Swagger UI) and the tools that check
# deploy/k8s (kubernetes-models, @kubernetes-models/istio, yaml: scripts/k8s.sh), installed with
# `npm ci` from package-lock.json into node_modules/ when missing or out of date. npm comes from Debian
# when the machine has none.
deps_npm() {
  if [[ "${MERCATO_SKIP_DEPS:-0}" == 1 ]]; then
    return 0
  fi
  local stamp="${MERCATO_ROOT}/node_modules/.package-lock.json"
  if [[ -f "$stamp" && "$stamp" -nt "${MERCATO_ROOT}/package-lock.json" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    local -a sudo_cmd=()
    ((EUID == 0)) || sudo_cmd=(sudo)
    log_info "installing Debian package npm (for the Swagger UI files)"
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm
  fi
  log_info "npm ci (Swagger UI for the gateway's /docs)"
  (cd "$MERCATO_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
}

cmd_deps() {
  case "${1:-}" in
    -h | --help)
      echo "usage: ./mercato deps [GROUP...]   groups: $(deps_groups | tr '\n' ' ')(default core; all = every group)"
      return 0
      ;;
  esac
  (($#)) || set -- core
  deps_check_groups "$@"
  if [[ "${MERCATO_SKIP_DEPS:-0}" == 1 ]]; then
    log_info "MERCATO_SKIP_DEPS=1: not checking Debian packages"
    return 0
  fi
  deps_ensure "$@"
  deps_npm
  local -a packages
  mapfile -t packages < <(deps_packages "$@")
  log_info "all ${#packages[@]} Debian packages of group(s) $* are installed"
}
