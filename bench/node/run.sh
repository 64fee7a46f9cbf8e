#!/usr/bin/env bash
# Instances per second end to end on one host, with the launch path in
# parts, beside stratus-vmm alone and QEMU alone on the same guest.
#
#   bench/node/run.sh [BUILD_DIR] [N] [CLIENTS]
#
# BUILD_DIR (default build-node) is configured if it does not exist. A
# private PostgreSQL (deploy/pg.sh, fsync on as in production) is started
# for the run.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-node}
n=${2:-100}
clients=${3:-4}
if [ ! -x "$build/bench/node/bench_node" ]; then
  cmake -S "$top" -B "$build" >/dev/null
fi
cmake --build "$build" -j2 --target bench_node stratus-node stratus-vmm stratus-gateway \
  stratus-images stratus-billing stratus_test_guest >/dev/null
pg=$(mktemp -d /tmp/stratus-bench-node-pg.XXXXXX)
chmod 755 "$pg"
cleanup() { "$top/deploy/pg.sh" stop "$pg" >/dev/null 2>&1 || true; rm -rf "$pg"; }
trap cleanup EXIT
PG_SOCKET_SHARED=1 PG_MAX_CONNECTIONS=300 "$top/deploy/pg.sh" start "$pg" >/dev/null
STRATUS_TEST_PGHOST="$pg/socket" STRATUS_BUILD_DIR="$build" STRATUS_SOURCE_DIR="$top" \
  "$build/bench/node/bench_node" "$n" "$clients"
