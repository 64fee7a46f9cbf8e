#!/usr/bin/env bash
# stratus-billing ingest beside PostgreSQL COPY of the same rows, and one
# tenant's monthly invoice with 1,000 instances (see bench_billing.c).
#
#   bench/billing/run.sh [BUILD_DIR] [SAMPLES] [INSTANCES] [PER_BATCH] [STREAMS] [CADENCE_S]
#
# BUILD_DIR (default build-billing-bench) is configured Release without
# sanitizers. A private PostgreSQL (deploy/pg.sh, its default settings:
# fsync and synchronous_commit on) is started under /tmp and removed after.
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
PG_SOCKET_SHARED=1 "$top/deploy/pg.sh" start "$work/pg" >/dev/null
"$build/bench/billing/bench_billing" "$("$top/deploy/pg.sh" url "$work/pg")" \
  "$build/billing/stratus-billing" "$@"
