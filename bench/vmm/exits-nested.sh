#!/usr/bin/env bash
# bench/vmm/run.sh's start and exit-rate figures where KVM exists on this host: inside the nested
# test host (tests/linux/linux-test.sh, scenario "exitbench"). QEMU's emulator (TCG) runs L1; in
# L1, vmm_bench (bench_vmm.c) boots the project's test guest under stratus-vmm, QEMU -M pc (qboot)
# and QEMU -M microvm (start time), and runs its exit loops (port I/O, MMIO, virtio notify) under
# stratus-vmm and QEMU -M pc, one after the other in the same L1.
#
#   bench/vmm/exits-nested.sh [BUILD_DIR] [RUNS] [LOOPS]
#   (a Release or RelWithDebInfo build; RUNS boots per VMM for the start time, default 3, and the
#   exit rates are the best of min(RUNS, 3) runs each; LOOPS writes per loop, default 20000:
#   a rate, so fewer than the host's 200000 suffice; STRATUS_EXITBENCH_STRACE=1 adds strace -c -f
#   of one more, untimed run of each loop under each VMM)
# Not run here: the memory, virtio-blk and virtio-net (network namespace) sections of run.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
runs=${2:-3}
loops=${3:-20000}
strace=${STRATUS_EXITBENCH_STRACE:-0}
cmake --build "$build" --target stratus-vmm stratus_test_guest stratus-linux-overlay vmm_bench >/dev/null
tools=$build/bench/vmm/vmm_bench
[ "$strace" = 1 ] && tools="$tools $(command -v strace)"
out=$(STRATUS_BUILD_DIR=$build STRATUS_LINUX_TIMEOUT=${STRATUS_LINUX_TIMEOUT:-900} \
  STRATUS_LINUX_TOOLS="$tools" STRATUS_LINUX_ARGS="eb_runs=$runs eb_loops=$loops eb_strace=$strace" \
  bash "$top/tests/linux/linux-test.sh" exitbench 2>&1) || true
if ! printf '%s\n' "$out" | grep -q 'L1-BENCH exits| exits per second'; then
  printf '%s\n' "$out"; echo "exits-nested: no figures (see above)" >&2; exit 1
fi
echo "stratus-vmm beside QEMU $(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') -enable-kvm, the same guests, in one L1 run."
echo "MEASURED UNDER EMULATION: L1 runs on QEMU's TCG with one CPU, so every exit and both VMMs are"
echo "emulated; absolute figures are far below real hardware and only ratios within this run mean anything."
printf '%s\n' "$out" | sed -n 's/.*L1-BENCH exits| //p'
if printf '%s\n' "$out" | grep -q 'L1-BENCH strace'; then
  echo
  echo "strace -c -f of one more, untimed run of each loop (0 port I/O, 1 MMIO, 2 notify; $loops writes):"
  echo "the syscalls that scale with the writes, and the total"
  printf '%s\n' "$out" | sed -n 's/.*L1-BENCH strace //p' |
    grep -E '(ioctl|read|ppoll|epoll_wait|futex|total)$' || true
fi
printf '%s\n' "$out" | grep -E 'L1-RESULT .* FAIL|L2\|' || true
