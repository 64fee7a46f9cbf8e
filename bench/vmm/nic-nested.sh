#!/usr/bin/env bash
# The seed's table, measured: an emulated NIC (e1000, an Intel 82540EM's registers) beside a
# paravirtual one (virtio-net), each under stratus-vmm and under QEMU, in one run of the nested test
# host (tests/linux/linux-test.sh, scenario "nicbench"): QEMU's emulator (TCG) runs L1, L1 runs the
# project's test guest (tests/guest, scenario net) on a tap under QEMU -enable-kvm and then under
# stratus-vmm.
#
#   bench/vmm/nic-nested.sh [BUILD_DIR] [SECONDS]
#   (a Release or RelWithDebInfo build; SECONDS per row, default 5; about 2 minutes, 1 more to
#   rebuild the L1 cache after tests/linux changed)
#
# Rows: tx, the guest floods 64-byte frames to broadcast (net.role=flood, its 64-slot transmit ring
# kept full, one doorbell per refill); rx, stratus-nicbench-send (nic_send.c) in L1 sends the same
# frames into the tap, paced so the tap never drops, and the guest counts them (net.role=sink). The
# guest's drivers poll in ring 3: e1000 with its interrupts masked, virtio-net with MSI-X on (which
# stays pending while the loop runs). Doorbells: e1000 one TDT write per refill (tx), one RDT write
# per frame given back and one STATUS read before it waits (rx); virtio-net one notify per refill
# (tx) and one per 8 buffers given back (rx). Both flows are endless; each row is a window of
# SECONDS of L1 time once the tap has counted 256 frames, then the VMM is killed.
# Columns:
#   frames/s      frames the tap counted over the window (written by the VMM, or read by it)
#   exits/frame   the VM's KVM exits in L1 (debugfs kvm/<pid>-<fd>/exits, the same counter for both)
#   CPU us/frame  utime + stime of all the VMM process's threads (/proc/<pid>/stat), guest included
# A second table splits them: exits to the VMM's user space, host interrupts and HLTs per frame,
# exits per second, and the CPU outside the guest (utime + stime - guest time) per frame.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
secs=${2:-5}
cmake --build "$build" --target stratus-vmm stratus_test_guest stratus-linux-overlay \
  stratus-nicbench-send >/dev/null
out=$(STRATUS_BUILD_DIR=$build STRATUS_LINUX_TIMEOUT=${STRATUS_LINUX_TIMEOUT:-900} \
  STRATUS_LINUX_TOOLS="$build/bench/vmm/stratus-nicbench-send" STRATUS_LINUX_ARGS="nb_secs=$secs" \
  bash "$top/tests/linux/linux-test.sh" nicbench 2>&1) || true
if ! printf '%s\n' "$out" | grep -q 'L1-BENCH nic stratus-vmm'; then
  printf '%s\n' "$out"; echo "nic-nested: no figures (see above)" >&2; exit 1
fi
row() { # VMM NIC DIR: "frames cs exits mmio io irq halt cpu guest" of that row ("-" when none)
  printf '%s\n' "$out" | grep -m1 "L1-BENCH nic $1 $2 $3 " | sed 's/.*L1-BENCH nic [^ ]* [^ ]* [^ ]* //' |
    awk '{for (i = 1; i <= 9; i++) {split($i, kv, "="); printf "%s ", kv[2]}} END {if (!NR) print "-"}'
}
cell() { # VMM NIC DIR WHAT: one figure of the first table
  row "$1" "$2" "$3" | awk -v w="$4" 'NF < 9 || $1 <= 0 || $2 <= 0 {print "-"; next}
    w == "fps" {printf "%.0f", $1 * 100 / $2} w == "exits" {printf "%.3f", $3 / $1}
    w == "cpu" {printf "%.1f", $8 * 10000 / $1}'
}
where() { # VMM NIC DIR: the second table's figures
  row "$1" "$2" "$3" | awk 'NF < 9 || $1 <= 0 || $2 <= 0 {print "-"; next}
    {printf "%.3f / %.3f / %.3f, %.0f/s, %.1f", ($4 + $5) / $1, $6 / $1, $7 / $1, $3 * 100 / $2,
      ($8 - $9) * 10000 / $1}'
}
echo "NIC frames: e1000 (emulation) and virtio-net (paravirtualization), the test guest's drivers,"
echo "64-byte frames, each under stratus-vmm and QEMU $(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') in the same L1 run."
echo "MEASURED UNDER EMULATION: L1 runs on QEMU's TCG with one CPU, so L2's exits and both VMMs are"
echo "emulated; absolute figures are far below real hardware and only ratios within this run mean anything."
printf '| %-10s | %11s | %11s | %12s | %11s | %11s | %12s |\n' row "stratus fps" exits/frame "CPU us/frame" \
  "QEMU fps" exits/frame "CPU us/frame"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------ ------------- ------------- -------------- ------------- \
  ------------- --------------
for r in "e1000 tx" "e1000 rx" "virtio tx" "virtio rx"; do
  set -- $r
  printf '| %-10s | %11s | %11s | %12s | %11s | %11s | %12s |\n' "$r" \
    "$(cell stratus-vmm "$1" "$2" fps)" "$(cell stratus-vmm "$1" "$2" exits)" "$(cell stratus-vmm "$1" "$2" cpu)" \
    "$(cell qemu "$1" "$2" fps)" "$(cell qemu "$1" "$2" exits)" "$(cell qemu "$1" "$2" cpu)"
done
echo
echo "Where they went: exits to the VMM's user space (MMIO + port I/O) / host interrupts / HLT per frame;"
echo "all exits per second; the VMM's CPU outside the guest, us per frame"
printf '| %-10s | %-44s | %-44s |\n' row stratus-vmm QEMU
printf '|%s|%s|%s|\n' ------------ ---------------------------------------------- ----------------------------------------------
for r in "e1000 tx" "e1000 rx" "virtio tx" "virtio rx"; do
  set -- $r
  printf '| %-10s | %-44s | %-44s |\n' "$r" "$(where stratus-vmm "$1" "$2")" "$(where qemu "$1" "$2")"
done
echo
echo "SR-IOV (direct access), not measured: a virtual function is the NIC's own hardware queue pair"
echo "mapped into the guest, so descriptors and doorbells go to the device and DMA through the IOMMU:"
echo "no exit and no VMM work per frame, only the VF's interrupts exit (posted interrupts remove those"
echo "too). This host cannot measure it: no NIC offers VFs (no sriov_totalvfs under /sys/class/net),"
echo "there is no VFIO (no IOMMU groups, no /dev/vfio), and a VF emulated under TCG (QEMU 7.2 has"
echo "none anyway) would measure the emulator, not the hardware."
printf '%s\n' "$out" | grep -E 'L1-BENCH nic|L1-INFO .* (tx|rx) |L1-RESULT|^== |L2\|' || true
