#!/usr/bin/env bash
# Time to program PORTS taps and REMOTES remote MACs (FDB + neighbours) and
# their nftables, with libstratus_net beside ip/bridge/nft batches. Root.
#
#   bench/network/run.sh [BUILD_DIR] [PORTS] [REMOTES] [NETWORKS]
#
# The others here: run-port.sh (a port through the whole cloud: set-up time
# to the first DHCP answer, guest throughput) and run-rules.sh (per-packet
# rule cost at 1,000 ports). Figures: network/README.md "Benchmark".
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-network}
if [ ! -x "$build/bench/network/bench_network" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTRATUS_ONLY=network >/dev/null
fi
cmake --build "$build" -j2 --target bench_network >/dev/null
"$build/bench/network/bench_network" "${2:-1000}" "${3:-10000}" "${4:-10}"
