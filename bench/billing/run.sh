#!/usr/bin/env bash
# stratus-billing ingest beside PostgreSQL COPY of the same rows, and one
# tenant's monthly invoice with 1,000 instances (see bench_billing.c).
#
#   bench/billing/run.sh [BUILD_DIR] [SAMPLES] [INSTANCES] [PER_BATCH] [STREAMS] [CADENCE_S]
#
# BUILD_DIR (default build-billing-bench) is configured Release without
# sanitizers. A private PostgreSQL (deploy/pg.sh, its default settings:
# fsync and synchronous_commit on) is started under /tmp and removed after.
# BENCH_PGSS=1 loads pg_stat_statements and prints, after the run, the
# statements by total execution time (where a batch's time goes).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-billing-bench}
shift || true
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATUS_ONLY=billing >/dev/null
cmake --build "$build" -j2 --target stratus-billing bench_billing >/dev/null
work=$(mktemp -d /tmp/stratus-bench-billing-pg.XXXXXX)
chmod 755 "$work" # the postgres user must reach the cluster under it
cleanup() {
  "$top/deploy/pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/pg"
PG_SOCKET_SHARED=1 "$top/deploy/pg.sh" init "$work/pg"
if [ "${BENCH_PGSS:-0}" = 1 ]; then
  printf "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n" \
    >>"$work/pg/data/postgresql.conf"
fi
PG_SOCKET_SHARED=1 "$top/deploy/pg.sh" start "$work/pg" >/dev/null
url=$("$top/deploy/pg.sh" url "$work/pg")
if [ "${BENCH_PGSS:-0}" = 1 ]; then
  psql=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)/psql
  "$psql" "$url" -qc "CREATE EXTENSION pg_stat_statements"
fi
"$build/bench/billing/bench_billing" "$url" "$build/billing/stratus-billing" "$@"
if [ "${BENCH_PGSS:-0}" = 1 ]; then
  "$psql" "$url" -c "SELECT calls, round(total_exec_time::numeric, 0) AS total_ms,
      round((total_exec_time / calls)::numeric, 3) AS mean_ms, rows,
      left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15"
fi
