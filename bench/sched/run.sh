#!/usr/bin/env bash
# Spread, pack and pack + consolidation over a simulated day, then spread with and
# without the rebalancing plan (see bench_sched.c).
#   bench/sched/run.sh [BUILD_DIR] [DAYS] [SEED]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
cmake --build "$build" --target bench_sched >/dev/null
exec "$build/bench/sched/bench_sched" "${2:-1}" "${3:-1}"
