#!/bin/bash
# The PostgreSQL image's entry point: at first start (an empty PGDATA), initdb with the password in
# POSTGRES_PASSWORD (or the file POSTGRES_PASSWORD_FILE names) for the user "mercato", then one database
# per name in POSTGRES_DATABASES (space-separated); then runs the server in the foreground. The socket
# goes to /tmp, so the root file system can be read-only.
set -euo pipefail
: "${PGDATA:?}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  password="${POSTGRES_PASSWORD:-}"
  [[ -z "${POSTGRES_PASSWORD_FILE:-}" ]] || password="$(cat "$POSTGRES_PASSWORD_FILE")"
  [[ -n "$password" ]] || { echo "postgres: POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required" >&2; exit 2; }
  pwfile="$(mktemp)"
  printf '%s' "$password" >"$pwfile"
  initdb -D "$PGDATA" -U mercato --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /tmp" -w start >/dev/null
  for db in ${POSTGRES_DATABASES:-}; do
    createdb -h /tmp -U mercato "$db"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -k /tmp
