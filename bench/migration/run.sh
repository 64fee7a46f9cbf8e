#!/usr/bin/env bash
# Live migration, stratus-vmm beside QEMU in the same run: the project's test guest (tests/guest,
# scenario count: a 64 MiB pattern, rewritten at count.dirty MiB/s while it counts) is migrated
# from one network namespace to another joined by a veth (two "hosts", 10.77.0.1 and
# 10.77.0.2), first under QEMU -enable-kvm (-incoming tcp:..., `migrate -d` through its human
# monitor, auto-converge on, downtime-limit, max-bandwidth 10G), then under stratus-vmm
# (--incoming, PUT /vm/migrate with downtime_ms). The cases are tests/linux/migbench.sh's.
#
#   bench/migration/run.sh [--host] [--downtime MS] [BUILD_DIR]   (a Release or RelWithDebInfo build)
#
#   (default)     inside the nested test host the vmm_linux_* tests use (tests/linux/linux-test.sh,
#                 scenario "migbench"): QEMU's emulator (TCG) runs L1, the guests run under L1's
#                 emulated KVM. MEASURED UNDER EMULATION: only the comparison within a run means
#                 anything.
#   --host        on this host's own /dev/kvm (root; namespaces stmb1 and stmb2, removed after).
#   --downtime    the downtime budget both VMMs get (default 300 ms, both VMMs' default).
#
# Figures, per guest size and dirtying rate:
#   total ms     from the migrate command to completion (QEMU's "total time", our total_ms)
#   downtime ms  the guest's pause (QEMU's "downtime"; ours: pause to the target's ack, its
#                vCPUs running)
#   MiB sent     QEMU's "transferred ram"; ours: every byte of the frames (zero-page flags too)
#   rounds       QEMU's "dirty sync count"; ours: rounds including the last
#   throttle     the auto-converge throttle at the end (%)
#   guest gap    (--host only) the longest interval between two of the guest's counts (one every
#                10 ms) as the host saw its serial lines arrive: the pause as the guest's output
#                shows it, the same judge for both VMMs (QEMU's "downtime" ends when its source
#                has sent the last bytes, before its target has read them or run the guest)
#   a count      (--host only) the median of those intervals, what a count costs without a pause
# and, for stratus-vmm, each side's split of the downtime (compute-node/vmm/README.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
mode=nested downtime=300
while [ $# -gt 0 ]; do
  case "$1" in
    --host) mode=host; shift ;;
    --downtime) downtime=$2; shift 2 ;;
    *) break ;;
  esac
done
build=$(cd "${1:-$top/build}" && pwd)

host_run() { # the cases on this host's KVM; their lines on stdout
  local d
  [ -w /dev/kvm ] || { echo "migration bench: --host needs a usable /dev/kvm" >&2; return 1; }
  d=$(mktemp -d /tmp/stratus-migbench.XXXXXX)
  ip netns del stmb1 2> /dev/null || true
  ip netns del stmb2 2> /dev/null || true
  ip netns add stmb1 && ip netns add stmb2
  ip link add stmb-v1 type veth peer name stmb-v2
  ip link set stmb-v1 netns stmb1 && ip link set stmb-v2 netns stmb2
  ip -n stmb1 addr add 10.77.0.1/24 dev stmb-v1 && ip -n stmb2 addr add 10.77.0.2/24 dev stmb-v2
  for n in 1 2; do ip -n stmb$n link set stmb-v$n up && ip -n stmb$n link set lo up; done
  (
    set +eu
    usleep() { sleep "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))"; }
    . "$top/tests/linux/migbench.sh"
    PATH=$build/compute-node/vmm:$PATH
    MB_NS1=stmb1 MB_NS2=stmb2 MB_GUEST=$build/tests/guest/guest.elf MB_DIR=$d
    MB_QBOOT=/usr/share/qemu/qboot.rom MB_QEMU_CPU=host,-arch-capabilities # (-cpu host alone aborts here: MSR 0x10a)
    MB_DOWNTIME=$downtime MB_MEMS="256 1024" MB_DIRTIES="0 8 1000" VMTIME=150 SECCOMP=
    MB_COUNT_MS=10 MB_STAMP=1
    mb_run qemu
    mb_run stratus-vmm
  )
  ip netns del stmb1; ip netns del stmb2; rm -rf "$d"
}

if [ $mode = host ]; then
  out=$(host_run 2>&1) || true
  where="on this host's KVM"
else
  out=$(STRATUS_BUILD_DIR=$build STRATUS_LINUX_ARGS="mb_downtime=$downtime" \
    bash "$top/tests/linux/linux-test.sh" migbench 2>&1) || true
  where="measured under emulation (L2 under L1's KVM, L1 on QEMU TCG)"
fi
if ! printf '%s\n' "$out" | grep -q 'L1-BENCH migbench'; then
  printf '%s\n' "$out"; echo "migration bench: no figures (see above)" >&2; exit 1
fi
fig() { # LINE KEY
  printf '%s\n' "$1" | grep -o " $2=[^ ]*" | cut -d= -f2
}
echo "Live migration of the test guest, $where; downtime budget $downtime ms; one run"
printf '| %-8s | %-10s | %-11s | %-9s | %8s | %11s | %9s | %8s | %8s | %6s | %8s |\n' RAM "dirty" VMM status "total ms" "downtime ms" "guest gap" "a count" "MiB sent" rounds throttle
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------- ------------ ------------- ----------- ---------- ------------- ----------- ---------- ---------- -------- ----------
printf '%s\n' "$out" | grep -o 'L1-BENCH migbench .*' | while read -r l; do
  printf '| %-8s | %-10s | %-11s | %-9s | %8s | %11s | %9s | %8s | %8s | %6s | %8s |\n' "$(fig "$l" mem_mib) MiB" \
    "$(fig "$l" dirty_mib_s) MiB/s" "$(fig "$l" vmm)" "$(fig "$l" status)" "$(fig "$l" total_ms)" \
    "$(fig "$l" downtime_ms)" "$(fig "$l" guest_gap_ms)" "$(fig "$l" guest_interval_ms)" \
    "$(fig "$l" transferred_mib)" "$(fig "$l" rounds)" "$(fig "$l" throttle_pct)"
done
printf '%s\n' "$out" | grep -E 'L1-BENCH|L1-RESULT|failed' | grep -v 'L1-BENCH migbench' || true
