#!/usr/bin/env bash
# linux-test.sh - one vmm_linux_* test: its scenarios, each a real Linux (L2) under QEMU and then
# under stratus-vmm, all inside one nested test host (L1) that QEMU's emulator boots here.
#
#   linux-test.sh SCENARIO[,SCENARIO...]   (one L1 boot runs them in turn; each is judged alone:
#                                    serial blk net rng smp power counters; bench, nicbench, exitbench for bench/vmm;
#                                    guestdhcp: the test guest of tests/guest as L2, not Linux;
#                                    firmware: tests/guest/fwboot's disk booted by SeaBIOS,
#                                    then Linux booted by GRUB from a disk through SeaBIOS;
#                                    ipxe: network boot of the test guest by iPXE's option ROMs)
#   env: STRATUS_BUILD_DIR (the build tree), STRATUS_VMM (default: the build tree's stratus-vmm),
#        STRATUS_LINUX_OVERLAY (the overlay tool), STRATUS_LINUX_CACHE (default BUILD/tests/linux/cache),
#        STRATUS_LINUX_TIMEOUT (s, whole L1 run, default 420), STRATUS_LINUX_KEEP=1 (keep the work dir),
#        STRATUS_LINUX_ONLY=qemu|stratus (run one VMM),
#        STRATUS_LINUX_REFERENCE=first|on_failure (default first: QEMU's run, then stratus-vmm's;
#        on_failure, as ctest runs it: stratus-vmm's, and QEMU's only when stratus-vmm failed),
#        STRATUS_LINUX_SECCOMP=true|false (stratus-vmm's "seccomp"; default: the VMM's own default),
#        STRATUS_LINUX_TOOLS (more executables for L1's /usr/bin, with their libraries: a bench's own),
#        STRATUS_LINUX_ARGS (key=value words added to L1's command line, read by l1-init.sh's arg)
#
# Invariants:
# - L1 and L2 are built from Debian packages: the kernel that linux-image-cloud-amd64 depends on and
#   busybox-static are fetched with `apt-get download` (never installed); the userspace tools L1 needs
#   (QEMU and its firmware, qemu-img, e2fsprogs, iproute2's ip, curl) are the host's own Debian
#   binaries copied in with the libraries ldd lists. Both are cached under the build tree in a
#   directory named by a hash of every package version and of the scripts that shape them; the
#   stratus-vmm under test (and the overlay tool) go into a second, per-run initramfs appended to it.
# - L1 boots once per run; inside, the scenario runs under QEMU -enable-kvm (the reference) first,
#   then under stratus-vmm, each from fresh disks (with STRATUS_LINUX_REFERENCE=on_failure, the
#   reference runs after stratus-vmm and only when stratus-vmm failed: it still tells an
#   environment's failure from stratus-vmm's, and a passing run costs one VMM's time, not two).
#   l1-init.sh judges each run and prints "L1-RESULT <vmm> <scenario> PASS|FAIL <why>" followed,
#   on failure, by the L2 console lines that show why.
# - Several scenarios share one L1 boot (about 15 s of a loaded CI host's time each, of which
#   the per-run initramfs and L1's boot before its first scenario), and are judged one by one.
# - Exit: 0 every scenario passed; 1 a failure (the message says which VMM, and whether the reference
#   failed too, which means the environment, not stratus-vmm); 77 (skip) when L1 has no /dev/kvm.
set -euo pipefail
scn=${1:?usage: linux-test.sh SCENARIO}
here=$(cd "$(dirname "$0")" && pwd)
build=${STRATUS_BUILD_DIR:?STRATUS_BUILD_DIR is not set}
vmm=${STRATUS_VMM:-$build/compute-node/vmm/stratus-vmm}
ovl=${STRATUS_LINUX_OVERLAY:-$build/tests/linux/stratus-linux-overlay}
cache=${STRATUS_LINUX_CACHE:-$build/tests/linux/cache}
limit=${STRATUS_LINUX_TIMEOUT:-420}
only=${STRATUS_LINUX_ONLY:-}
ref=${STRATUS_LINUX_REFERENCE:-first}
case $ref in first | on_failure) ;; *) echo "linux-test: STRATUS_LINUX_REFERENCE is first or on_failure" >&2; exit 1;; esac
for f in "$vmm" "$ovl"; do [ -x "$f" ] || { echo "linux-test: no executable $f" >&2; exit 1; }; done
for t in qemu-system-x86_64 qemu-img mke2fs e2fsck debugfs ip curl cpio lz4 apt-get dpkg-deb; do
  command -v $t >/dev/null || PATH=$PATH:/sbin:/usr/sbin
  command -v $t >/dev/null || { echo "linux-test: $t is missing (deploy/packages.txt)" >&2; exit 1; }
done
t_start=$(date +%s.%N)
t0us=${EPOCHREALTIME/./}

# ---- 1. the cached part: kernel, L2 initramfs, L1 base initramfs -------------------------------
mkdir -p "$cache"
kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$kpkg" ] || { echo "linux-test: apt-cache knows no linux-image-cloud-amd64" >&2; exit 1; }
candidate() { apt-cache policy "$1" | awk '/Candidate:/{print $2; exit}'; }
installed() { dpkg-query -W -f '${Version}' "$1"; }
versions="$kpkg=$(candidate "$kpkg") busybox-static=$(candidate busybox-static)"
for p in qemu-system-x86 qemu-system-data qemu-utils e2fsprogs iproute2 curl grub-pc-bin; do
  versions="$versions $p=$(installed $p)"
done
key=$( { echo "$versions"; cat "$here/linux-test.sh" "$here/l1-init.sh" "$here/l2-init.sh"; } |
  sha256sum | cut -c1-16)
base=$cache/$key

copy_with_libs() { # ROOT BINARY: the binary to ROOT/usr/bin, its shared libraries at their paths
  local root=$1 b=$2 l
  mkdir -p "$root/usr/bin"
  cp -L "$b" "$root/usr/bin/"
  for l in $(ldd "$b" | awk '/=>/ {print $3} !/=>/ && $1 ~ /^\// {print $1}'); do
    mkdir -p "$root$(dirname "$l")"
    cp -L "$l" "$root$l"
  done
}
newc() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0); }

build_base() {
  local w=$1 debs=$cache/debs
  mkdir -p "$debs"
  (cd "$debs" && for p in "$kpkg" busybox-static; do
     ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -q "$p" >/dev/null 2>&1 ||
       { echo "linux-test: apt-get download $p failed" >&2; exit 1; }
   done)
  dpkg-deb -x "$(ls "$debs/${kpkg}"_*.deb | tail -1)" "$w/k"
  dpkg-deb -x "$(ls "$debs"/busybox-static_*.deb | tail -1)" "$w/bb"
  local kv m bb=$w/bb/bin/busybox
  kv=$(ls "$w/k/lib/modules")
  m=$w/k/lib/modules/$kv/kernel
  cp "$w/k/boot/vmlinuz-$kv" "$w/bzImage"

  # L2: busybox, the virtio modules in dependency order, /init
  mkdir -p "$w/l2/bin" "$w/l2/dev" "$w/l2/mod" "$w/l2/proc" "$w/l2/sys" "$w/l2/tmp" "$w/l2/mnt"
  cp "$bb" "$w/l2/bin/"
  for a in $("$bb" --list); do [ -e "$w/l2/bin/$a" ] || ln -s busybox "$w/l2/bin/$a"; done
  local order="" want
  add_mod() { # resolve depends= from the module's .modinfo, dependencies first
    local f d
    case " $order " in *" $1 "*) return;; esac
    f=$(find "$m" -name "$1.ko") || true
    [ -n "$f" ] || { echo "linux-test: module $1 not in $kpkg" >&2; exit 1; }
    for d in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do add_mod "$d"; done
    order="$order $1"
    cp "$f" "$w/l2/mod/"
  }
  for want in virtio_pci virtio_blk virtio_net virtio-rng; do add_mod $want; done
  echo $order > "$w/l2/mod/order"
  cp "$here/l2-init.sh" "$w/l2/init"
  chmod +x "$w/l2/init"
  newc "$w/l2" | gzip -1 > "$w/l2.cpio.gz"

  # /l2/grub.img: the same kernel and initramfs booted by GRUB from a disk (grub-mkrescue's
  # BIOS image: an MBR, GRUB's core and i386-pc modules), as a cloud image boots; grub.cfg
  # marks GRUB's start on the console and hands Linux scn=grub.
  mkdir -p "$w/iso/boot/grub"
  cp "$w/bzImage" "$w/iso/boot/bzImage"
  cp "$w/l2.cpio.gz" "$w/iso/boot/initrd.gz"
  printf 'set timeout=0\necho STRATUS-GRUB loading Linux\nlinux /boot/bzImage console=ttyS0 earlyprintk=ttyS0 loglevel=4 panic=-1 scn=grub end=poweroff\ninitrd /boot/initrd.gz\nboot\n' \
    > "$w/iso/boot/grub/grub.cfg"

  # L1: busybox, kvm modules, QEMU + firmware, the tools the scenarios use, L2's kernel + initramfs
  mkdir -p "$w/l1/bin" "$w/l1/dev" "$w/l1/proc" "$w/l1/sys" "$w/l1/tmp" "$w/l1/mod" "$w/l1/l2" \
    "$w/l1/usr/share/qemu" "$w/l1/run"
  cp "$bb" "$w/l1/bin/"
  for a in $("$bb" --list); do [ -e "$w/l1/bin/$a" ] || ln -s busybox "$w/l1/bin/$a"; done
  cp "$m/virt/lib/irqbypass.ko" "$m/arch/x86/kvm/kvm.ko" "$m/arch/x86/kvm/kvm-amd.ko" \
    "$m/drivers/net/tun.ko" "$m/drivers/net/veth.ko" "$m/net/sched/sch_tbf.ko" "$w/l1/mod/"
  local t
  for t in qemu-system-x86_64 qemu-img mke2fs e2fsck debugfs ip tc curl; do
    copy_with_libs "$w/l1" "$(command -v $t)"
  done
  cp /usr/share/qemu/{qboot.rom,linuxboot_dma.bin,linuxboot.bin,kvmvapic.bin} "$w/l1/usr/share/qemu/"
  cp "$w/bzImage" "$w/l1/l2/bzImage"
  cp "$w/l2.cpio.gz" "$w/l1/l2/initrd.gz"
  if command -v grub-mkrescue > /dev/null && [ -d /usr/lib/grub/i386-pc ]; then
    grub-mkrescue -o "$w/l1/l2/grub.img" "$w/iso" > "$w/grub-mkrescue.log" 2>&1 ||
      { echo "linux-test: grub-mkrescue failed:" >&2; cat "$w/grub-mkrescue.log" >&2; exit 1; }
  fi
  cp "$here/l1-init.sh" "$w/l1/init"
  chmod +x "$w/l1/init"
  echo "$versions" > "$w/l1/versions"
  # uncompressed, as the per-run part: L1's kernel reached its init 2-3 s sooner (uptime 4.4-5.1 s
  # against 7.3-7.7 s) than when it had to gunzip them under the emulator
  newc "$w/l1" > "$w/l1-base.cpio"
  rm -rf "$w/k" "$w/bb" "$w/l1" "$w/l2" "$w/iso"
}

exec 9>"$cache/lock"
flock 9
if [ ! -e "$base/ready" ]; then
  echo "== building L1/L2 initramfs for: $versions"
  rm -rf "$base.tmp"
  mkdir -p "$base.tmp"
  build_base "$base.tmp"
  touch "$base.tmp/ready"
  rm -rf "$base"
  mv "$base.tmp" "$base"
  # older keys go: one cache per build tree
  for d in "$cache"/*/; do [ "${d%/}" = "$base" ] || [ "${d%/}" = "$cache/debs" ] || rm -rf "$d"; done
fi
flock -u 9
exec 9>&-
t_cache=$(date +%s.%N)

# ---- 2. the per-run part: stratus-vmm and the overlay tool ---------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/stratus-linux-${scn//,/-}.XXXXXX")
[ "${STRATUS_LINUX_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
copy_with_libs "$work/run" "$vmm"
[ "$(basename "$vmm")" = stratus-vmm ] || mv "$work/run/usr/bin/$(basename "$vmm")" "$work/run/usr/bin/stratus-vmm"
copy_with_libs "$work/run" "$ovl"
for t in ${STRATUS_LINUX_TOOLS:-}; do copy_with_libs "$work/run" "$t"; done
guest=${STRATUS_GUEST_ELF:-$build/tests/guest/guest.elf}
[ -f "$guest" ] && cp "$guest" "$work/run/guest.elf"
fwdisk=${STRATUS_FWBOOT_DISK:-$build/tests/guest/fwboot.img}
[ -f "$fwdisk" ] && cp "$fwdisk" "$work/run/fwboot.img"
mbguest=${STRATUS_GUEST_MB_ELF:-$build/tests/guest/guest-mb.elf}
[ -f "$mbguest" ] && cp "$mbguest" "$work/run/guest-mb.elf"
if [[ ",$scn," == *,migrate,* ]] && command -v openssl > /dev/null; then # migrate's TLS: two throwaway CAs
  mkdir -p "$work/run/tls"
  for n in a b; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 -nodes \
      -subj "/CN=stratus-migrate-test-$n" -addext basicConstraints=critical,CA:TRUE \
      -keyout "$work/run/tls/$n.key" -out "$work/run/tls/$n.pem" 2> /dev/null
  done
fi
if [ -f /usr/lib/ipxe/qemu/pxe-e1000.rom ]; then # ipxe-qemu: the NICs' option ROMs (scenario ipxe)
  mkdir -p "$work/run/usr/lib/ipxe/qemu"
  cp /usr/lib/ipxe/qemu/pxe-e1000.rom /usr/lib/ipxe/qemu/pxe-virtio.rom "$work/run/usr/lib/ipxe/qemu/"
fi
if [ -f /usr/share/seabios/bios.bin ]; then
  mkdir -p "$work/run/usr/share/seabios" && cp /usr/share/seabios/bios.bin "$work/run/usr/share/seabios/"
fi
cp "$here/migbench.sh" "$work/run/migbench.sh" # sourced by l1-init.sh (and bench/migration/host.sh)
newc "$work/run" > "$work/run.cpio"
cat "$base/l1-base.cpio" "$work/run.cpio" > "$work/l1.img"
cp "$base/bzImage" "$work/bzImage" # a newer key may replace $base while L1 runs

# ---- 3. L1 under TCG, niced and bounded; console lines stamped with seconds since start ----------
# The reference, QEMU in L1, has once hung without a result under a loaded
# ctest -j2 (seen in CI, passing alone in 22 s): an L1 run where it gave no
# result at all is an environment failure, so it is run once more, said so.
# Each of the two runs gets half the limit, so both fit ctest's timeout.
# A stalled L1 is one too: twice the emulated L1 went silent at 100 % CPU in the middle of the
# boot group, during a firmware-booted L2 (once in ipxe's virtio boot, once in firmware's GRUB
# boot), each boot under a 60-150 s `timeout` in L1 that never fired, so L1 itself had stopped
# making progress. L1's own limits end any VMM within 150 s and say so on its console; a console
# silent for STRATUS_LINUX_STALL s (300) means L1 stalled: it is killed, and L1 is booted once
# more for the scenarios that have no result yet, said so (ctest's timeout allows two runs).
tries=2 # only when the reference runs first
case "$only:$ref:$scn" in stratus:* | *:on_failure:* | *:bench | *:nicbench | *:exitbench) tries=1;; esac
run_limit=$((limit / tries))
stall=${STRATUS_LINUX_STALL:-300}
watch_l1() { # NONCE LOG: kills that L1 once LOG has not grown for $stall s
  local last=-1 size quiet=0
  while sleep 5; do
    pgrep -f "nonce=$1 " > /dev/null || return 0
    size=$(stat -c %s "$2" 2> /dev/null || echo 0)
    if [ "$size" != "$last" ]; then last=$size quiet=0; else quiet=$((quiet + 5)); fi
    if [ $quiet -ge "$stall" ]; then touch "$work/stalled"; pkill -9 -f "nonce=$1 "; return 0; fi
  done
}
todo=$scn stalls=0 attempt=0
: > "$work/console.log"
while :; do
attempt=$((attempt + 1))
nonce=$$$(date +%N)
part=$work/console.$attempt.log
rm -f "$work/stalled"
watch_l1 "$nonce" "$part" &
wpid=$!
set +e
nice -n 10 timeout -s KILL "$run_limit" qemu-system-x86_64 -accel tcg -cpu EPYC -m 2048 -smp 1 -M pc \
  -nographic -no-reboot -nodefaults -serial stdio -kernel "$work/bzImage" -initrd "$work/l1.img" \
  -append "console=ttyS0 panic=-1 quiet scn=$todo only=$only ref=$ref nonce=$nonce seccomp=${STRATUS_LINUX_SECCOMP:-} ${STRATUS_LINUX_ARGS:-}" </dev/null 2>&1 |
  while IFS= read -r l; do us=$((${EPOCHREALTIME/./} - t0us)); printf "[%4d.%d] %s\n" $((us / 1000000)) $((us / 100000 % 10)) "${l//$'\r'/}"; done > "$part"
qrc=${PIPESTATUS[0]}
kill $wpid 2> /dev/null; wait $wpid 2> /dev/null
set -e
cat "$part" >> "$work/console.log"
if [ "$attempt" -lt "$tries" ] && ! grep -q 'L1-RESULT qemu ' "$part"; then
  echo "== vmm_linux_$scn: the QEMU reference gave no result (L1 exit $qrc); L1 once more"
  tail -5 "$part" | sed 's/^/   /'
  continue
fi
if [ -e "$work/stalled" ] && [ $stalls = 0 ]; then
  stalls=1 left= by=stratus-vmm # a scenario is done once this VMM's result is in
  [ "$only" = qemu ] && by=qemu
  for one in ${todo//,/ }; do
    grep -q "L1-RESULT $by $one " "$part" || left=$left${left:+,}$one
  done
  if [ -n "$left" ]; then
    echo "== vmm_linux_$scn: L1 stalled (its console silent for $stall s, $(tail -1 "$part" | cut -c1-100)); L1 once more for: $left"
    todo=$left
    continue
  fi
fi
break
done
t_end=$(date +%s.%N)
[ -n "${STRATUS_LINUX_LOG:-}" ] && cp "$work/console.log" "$STRATUS_LINUX_LOG"

# ---- 4. verdict ---------------------------------------------------------------------------------
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b - a}'; }
echo "== vmm_linux_$scn: cache $(secs "$t_start" "$t_cache") s, L1 run $(secs "$t_cache" "$t_end") s (L1 exit $qrc)"
# (none at all, as when L1's kernel stopped early, must not end this script unexplained:
# pipefail would make the empty grep its silent exit status)
grep -E 'L1-(INFO|KVM|RUN|RESULT|BENCH)' "$work/console.log" | sed 's/^/   /' || true
if grep -q 'L1-KVM-MISSING' "$work/console.log"; then
  echo "SKIP: L1 has no /dev/kvm (this host's QEMU cannot emulate SVM?)"; exit 77
fi
case $scn in bench | nicbench | exitbench) exit 0;; esac # a benchmark: its script reads the figures
show() { # VMM SCENARIO: the L2 console excerpt that L1 printed after that run's result
  awk -v r="L1-RESULT $1 $2 " 'index($0, r) {on=1; next} on && /L1-(RESULT|RUN|DONE)/ {on=0} on' \
    "$work/console.log" | sed 's/^/     /'
}
fail=0
for one in ${scn//,/ }; do
  bad=0
  rq=$(grep -m1 "L1-RESULT qemu $one " "$work/console.log" | sed "s/.*L1-RESULT qemu $one //" || true)
  rs=$(grep -m1 "L1-RESULT stratus-vmm $one " "$work/console.log" | sed "s/.*L1-RESULT stratus-vmm $one //" || true)
  judge_ref=1 # on_failure: the reference is judged only when it ran, after stratus-vmm failed
  [ "$only" = stratus ] && judge_ref=0
  [ "$only" = "" ] && [ "$ref" = on_failure ] && [ "${rs%% *}" = PASS -o -z "$rq" ] && judge_ref=0
  if [ $judge_ref = 1 ] && [ "${rq%% *}" != PASS ]; then
    echo "FAIL: $one: the reference, QEMU -enable-kvm inside L1, failed (${rq:-no result}): an environment limit, not stratus-vmm"
    show qemu "$one"
    bad=1
  fi
  if [ "$only" != qemu ] && [ "${rs%% *}" != PASS ]; then
    echo "FAIL: stratus-vmm failed scenario '$one' (${rs:-no result: L1 did not finish within $run_limit s, or stalled})"
    echo "     (QEMU in the same L1: ${rq:-not run})"
    show stratus-vmm "$one"
    [ -n "$rs" ] || tail -25 "$work/console.log" | sed 's/^/     /'
    bad=1
  fi
  [ $bad = 0 ] || { fail=1; continue; }
  case "$only:$ref" in
    stratus:* | :on_failure) echo "PASS: $one under stratus-vmm" ;;
    qemu:*) echo "PASS: $one under QEMU" ;;
    *) echo "PASS: $one under QEMU and stratus-vmm" ;;
  esac
done
exit $fail
