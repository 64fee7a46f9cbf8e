#!/usr/bin/env bash
# A private PostgreSQL cluster under a directory of the caller's choosing.
#
#   deploy/pg.sh init  DIR   create the cluster (DIR/data), if not there yet
#   deploy/pg.sh start DIR   start it (creating it first if needed)
#   deploy/pg.sh stop  DIR   stop it (fast shutdown)
#   deploy/pg.sh status DIR  exit 0 when it is running
#   deploy/pg.sh url   DIR   print the libpq connection string
#
# It listens on a unix socket in DIR/socket only (no TCP), trusts local
# connections (the socket directory is the access control: mode 0700 for
# a private cluster, 0777 when PG_SOCKET_SHARED=1 for tests run by root),
# and runs as the `postgres` user when invoked as root, since PostgreSQL
# refuses to run as root. The socket path must stay under 107 bytes, so
# prefer a short DIR (the test harness uses /tmp/stratus-test-pg-*).
set -euo pipefail
cmd=${1:?usage: pg.sh init|start|stop|status|url DIR}
dir=${2:?usage: pg.sh init|start|stop|status|url DIR}
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[ -x "$bindir/initdb" ] || { echo "pg.sh: no PostgreSQL binaries (install postgresql)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"
sock="$dir/socket"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    # runuser keeps the environment small; cd to / so postgres may read cwd.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

init() {
  [ -f "$data/PG_VERSION" ] && return 0
  mkdir -p "$data" "$sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir" "$data" "$sock"
    if ! runuser -u postgres -- test -x "$dir"; then
      echo "pg.sh: the postgres user cannot reach $dir; make its parent directories" \
           "traversable (chmod o+x) or choose another directory" >&2
      exit 1
    fi
  fi
  chmod 0700 "$data"
  if [ "${PG_SOCKET_SHARED:-0}" = 1 ]; then chmod 0777 "$sock"; else chmod 0700 "$sock"; fi
  as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$data/postgresql.conf" <<CONF
# Stratus private cluster: unix socket only.
listen_addresses = ''
unix_socket_directories = '$sock'
max_connections = ${PG_MAX_CONNECTIONS:-200}
shared_buffers = ${PG_SHARED_BUFFERS:-256MB}
fsync = ${PG_FSYNC:-on}
synchronous_commit = ${PG_SYNC_COMMIT:-on}
log_min_messages = warning
logging_collector = off
CONF
}

case "$cmd" in
  init) init ;;
  start)
    init
    if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then exit 0; fi
    # No secret may reach the server's log: errors are logged without their
    # DETAIL (a constraint violation's DETAIL is the whole rejected row, a
    # password hash included), without the statement and its parameters.
    # Given at every start, so clusters made before this hold to it too.
    as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 30 \
      -o "-c log_error_verbosity=terse -c log_min_error_statement=panic" \
      -o "-c log_parameter_max_length_on_error=0" start >/dev/null ||
      { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
    ;;
  stop)
    [ -f "$data/PG_VERSION" ] || exit 0
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  status) as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 ;;
  url) echo "host=$sock user=postgres dbname=${3:-postgres}" ;;
  *) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
