#!/usr/bin/env bash
# Snapshot and restore against guest size, stratus-vmm beside QEMU in the same run, on this
# host's own /dev/kvm (root). The guest is the project's test guest (tests/guest, scenario count:
# a pattern over half its RAM, at most 1 GiB, checked a page at each count, one count every
# 10 ms). Per size, under each VMM:
#   1. boot, wait for the fifth count (the pattern is written), pause, save;
#   2. kill -9 the VMM; restore from the files while they are in the page cache (warm) and let
#      the guest count on; kill -9 again;
#   3. drop the page cache (sync; drop_caches), restore again (cold), let the guest count to the
#      end: its memory check then covers the whole pattern, which must hold.
# QEMU: `stop` then `migrate "exec:cat > FILE"` through its human monitor with max-bandwidth
# raised from its 128 MiB/s default (the way `virsh save` saves a domain); restore is a new process with -incoming "exec:cat FILE" and `cont` once the
# monitor says the incoming state is in (QEMU 7.2 reads the whole file before the guest runs).
# stratus-vmm: PUT /vm/actions pause, PUT /vm/snapshot, then `stratus-vmm --restore DIR`, which
# maps the memory file MAP_PRIVATE: a page is read when the guest touches it.
#
#   bench/migration/snapshot.sh [--sizes "256 1024 4096"] [BUILD_DIR]   (Release or RelWithDebInfo)
#
# Figures (ms unless named):
#   save           pause + writing the state until it is on disk, wall: our PUT /vm/actions
#                  pause and PUT /vm/snapshot as curl saw them (snapshot.c fsyncs the memory
#                  file); QEMU's `stop` and `migrate` until its monitor said "completed" (polled
#                  every 20 ms), then `sync FILE` (its migration does not fsync)
#   save (own)     the VMM's own figure: ours "snapshot in ... N ms", QEMU's "total time"
#   file MiB       what the save wrote to disk (du: both skip zero pages)
#   restore (own)  the VMM's own figure: ours "VM running (restored from a snapshot) ... N ms"
#                  (process start to vCPUs running); QEMU has none: its column shows "-"
#   first count    from launching the restoring process to the guest's first new count, as the
#                  serial reader stamped it (bash's EPOCHREALTIME): the guest's own view of a
#                  restore, the same judge for both VMMs. warm: files in the page cache; cold:
#                  after drop_caches. QEMU's includes the 20 ms poll of its monitor for `cont`.
#   counts         whether the guest's counts went on from where they stopped, once each, and its
#                  memory check passed (the last restore ran to the end)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
sizes="256 1024 4096"
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes=$2; shift 2 ;;
    *) break ;;
  esac
done
build=$(cd "${1:-$top/build}" && pwd)
[ -w /dev/kvm ] || { echo "snapshot bench: needs a usable /dev/kvm (root)" >&2; exit 1; }
[ -w /proc/sys/vm/drop_caches ] || { echo "snapshot bench: needs root (drop_caches)" >&2; exit 1; }
guest=$build/tests/guest/guest.elf
vmm=$build/compute-node/vmm/stratus-vmm
for f in "$guest" "$vmm"; do [ -e "$f" ] || { echo "snapshot bench: no $f (build it)" >&2; exit 1; }; done

set +e # from here on a failed step shows in its row (a killed VMM's wait is 137)
usleep() { sleep "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))"; }
. "$top/tests/linux/migbench.sh" # vm_alive, wait_for, mb_serial, mb_kill
d=$(mktemp -d /var/tmp/stratus-snapbench.XXXXXX)
trap 'stop_serial; rm -rf "$d"' EXIT
MB_DIR=$d MB_STAMP=1 VMTIME=300 STAMPPID=
N=1500 # counts: 15 s of a 10 ms count, enough for the three runs
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
ms_since() { echo $(($(now_ms) - $1)); }
counts() { grep -c '^DATA count=' $d/serial.log; }
first_after() { # BEFORE T0-MS: ms from T0 to the stamp of the first count after BEFORE ("-": none)
  awk -v b=$1 -v t0=$2 '/^DATA count=[0-9]+ @/ { k = substr($2, 7) + 0
    if (k > b) { printf "%d", substr($NF, 2) * 1000 - t0; f = 1; exit } } END { if (!f) print "-" }' $d/serial.log
}
judge() { # BEFORE: the guest's counts once each up to N, some after BEFORE, its memory check
  local got
  got=$(grep '^DATA count=' $d/serial.log | sed 's/DATA count=\([0-9]*\).*/\1/' | tr '\n' ' ')
  if [ "$got" = "$(seq 1 $N | tr '\n' ' ')" ] && grep -q '^DATA count.memory=ok' $d/serial.log &&
    grep -q '^RESULT count PASS' $d/serial.log; then echo ok; else
    echo "FAILED($(counts) counts; $(grep '^DATA count=' $d/serial.log | sed 's/DATA count=\([0-9]*\).*/\1/' |
      awk '$1 != p + 1 { printf "%s after %s; ", $1, p } { p = $1 }')$(grep -c '^DATA count.memory=ok' $d/serial.log) memory=ok)"; fi
}
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
row() { # VMM GUEST PATTERN SAVE SAVE-OWN FILE RESTORE WARM COLD COUNTS
  printf '| %-11s | %9s | %9s | %6s | %10s | %8s | %13s | %11s | %11s | %-8s |\n' "$@"
}

stop_serial() { # (the lines still in the FIFO read first)
  [ -n "$STAMPPID" ] || return 0
  usleep 200000; kill $STAMPPID 2> /dev/null; wait $STAMPPID 2> /dev/null; STAMPPID=
}
saved() { # after the save and the kill: the serial log so far becomes serial.pre; BEFORE: its counts
  stop_serial
  mv $d/serial.log $d/serial.pre
  before=$(grep -c '^DATA count=' $d/serial.pre)
}
judged() { # the counts before the save and those of the last restore, judged as one log
  stop_serial
  cat $d/serial.pre $d/serial.log > $d/serial.all && mv $d/serial.all $d/serial.log
  judge
}
restores() { # START: the warm restore, then the cold one, each launched by START RUN (which
  # sets VMPID); sets warm and cold, the ms to each restored guest's first new count
  local run t0
  for run in warm cold; do
    stop_serial; mb_serial
    [ $run = warm ] || drop_caches
    t0=$(now_ms)
    $1 $run
    if [ $run = warm ]; then
      wait_for "^DATA count=$((before + 20)) " $d/serial.log 60 || true
      warm=$(first_after $before $t0)
      mb_kill $VMPID; wait $VMPID 2> /dev/null
    else
      wait $VMPID 2> /dev/null # the guest counts to N and exits
      cold=$(first_after $before $t0)
    fi
  done
}

stratus_restore() { # RUN: stratus-vmm --restore, its log in r.RUN.log
  : > $d/r.$1.log
  timeout -s KILL $VMTIME $vmm --restore $d/snap --log-level info < /dev/null > $d/r.$1.log 2>&1 &
  VMPID=$!
}

qemu_restore() { # RUN: QEMU -incoming from the file; its saved state is paused: `cont` once
  local n=0    # the incoming state is in
  : > $d/q.log
  timeout -s KILL $VMTIME qemu-system-x86_64 "${QARGS[@]}" -incoming "exec:cat $d/qemu.snap" < $d/q-in > $d/q.log 2>&1 9>&- &
  VMPID=$!
  while [ $n -lt 3000 ] && ! tr -d '\r' < $d/q.log | grep -q '^VM status: paused$'; do
    echo 'info status' >&9; usleep 20000; n=$((n + 1))
  done
  echo cont >&9
}

stratus_case() { # MEM PATTERN
  local mem=$1 pat=$2 s=$d/s.sock t0 save own warm cold before sown
  rm -rf $d/snap $s $d/serial.pre; mkdir -p $d/snap; : > $d/serial.pre
  mb_serial
  printf '{"vcpus": 1, "memory_mib": %s, "kernel": "%s", "cmdline": "scenario=count count.n=%s count.ms=10 count.mib=%s",\n "serial_log": "%s", "control_socket": "%s"}\n' \
    $mem $guest $N $pat $SEROUT $s > $d/vm.json
  timeout -s KILL $VMTIME $vmm --config $d/vm.json --log-level info < /dev/null > $d/vmm.log 2>&1 &
  VMPID=$!
  if ! wait_for '^DATA count=5 ' $d/serial.log 120; then
    row stratus-vmm "$mem MiB" "$pat MiB" - - - - - - "no count=5"; mb_kill $VMPID; wait $VMPID; mb_gap > /dev/null; return
  fi
  t0=$(now_ms)
  curl -sf -X PUT --unix-socket $s -d '{"action": "pause"}' http://localhost/vm/actions
  curl -sf -X PUT --unix-socket $s -d "{\"dir\": \"$d/snap\"}" http://localhost/vm/snapshot
  save=$(ms_since $t0)
  mb_kill $VMPID; wait $VMPID 2> /dev/null
  saved
  restores stratus_restore
  own=$(grep -o 'restored from a snapshot[^"]*' $d/r.warm.log | grep -o '[0-9.]* ms' | head -1 | cut -d' ' -f1)
  sown=$(grep -o 'snapshot in [^"]*' $d/vmm.log | grep -o '[0-9.]* ms' | tail -1 | cut -d' ' -f1)
  row stratus-vmm "$mem MiB" "$pat MiB" $save "${sown:--}" $(($(du -k $d/snap/memory | cut -f1) / 1024)) "${own:--}" $warm $cold "$(judged)"
}

qemu_case() { # MEM PATTERN
  local mem=$1 pat=$2 t0 save warm cold before n own=
  rm -f $d/qemu.snap $d/q.log $d/q-in; : > $d/serial.pre
  mb_serial
  QARGS=(-enable-kvm -cpu host,-arch-capabilities -M pc -m $mem -bios /usr/share/qemu/qboot.rom \
    -nodefaults -display none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel $guest \
    -append "scenario=count count.n=$N count.ms=10 count.mib=$pat" \
    -chardev file,id=s0,path=$SEROUT,append=on -serial chardev:s0 -monitor stdio)
  mkfifo $d/q-in; exec 9<> $d/q-in
  timeout -s KILL $VMTIME qemu-system-x86_64 "${QARGS[@]}" < $d/q-in > $d/q.log 2>&1 9>&- &
  VMPID=$!
  if ! wait_for '^DATA count=5 ' $d/serial.log 120; then
    row qemu "$mem MiB" "$pat MiB" - - - - - - "no count=5"; mb_kill $VMPID; wait $VMPID; exec 9>&-; mb_gap > /dev/null; return
  fi
  printf 'migrate_set_parameter max-bandwidth 100G\n' >&9
  usleep 100000
  t0=$(now_ms)
  printf 'stop\nmigrate "exec:cat > %s"\n' $d/qemu.snap >&9
  n=0
  while [ $n -lt 3000 ] && ! grep -q 'Migration status: \(completed\|failed\)' $d/q.log; do
    echo 'info migrate' >&9; usleep 20000; n=$((n + 1))
  done
  sync $d/qemu.snap # durable, as ours is (snapshot.c fsyncs its memory file)
  save=$(ms_since $t0)
  own=$(awk '/total time:/ { t = $3 } END { print t }' $d/q.log)
  grep -q 'Migration status: completed' $d/q.log || save="failed"
  mb_kill $VMPID; wait $VMPID 2> /dev/null
  saved
  restores qemu_restore
  exec 9>&-
  row qemu "$mem MiB" "$pat MiB" "$save" "${own:--}" $(($(du -k $d/qemu.snap | cut -f1) / 1024)) "-" $warm $cold "$(judged)"
}

echo "Snapshot and restore of the test guest on this host's KVM; one run; times in ms"
row VMM guest pattern save "save (own)" "file MiB" "restore (own)" "first, warm" "first, cold" counts
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------- ----------- ----------- -------- ------------ ---------- --------------- ------------- ------------- ----------
for mem in $sizes; do
  pat=$((mem / 2)); [ $pat -le 1024 ] || pat=1024
  qemu_case $mem $pat
  stratus_case $mem $pat
done
