#!/usr/bin/env bash
# The service descriptions (services/<name>/service.conf) are read the same way by the scripts
# (scripts/services.sh) and by the build (cmake/mercato_services.cmake):
#   - on the real checkout both readers give the same table, and it is the one ./mercato has always
#     used (six services in port order, the user service's two routes and its well-known path, ...);
#   - a bad description is refused by both, naming the file, and a value that looks like shell code is
#     refused without being run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d -t mercato-services-XXXXXX)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# The catalog as one line per process, "name kind port routes paths storage calls" ("-" for empty).
cat >"$work/table.cmake" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
include(${MODULE})
mercato_read_services()
foreach(s IN LISTS MERCATO_SERVICES)
  set(line "${s} ${MERCATO_SERVICE_${s}_KIND} ${MERCATO_SERVICE_${s}_PORT}")
  foreach(field ROUTES PATHS STORAGE CALLS)
    set(value "${MERCATO_SERVICE_${s}_${field}}")
    if(value STREQUAL "")
      set(value "-")
    endif()
    string(REPLACE ";" "," value "${value}")
    string(APPEND line " ${value}")
  endforeach()
  message("${line}")
endforeach()
CMAKE
cmake_table() { (cd "$1" && cmake -DMODULE="$root/cmake/mercato_services.cmake" -P "$work/table.cmake" 2>&1); }

bash_table() {
  MERCATO_ROOT="$1" bash -c '
    set -euo pipefail
    source "$MERCATO_ROOT/scripts/lib.sh"
    echo "$MERCATO_GATEWAY_NAME gateway $(service_port "$MERCATO_GATEWAY_NAME") - - none -"
    for name in $(service_names); do
      routes="$(service_route "$name")" paths="$(service_paths "$name")" calls="$(service_calls "$name")"
      echo "$name service $(service_port "$name") ${routes:--} ${paths:--} $(service_storage "$name") ${calls:--}"
    done' 2>&1
}

# --- the real checkout --------------------------------------------------------------------------------
unset "${!MERCATO_@}" 2>/dev/null || true # MERCATO_<NAME>_PORT from the caller would change the ports
from_cmake="$(cmake_table "$root")" || fail "cmake refused the checkout's descriptions: $from_cmake"
from_bash="$(bash_table "$root")" || fail "scripts/services.sh refused the checkout's descriptions: $from_bash"
[[ "$from_cmake" == "$from_bash" ]] ||
  fail "the build and the scripts read the descriptions differently:"$'\n'"cmake:"$'\n'"$from_cmake"$'\n'"bash:"$'\n'"$from_bash"
expected="gateway gateway 8080 - - none -
user service 8081 users,auth /.well-known/jwks.json sqlite -
order service 8082 orders - sqlite user,inventory
payment service 8083 payments - sqlite user
inventory service 8084 inventory - sqlite user
shipping service 8085 shipments - sqlite user
notification service 8086 notifications - sqlite user"
[[ "$from_bash" == "$expected" ]] || fail "the catalog is not what ./mercato relies on:"$'\n'"$from_bash"
echo "ok: both readers give the checkout's catalog"

# --- refusals -----------------------------------------------------------------------------------------
# describe DIR NAME LINES...: services/NAME/service.conf under DIR with LINES.
describe() {
  local dir="$1" name="$2"
  shift 2
  mkdir -p "$dir/services/$name"
  printf '%s\n' "$@" >"$dir/services/$name/service.conf"
}

# refused CASE EXPECTED_TEXT: both readers must refuse the checkout $work/CASE, naming EXPECTED_TEXT.
refused() {
  local dir="$work/$1" want="$2" out
  if out="$(bash_table "$dir")"; then fail "$1: scripts/services.sh accepted it"; fi
  [[ "$out" == *"$want"* ]] || fail "$1: scripts/services.sh said '$out', not '$want'"
  if out="$(cmake_table "$dir")"; then fail "$1: cmake accepted it"; fi
  out="$(tr -s ' \n' ' ' <<<"$out")" # CMake wraps its messages
  [[ "$out" == *"$want"* ]] || fail "$1: cmake said '$out', not '$want'"
  echo "ok: refused by both: $1"
}

base() { # the scripts, a valid gateway and user service; each case adds one mistake
  mkdir -p "$work/$1"
  cp -r "$root/scripts" "$work/$1/"
  describe "$work/$1" gateway name=gateway kind=gateway port=8080
  describe "$work/$1" user name=user kind=service port=8081 routes=users,auth paths=/.well-known/jwks.json storage=sqlite
}

base code
describe "$work/code" order name=order kind=service port=8082 "routes=\$(touch $work/pwned)"
refused code "services/order/service.conf"
[[ ! -e "$work/pwned" ]] || fail "a value was run as a command"
base code2
describe "$work/code2" order name=order kind=service 'port=8082;touch pwned2'
refused code2 "services/order/service.conf"
[[ ! -e "$work/code2/pwned2" && ! -e "$root/pwned2" ]] || fail "a value was run as a command"
base unknown_key
describe "$work/unknown_key" order name=order kind=service port=8082 colour=blue
refused unknown_key "unknown key 'colour'"
base twice
describe "$work/twice" order name=order kind=service port=8082 port=8083
refused twice "'port' is given twice"
base not_key_value
describe "$work/not_key_value" order name=order kind=service port=8082 "routes orders"
refused not_key_value "not a key=value line"
base wrong_dir
describe "$work/wrong_dir" order name=orders kind=service port=8082
refused wrong_dir "the directory is services/order"
base no_port
describe "$work/no_port" order name=order kind=service routes=orders
refused no_port "'port' is required"
base big_port
describe "$work/big_port" order name=order kind=service port=70000
refused big_port "port=70000 is not a port number"
base same_port
describe "$work/same_port" order name=order kind=service port=8081
refused same_port "port 8081 is also the port of"
base same_route
describe "$work/same_route" order name=order kind=service port=8082 routes=orders,auth
refused same_route "route 'auth' is also a route of"
base api_path
describe "$work/api_path" order name=order kind=service port=8082 routes=orders paths=/api/orders
refused api_path "path '/api/orders' is under /api"
base path_without_route
describe "$work/path_without_route" order name=order kind=service port=8082 paths=/.well-known/other
refused path_without_route "paths need a route"
base calls_unknown
describe "$work/calls_unknown" order name=order kind=service port=8082 routes=orders calls=user,billing
refused calls_unknown "'billing'"
base two_gateways
describe "$work/two_gateways" edge name=edge kind=gateway port=8079
refused two_gateways "the gateway already"
base gateway_routes
describe "$work/gateway_routes" gateway name=gateway kind=gateway port=8080 routes=api
refused gateway_routes "the gateway has no routes"
