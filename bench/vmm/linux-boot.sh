#!/usr/bin/env bash
# Boots Debian's cloud kernel (linux-image-cloud-amd64) under stratus-vmm for a
# bounded time and shows how far it got on our UART.
#   bench/vmm/linux-boot.sh [BUILD_DIR] [seconds]
# The package is fetched with `apt-get download` (not installed); the vmlinux is
# unpacked from the bzImage as scripts/extract-vmlinux does (find the LZ4 legacy
# frame magic 02 21 4c 18, decompress from there), then booted with
# "boot_protocol": "linux" (64-bit entry, our zero page and e820, ACPI MADT), with
# CX16 hidden (this host cannot run the cmpxchg16b that SLUB would use in ring 0).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
secs=${2:-90}
work=$(mktemp -d /tmp/vmm-linux-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
apt-get download "$pkg" >/dev/null
dpkg-deb --fsys-tarfile ./*.deb | tar -x ./boot
bz=$(ls boot/vmlinuz-*)
off=$(grep -abo $'\x02\x21\x4c\x18' "$bz" | head -1 | cut -d: -f1)
tail -c +$((off + 1)) "$bz" | lz4 -dc > vmlinux 2>/dev/null || true
cat > vm.json <<JSON
{"vcpus": 1, "memory_mib": 512, "kernel": "$work/vmlinux", "boot_protocol": "linux",
 "cmdline": "console=ttyS0 earlyprintk=serial,ttyS0,115200 loglevel=8",
 "cpuid_disable": ["cx16"],
 "serial_log": "$work/serial.log"}
JSON
start=$(date +%s.%N)
timeout "$secs" "$build/compute-node/vmm/stratus-vmm" --config vm.json 2>vmm.log || true
end=$(date +%s.%N)
echo "== $pkg ($(basename "$bz")): $(wc -l < serial.log) console lines in $(awk "BEGIN{printf \"%.1f\", $end - $start}") s"
cat serial.log
echo "== last VMM log lines"
tail -3 vmm.log
