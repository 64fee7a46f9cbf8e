#!/usr/bin/env bash
# ctest fixture: a fresh private PostgreSQL for one test run.
#   pg-fixture.sh start DIR   wipe DIR, create and start a cluster there
#   pg-fixture.sh stop DIR    stop it and remove DIR
# Test programs find it through STRATUS_TEST_PGHOST=DIR/socket and each make
# a database of their own in it (tests/lib/st_pg.c).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pg="$here/../../deploy/pg.sh"
cmd=$1 dir=$2
case "$cmd" in
  start)
    "$pg" stop "$dir" 2>/dev/null || true
    rm -rf "$dir"
    # Tests are throwaway: no fsync, so the suite measures our code, not the disk.
    PG_SOCKET_SHARED=1 PG_FSYNC=off PG_SYNC_COMMIT=off PG_MAX_CONNECTIONS=300 "$pg" start "$dir"
    echo "postgres up at $dir/socket"
    ;;
  stop)
    "$pg" stop "$dir"
    rm -rf "$dir"
    ;;
esac
