#!/usr/bin/env bash
# `stratus instance list` beside curl making the same call (bench_cli.c).
#
#   bench/sdk/run.sh [BUILD_DIR] [RUNS]
#
# BUILD_DIR (default build-sdk-bench) is configured Release without
# sanitizers; a private PostgreSQL (the tests' fixture) is started under
# /tmp and removed after.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-sdk-bench}
runs=${2:-100}
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DSTRATUS_ONLY="api-gateway;image-store;billing;sdk-c" >/dev/null
cmake --build "$build" -j2 --target bench_cli stratus-cli stratus-gateway stratus-images \
  stratus-billing >/dev/null
pg=$(mktemp -d /tmp/stratus-bench-sdk-pg.XXXXXX)
cleanup() {
  "$top/tests/harness/pg-fixture.sh" stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$pg"
}
trap cleanup EXIT
"$top/tests/harness/pg-fixture.sh" start "$pg" >/dev/null
STRATUS_TEST_PGHOST=$pg/socket STRATUS_BUILD_DIR=$build STRATUS_SOURCE_DIR=$top \
  "$build/bench/sdk/bench_cli" "$runs"
