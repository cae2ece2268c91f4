#!/bin/bash
# Entrypoint for slipway-local/postgres:17, a small re-implementation of the official image's contract:
# on first start initdb into $PGDATA (superuser $POSTGRES_USER with $POSTGRES_PASSWORD or the contents of
# $POSTGRES_PASSWORD_FILE), create $POSTGRES_DB, run /docker-entrypoint-initdb.d, then exec postgres as
# PID 1 so SIGINT/SIGTERM reach it directly. Started as root, it fixes ownership and drops to postgres.
set -euo pipefail

log() { echo "docker-entrypoint: $*" >&2; }

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" != 'postgres' ]; then
  exec "$@"
fi

if [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  [ -z "${POSTGRES_PASSWORD:-}" ] || { log "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, not both"; exit 1; }
  POSTGRES_PASSWORD="$(< "$POSTGRES_PASSWORD_FILE")"
fi
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != 'trust' ]; then
    log "database is uninitialized and no superuser password is set:"
    log "pass -e POSTGRES_PASSWORD=... (or POSTGRES_PASSWORD_FILE, or POSTGRES_HOST_AUTH_METHOD=trust)"
    exit 1
  fi
  host_auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  log "initdb into $PGDATA (superuser $POSTGRES_USER)"
  # shellcheck disable=SC2086
  initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host="$host_auth" ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "$host_auth" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A socket-only server for setup, so nobody can connect over TCP before it is ready.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >&2
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres)
  if [ "$POSTGRES_DB" != 'postgres' ]; then
    "${psql[@]}" --set db="$POSTGRES_DB" >&2 <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090
    case "$f" in
      *.sh) log "running $f"; . "$f" ;;
      *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" >&2 ;;
      *) [ ! -e "$f" ] || log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  unset pwfile
  log "init complete; ready for start up"
fi

exec "$@"
