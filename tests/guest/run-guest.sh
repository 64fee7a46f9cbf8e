#!/usr/bin/env bash
# run-guest.sh - run the Stratus test guest under a VMM and judge the run by
# the contract in README.md: exit 0 when the guest PASSed (one RESULT PASS
# line and exit status 33 under QEMU or 16 under stratus-vmm), 1 when it
# FAILed (RESULT FAIL and 35 or 17), 2 for anything else (no start line, no or
# several RESULT lines, RESULT and exit status disagree, time limit).
#
#   run-guest.sh [-t SECONDS] [-o SERIAL_LOG] -- COMMAND [ARGS...]
#       COMMAND is the VMM with the guest; its stdout is the serial console.
#   run-guest.sh -q [-t SECONDS] [-o SERIAL_LOG] [-e GUEST_ELF] 'CMDLINE' [QEMU ARGS...]
#       QEMU (-M pc, qboot, the flags this host needs; KVM, or TCG when
#       /dev/kvm is not usable) with CMDLINE and extra QEMU arguments, e.g.
#       run-guest.sh -q 'scenario=rng' -device virtio-rng-pci,disable-legacy=on
#
# The serial output is echoed; the verdict goes to stderr.
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=30 log= qemu=0
elf=${STRATUS_GUEST_ELF:-${STRATUS_BUILD_DIR:-$here/../../build}/tests/guest/guest.elf}
while getopts "t:o:e:q" opt; do
    case $opt in
    t) secs=$OPTARG ;;
    o) log=$OPTARG ;;
    e) elf=$OPTARG ;;
    q) qemu=1 ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { sed -n '2,16p' "$0" >&2; exit 2; }

if [ $qemu = 1 ]; then
    cmdline=$1
    shift
    accel="-enable-kvm -cpu host,-arch-capabilities"
    if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        accel="-accel tcg -cpu max"
        echo "run-guest: no usable /dev/kvm, QEMU runs the guest under TCG" >&2
    fi
    # shellcheck disable=SC2086 # $accel is several words on purpose
    set -- qemu-system-x86_64 -M pc -bios /usr/share/qemu/qboot.rom $accel \
        -nodefaults -display none -monitor none \
        -serial stdio -no-reboot -m 128 -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -kernel "$elf" -append "$cmdline" "$@"
fi

tmp=
if [ -z "$log" ]; then
    tmp=$(mktemp)
    log=$tmp
fi
timeout --kill-after=2 "$secs" "$@" >"$log" </dev/null
status=$?
cat "$log"

verdict=$(awk -v status="$status" '
    /^STRATUS-GUEST start scenario=/ { started = 1; name = substr($0, 30) }
    /^RESULT / { n++; rname = $2; word = $3 }
    END {
        gsub(/\r/, "", word)
        if (status == 124 || status == 137) { print "TIMEOUT"; exit }
        if (!started) { print "BROKEN no start line"; exit }
        if (n != 1) { print "BROKEN " n + 0 " RESULT lines"; exit }
        if (rname != name) { print "BROKEN RESULT names another scenario"; exit }
        pass = (status == 33 || status == 16); fail = (status == 35 || status == 17)
        if (word == "PASS" && pass) print "PASS"
        else if (word == "FAIL" && fail) print "FAIL"
        else print "BROKEN RESULT " word " but exit status " status
    }' "$log")
[ -n "$tmp" ] && rm -f "$tmp"
echo "run-guest: $verdict (exit status $status)" >&2
case $verdict in
PASS) exit 0 ;;
FAIL) exit 1 ;;
*) exit 2 ;;
esac
