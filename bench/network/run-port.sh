#!/usr/bin/env bash
# A port through the whole cloud (bench_netport.c): set-up time from the API
# call to the first DHCP answer, and guest-to-guest throughput on one host
# and across two over VXLAN, each beside its floor done by hand. Root.
#
#   bench/network/run-port.sh [BUILD_DIR] [ROUNDS] [POLL_MS...]   (lp<ms>: with the long-poll)
#
# BUILD_DIR (default build-network-bench) is configured Release without
# sanitizers; a private PostgreSQL (the tests' fixture) is started under
# /tmp and removed after.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-network-bench}
shift || true
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target bench_netport stratus-node stratus-vmm stratus-gateway \
  stratus-images stratus-billing stratus_test_guest >/dev/null
pg=$(mktemp -d /tmp/stratus-bench-net-pg.XXXXXX)
cleanup() {
  "$top/tests/harness/pg-fixture.sh" stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$pg"
}
trap cleanup EXIT
"$top/tests/harness/pg-fixture.sh" start "$pg" >/dev/null
STRATUS_TEST_PGHOST=$pg/socket STRATUS_BUILD_DIR=$build STRATUS_SOURCE_DIR=$top \
  "$build/bench/network/bench_netport" "$@"
