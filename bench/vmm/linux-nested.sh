#!/usr/bin/env bash
# Real Linux's own drivers under stratus-vmm beside QEMU, both inside the nested test host the
# vmm_linux_* tests use (tests/linux/linux-test.sh, scenario "bench"): QEMU's emulator (TCG) runs
# L1, L1 runs the same L2 kernel and initramfs under QEMU -enable-kvm and then under stratus-vmm.
#
#   bench/vmm/linux-nested.sh [BUILD_DIR]     (a Release build: cmake -DCMAKE_BUILD_TYPE=Release)
#   (a Release VMM runs with its seccomp filter on, as in production; STRATUS_LINUX_SECCOMP=false
#   measures it off)
#
# Figures (MEASURED UNDER EMULATION: L1 is emulated by TCG, so only the ratio between the two
# columns means anything, and only within one run):
#   boot to userspace  s from starting the VMM in L1 to L2's /init writing its first line
#   blk read / write   MiB/s, dd of the whole 64 MiB raw disk (read after drop_caches; write
#                      with conv=fsync), timed by L2's /proc/uptime; "read again" repeats the
#                      read twice after another drop_caches, into guest memory the first one
#                      touched, and keeps the faster
#   net up / down      MiB/s, 8 MiB through busybox nc between L2 and L1 over a tap, sha256 checked
#   frames             L2's own interface counters over each transfer (fewer with TSO/GSO)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
out=$(STRATUS_BUILD_DIR=$build bash "$top/tests/linux/linux-test.sh" bench 2>&1) || true
fig() { # VMM KEY
  printf '%s\n' "$out" | grep "L1-BENCH $1 " | grep -o "$2=[0-9.]*" | cut -d= -f2 | head -1
}
if ! printf '%s\n' "$out" | grep -q 'L1-BENCH stratus-vmm'; then
  printf '%s\n' "$out"; echo "linux-nested: no figures (see above)" >&2; exit 1
fi
echo "Linux (Debian cloud kernel) in L2, measured under emulation (L1 on QEMU TCG); one run"
printf '| %-28s | %11s | %11s |\n' figure stratus-vmm QEMU
printf '|%s|%s|%s|\n' ------------------------------ ------------- -------------
for row in "boot to userspace (s):boot_s" "blk read 64 MiB (MiB/s):blk-read" "blk read again (MiB/s):blk-reread" \
  "blk write 64 MiB (MiB/s):blk-write" "net L2->L1 8 MiB (MiB/s):net-up" "net L1->L2 8 MiB (MiB/s):net-down" \
  "net L2->L1, frames L2 sent:up-frames" "net L1->L2, frames L2 got:down-frames"; do
  printf '| %-28s | %11s | %11s |\n' "${row%%:*}" "$(fig stratus-vmm "${row#*:}")" "$(fig qemu "${row#*:}")"
done
printf '%s\n' "$out" | grep -E 'L1-BENCH|L1-RESULT .* FAIL|L2\|' || true
