#!/usr/bin/env bash
# Live migration, stratus-vmm beside QEMU, both inside the nested test host the vmm_linux_*
# tests use (tests/linux/linux-test.sh, scenario "migbench"): QEMU's emulator (TCG) runs L1; in
# L1 two network namespaces joined by a veth stand for two hosts, and the project's test guest
# (tests/guest, scenario count: a 64 MiB pattern, rewritten at count.dirty MiB/s while it
# counts) is migrated from one to the other, first under QEMU -enable-kvm (-incoming tcp:...,
# `migrate -d` through its human monitor, auto-converge on, downtime-limit 300 ms,
# max-bandwidth 10G), then under stratus-vmm (--incoming, PUT /vm/migrate, downtime_ms 300).
#
#   bench/migration/run.sh [BUILD_DIR]     (a Release or RelWithDebInfo build)
#
# Figures (MEASURED UNDER EMULATION: L1 is emulated by TCG on a loaded shared host, so only the
# comparison within one run means anything), per guest size and dirtying rate:
#   total ms     from the migrate command to completion (QEMU's "total time", our total_ms)
#   downtime ms  the guest's pause (QEMU's "downtime"; ours: pause to the target's ack, its
#                vCPUs running)
#   MiB sent     QEMU's "transferred ram"; ours: every byte of the frames (zero-page flags too)
#   rounds       QEMU's "dirty sync count"; ours: rounds including the last
#   throttle     the auto-converge throttle at the end (%)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
out=$(STRATUS_BUILD_DIR=$build bash "$top/tests/linux/linux-test.sh" migbench 2>&1) || true
if ! printf '%s\n' "$out" | grep -q 'L1-BENCH migbench'; then
  printf '%s\n' "$out"; echo "migration bench: no figures (see above)" >&2; exit 1
fi
fig() { # LINE KEY
  printf '%s\n' "$1" | grep -o " $2=[^ ]*" | cut -d= -f2
}
echo "Live migration of the test guest in L2, measured under emulation (L1 on QEMU TCG); one run"
printf '| %-6s | %-8s | %-11s | %-9s | %8s | %11s | %8s | %6s | %8s |\n' RAM "dirty" VMM status "total ms" "downtime ms" "MiB sent" rounds throttle
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------- ---------- ------------- ----------- ---------- ------------- ---------- -------- ----------
printf '%s\n' "$out" | grep -o 'L1-BENCH migbench .*' | while read -r l; do
  printf '| %-6s | %-8s | %-11s | %-9s | %8s | %11s | %8s | %6s | %8s |\n' "$(fig "$l" mem_mib) MiB" \
    "$(fig "$l" dirty_mib_s) MiB/s" "$(fig "$l" vmm)" "$(fig "$l" status)" "$(fig "$l" total_ms)" \
    "$(fig "$l" downtime_ms)" "$(fig "$l" transferred_mib)" "$(fig "$l" rounds)" "$(fig "$l" throttle_pct)"
done
printf '%s\n' "$out" | grep -E 'L1-BENCH|L1-RESULT|failed' | grep -v 'L1-BENCH migbench' || true
