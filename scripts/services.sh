# shellcheck shell=bash disable=SC2034  # used by scripts/lib.sh and the scripts that source it
# The service registry: the one place that lists Mercato's processes. Sourced by scripts/lib.sh.
#
# One line per domain service: name, default port, gateway route, storage, calls.
#   name     binary build/services/<name>/mercato-<name>, config config/<name>.yaml, data var/<name>/,
#            log var/log/<name>.log; port overridable with MERCATO_<NAME>_PORT (e.g. MERCATO_USER_PORT).
#   route    /api/<route>/... on the gateway goes to this service (gateway.services.<route>.upstream);
#            several routes are comma-separated (the user service also serves /api/auth/...).
#   storage  sqlite: gets APP_DATABASE__PATH=var/<name>/<name>.db;  none: no database.
#   calls    services it calls directly ("-" for none), comma-separated (every service calls the user
#            service for the keys that verify tokens and for its own token): each gets
#            APP_UPSTREAMS__<OTHER>=127.0.0.1:<port of other> (e.g. APP_UPSTREAMS__USER for order).
# A service whose binary has not been built yet is skipped, so future services can be listed already.
MERCATO_SERVICES=(
  # name        port  route          storage  calls
  "user         8081  users,auth     sqlite   -"
  "order        8082  orders         sqlite   user,inventory"
  "payment      8083  payments       sqlite   user"
  "inventory    8084  inventory      sqlite   user"
  "shipping     8085  shipments      sqlite   user"
  "notification 8086  notifications  sqlite   user"
)

# The gateway is started last, with one upstream per running service; port: MERCATO_GATEWAY_PORT.
MERCATO_GATEWAY_NAME=gateway
MERCATO_GATEWAY_DEFAULT_PORT=8080
