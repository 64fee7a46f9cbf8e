#!/usr/bin/env bash
# stratus-vmm beside QEMU, same guest, same run (see bench_vmm.c for what is measured).
#   bench/vmm/run.sh [BUILD_DIR] [runs]      (needs /dev/kvm and qemu-system-x86)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
runs=${2:-10}
cmake --build "$build" --target stratus-vmm stratus_test_guest vmm_bench >/dev/null
exec "$build/bench/vmm/vmm_bench" "$build/compute-node/vmm/stratus-vmm" \
     "$build/tests/guest/guest.elf" "$runs"
