#!/usr/bin/env bash
# The per-packet cost of the host's nftables at scale (bench_netrules.c):
# one flow with only its two ports' rules, beside the same flow with PORTS
# ports and their security groups, beside no tables at all. Root.
#
#   bench/network/run-rules.sh [BUILD_DIR] [PORTS] [ROUNDS] [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-network}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATUS_ONLY=network >/dev/null
fi
cmake --build "$build" -j2 --target bench_netrules >/dev/null
"$build/bench/network/bench_netrules" "${2:-1000}" "${3:-5}" "${4:-3}"
