# shellcheck shell=bash disable=SC2034  # the catalog's variables are read by scripts/lib.sh
# The service catalog as the scripts see it: every process of Mercato is described once, in
# services/<name>/service.conf (docs/adding-a-service.md; why: docs/adr/0011-service-descriptions.md),
# and this file reads those descriptions. Sourced by scripts/lib.sh (after its messages, since a bad
# description stops every command with `die`); scripts ask through lib.sh's service_* functions.
#
# The files are data, never code: each line is a comment, blank, or key=value, and each value must match
# its key's pattern below, so a description cannot make a script run anything. The build reads the same
# files with the same rules (cmake/mercato_services.cmake).
#
# From a description's name follow by convention: the binary build/services/<name>/mercato-<name>, the
# config file config/<name>.yaml, the contract api/<name>.yaml, data var/<name>/, log var/log/<name>.log.

# The catalog, filled by services_load (names are the keys of the associative arrays):
MERCATO_SERVICE_NAMES=()            # the domain services (kind=service), in the order of their default ports
declare -gA MERCATO_SERVICE_PORT=() # name -> default port (every described process, the gateway too)
declare -gA MERCATO_SERVICE_ROUTES=() MERCATO_SERVICE_PATHS=() MERCATO_SERVICE_STORAGE=() MERCATO_SERVICE_CALLS=()
MERCATO_GATEWAY_NAME=""             # the description with kind=gateway

# What each key accepts (an absent optional key is empty; storage defaults to none):
#   name     the directory's name: lower-case letters and digits (it becomes MERCATO_<NAME>_PORT,
#            APP_UPSTREAMS__<NAME>, APP_GATEWAY__SERVICES__<NAME>__UPSTREAM)
#   kind     service (behind the gateway) or gateway (the one entry point)
#   port     the default port, 1-65535, distinct across descriptions
#   routes   comma-separated: /api/<route>/... on the gateway goes to this service as /<route>/...
#   paths    comma-separated exact paths outside /api/ the gateway forwards unchanged (well-known
#            locations such as /.well-known/jwks.json); they need a route (whose traffic policy they share)
#   storage  sqlite (./mercato up gives it APP_DATABASE__PATH=var/<name>/<name>.db) or none
#   calls    comma-separated services it calls directly (./mercato up gives it APP_UPSTREAMS__<OTHER>)
declare -gA _SERVICES_PATTERN=(
  [name]='^[a-z][a-z0-9]*$'
  [kind]='^(service|gateway)$'
  [port]='^[1-9][0-9]{0,4}$'
  [routes]='^([a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*)?$'
  [paths]='^(/[A-Za-z0-9._~/-]*(,/[A-Za-z0-9._~/-]*)*)?$'
  [storage]='^(sqlite|none)$'
  [calls]='^([a-z][a-z0-9]*(,[a-z][a-z0-9]*)*)?$'
)

# services_load ROOT: reads ROOT/services/*/service.conf into the catalog above; dies naming the file
# (and line) of the first problem. No description at all is an empty catalog, not an error (a checkout
# with scripts only, as tests/scripts/build_recovery_test.sh builds one).
services_load() {
  local root="$1" file dir line n key value name port other route path
  local -a by_port=() list=()
  local -A seen=() owner_of_route=() owner_of_path=()
  MERCATO_SERVICE_NAMES=()
  MERCATO_SERVICE_PORT=() MERCATO_SERVICE_ROUTES=() MERCATO_SERVICE_PATHS=() MERCATO_SERVICE_STORAGE=()
  MERCATO_SERVICE_CALLS=()
  MERCATO_GATEWAY_NAME=""
  for file in "$root"/services/*/service.conf; do
    [[ -f "$file" ]] || continue
    dir="${file%/service.conf}"
    dir="${dir##*/}"
    seen=()
    n=0
    while IFS= read -r line || [[ -n "$line" ]]; do
      n=$((n + 1))
      [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
      [[ "$line" =~ ^([a-z]+)=(.*)$ ]] || die "$file:$n: not a key=value line: $line"
      key="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
      [[ -v _SERVICES_PATTERN[$key] ]] ||
        die "$file:$n: unknown key '$key' (known: name, kind, port, routes, paths, storage, calls)"
      [[ ! -v seen[$key] ]] || die "$file:$n: '$key' is given twice"
      [[ "$value" =~ ${_SERVICES_PATTERN[$key]} ]] ||
        die "$file:$n: $key=$value does not match ${_SERVICES_PATTERN[$key]} (docs/adding-a-service.md)"
      seen[$key]="$value"
    done <"$file"
    for key in name kind port; do
      [[ -n "${seen[$key]:-}" ]] || die "$file: '$key' is required"
    done
    name="${seen[name]}"
    [[ "$name" == "$dir" ]] || die "$file: name=$name, but the directory is services/$dir (they must be the same)"
    port="${seen[port]}" # digits only (its pattern), so safe in arithmetic
    ((port <= 65535)) || die "$file: port=$port is not a port number"
    [[ -z "${by_port[port]:-}" ]] || die "$file: port $port is also the port of ${by_port[port]}"
    by_port[port]="$name"
    MERCATO_SERVICE_PORT[$name]="$port"
    if [[ "${seen[kind]}" == gateway ]]; then
      [[ -z "$MERCATO_GATEWAY_NAME" ]] || die "$file: $MERCATO_GATEWAY_NAME is the gateway already (one only)"
      [[ -z "${seen[routes]:-}${seen[paths]:-}${seen[calls]:-}" && "${seen[storage]:-none}" == none ]] ||
        die "$file: the gateway has no routes, paths, calls or storage of its own"
      MERCATO_GATEWAY_NAME="$name"
      continue
    fi
    [[ -n "${seen[routes]:-}" || -z "${seen[paths]:-}" ]] ||
      die "$file: paths need a route (the paths share its traffic policy)"
    IFS=, read -r -a list <<<"${seen[routes]:-}"
    for route in "${list[@]}"; do
      [[ -z "${owner_of_route[$route]:-}" ]] || die "$file: route '$route' is also a route of ${owner_of_route[$route]}"
      owner_of_route[$route]="$name"
    done
    IFS=, read -r -a list <<<"${seen[paths]:-}"
    for path in "${list[@]}"; do
      [[ "$path" != /api && "$path" != /api/* ]] || die "$file: path '$path' is under /api (that is what routes are for)"
      [[ -z "${owner_of_path[$path]:-}" ]] || die "$file: path '$path' is also a path of ${owner_of_path[$path]}"
      owner_of_path[$path]="$name"
    done
    MERCATO_SERVICE_ROUTES[$name]="${seen[routes]:-}"
    MERCATO_SERVICE_PATHS[$name]="${seen[paths]:-}"
    MERCATO_SERVICE_STORAGE[$name]="${seen[storage]:-none}"
    MERCATO_SERVICE_CALLS[$name]="${seen[calls]:-}"
  done
  # A sparse indexed array lists its indices in ascending order: the services by default port.
  for name in "${by_port[@]}"; do
    [[ "$name" == "$MERCATO_GATEWAY_NAME" ]] || MERCATO_SERVICE_NAMES+=("$name")
  done
  for name in "${MERCATO_SERVICE_NAMES[@]}"; do
    IFS=, read -r -a list <<<"${MERCATO_SERVICE_CALLS[$name]}"
    for other in "${list[@]}"; do
      [[ "$other" != "$name" && -v MERCATO_SERVICE_STORAGE[$other] ]] ||
        die "$root/services/$name/service.conf: calls=${MERCATO_SERVICE_CALLS[$name]}: '$other' is not another described service"
    done
  done
}
