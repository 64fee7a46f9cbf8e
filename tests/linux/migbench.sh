# migbench.sh - sourced, not run: live migration of the test guest between two network
# namespaces, stratus-vmm beside QEMU, with the waiting and migration status helpers the nested
# test host's scenarios share. Two places source it:
#   - the nested test host (l1-init.sh, /migbench.sh in L1): scenario `migbench`
#     (bench/migration/run.sh), L2 under L1's emulated KVM;
#   - bench/migration/run.sh --host: the same cases on this host's own /dev/kvm.
# The includer provides usleep MICROSECONDS, and sets, before calling mb_run:
#   MB_NS1 MB_NS2   the source's and the target's network namespaces, joined so that the target
#                   is 10.77.0.2 (a veth: prep_migrate in l1-init.sh, run.sh's host_run)
#   MB_GUEST        the test guest's ELF          MB_QBOOT  QEMU's qboot.rom
#   MB_QEMU_CPU     QEMU's -cpu                   MB_DIR    a directory for logs and configs
#   MB_DOWNTIME     the downtime budget both VMMs get (ms)
#   MB_MEMS         the guest sizes (MiB)         MB_DIRTIES the dirtying rates (MiB/s)
#   MB_COUNT_MS     the guest's count period (ms)
#   MB_STAMP        1: the serial log is a FIFO whose reader stamps each line with the host's
#                   time (bash's EPOCHREALTIME), and each case also prints guest_gap_ms, the
#                   longest interval between two counts as the host saw them, and
#                   guest_interval_ms, their median: the pause as the guest's output shows it,
#                   whichever VMM, and what a count costs without one
#   VMTIME          the limit of each VMM process (s)
#   SECCOMP         stratus-vmm's "seccomp" ("" its default)
# stratus-vmm and qemu-system-x86_64 are found on PATH; ip is called as /usr/bin/ip (L1's busybox
# shell would run its own applet, which has no netns).

vm_alive() { kill -0 $VMPID 2>/dev/null; }
wait_for() { # PATTERN LOG SECONDS [COUNT]: until PATTERN shows COUNT times (default 1) or the VM exits
  local n=0
  while [ $n -lt $(($3 * 5)) ]; do
    [ "$(grep -c "$1" "$2" 2>/dev/null)" -ge "${4:-1}" ] 2>/dev/null && return 0 # no file yet: not yet
    vm_alive || { [ "$(grep -c "$1" "$2" 2>/dev/null)" -ge "${4:-1}" ] 2>/dev/null; return; }
    usleep 200000; n=$((n + 1))
  done
  return 1
}
mig_get() { # SOCK OUT: GET /vm/migrate into OUT
  curl -s --unix-socket $1 http://localhost/vm/migrate > $2 2>/dev/null
}
mig_wait() { # SOCK OUT SECONDS: until the state is no longer active; 1 when it still is
  local n=0
  while [ $n -lt $(($3 * 5)) ]; do
    mig_get $1 $2
    grep -q '"state":"active"' $2 || return 0
    usleep 200000; n=$((n + 1))
  done
  return 1
}
mig_num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2" | head -1; }
mig_mib() { local b; b=$(mig_num transferred_bytes "$1"); echo $((${b:-0} / 1048576)); } # never an empty $(( ))

# migbench: the count guest (a 64 MiB pattern, rewritten at count.dirty MiB/s) migrated after its
# fifth count, per guest size and dirtying rate; QEMU with auto-converge on and max-bandwidth
# 10 GB/s (its default caps the link), through its human monitor on stdin. Prints one L1-BENCH
# migbench line per VMM and case (total_ms, downtime_ms, transferred MiB, rounds (QEMU: dirty
# sync count), throttle) and, for stratus-vmm, both sides' split of the downtime (L1-BENCH-INFO).
mb_kill() { # PID...: each process and its children (coreutils' timeout outlives a SIGKILL to
  local p  # it as a parent; busybox's is the VMM itself)
  for p in "$@"; do pkill -9 -P $p 2> /dev/null; kill -9 $p 2> /dev/null; done
}
mb_line() { # VMM MEM DIRTY STATUS-TEXT
  echo "L1-BENCH migbench vmm=$1 mem_mib=$2 dirty_mib_s=$3 downtime_budget_ms=$MB_DOWNTIME $4"
}
mb_serial() { # SEROUT: the path both VMMs write the serial output to (MB_STAMP: the stamping FIFO, started)
  if [ "$MB_STAMP" = 1 ]; then
    rm -f $MB_DIR/serial.fifo; mkfifo $MB_DIR/serial.fifo
    # its own writer end held open: the source's close is no end of file
    bash -c 'exec 3<> "$1"; while IFS= read -r l <&3; do printf "%s @%s\n" "$l" "$EPOCHREALTIME"; done' _ \
      $MB_DIR/serial.fifo > $MB_DIR/serial.log &
    STAMPPID=$!
    SEROUT=$MB_DIR/serial.fifo
  else
    SEROUT=$MB_DIR/serial.log
  fi
}
mb_gap() { # with MB_STAMP: " guest_gap_ms=N" (the stamping reader stopped), else nothing
  [ "$MB_STAMP" = 1 ] || return 0
  kill $STAMPPID 2> /dev/null; wait $STAMPPID 2> /dev/null
  awk '/^DATA count=[0-9]+ @/ { t = substr($NF, 2); if (p) { g[n++] = t - p; if (t - p > m) m = t - p } p = t }
       END { for (i = 1; i < n; i++) for (j = i; j > 0 && g[j - 1] > g[j]; j--) { x = g[j]; g[j] = g[j - 1]; g[j - 1] = x }
             printf " guest_gap_ms=%.0f guest_interval_ms=%.0f", m * 1000, n ? g[int(n / 2)] * 1000 : 0 }' $MB_DIR/serial.log
}
mb_qemu() { # MEM DIRTY CMDLINE
  local mem=$1 dirty=$2 d=$MB_DIR ser=$MB_DIR/serial.log tpid n line
  mb_serial
  set -- -enable-kvm -cpu $MB_QEMU_CPU -M pc -m $mem -bios $MB_QBOOT -nodefaults -display none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel $MB_GUEST -append "$3" \
    -chardev file,id=s0,path=$SEROUT,append=on -serial chardev:s0 -monitor stdio
  rm -f $d/qt-in $d/qs-in; mkfifo $d/qt-in $d/qs-in
  exec 8<> $d/qt-in 9<> $d/qs-in
  /usr/bin/ip netns exec $MB_NS2 timeout -s KILL $VMTIME qemu-system-x86_64 "$@" -incoming tcp:10.77.0.2:4444 < $d/qt-in > $d/qt.log 2>&1 8>&- 9>&- &
  tpid=$!
  sleep 2
  /usr/bin/ip netns exec $MB_NS1 timeout -s KILL $VMTIME qemu-system-x86_64 "$@" < $d/qs-in > $d/qs.log 2>&1 8>&- 9>&- &
  VMPID=$!
  if ! wait_for '^DATA count=5' $ser 60; then
    mb_line qemu $mem $dirty "failed: no count=5 ($(tail -c 300 $d/qt.log $d/qs.log | tr '\n' ' '))"
    mb_kill $VMPID $tpid; wait $VMPID $tpid; exec 8>&- 9>&-; mb_gap > /dev/null; return
  fi
  printf 'migrate_set_capability auto-converge on\nmigrate_set_parameter downtime-limit %s\nmigrate_set_parameter max-bandwidth 10G\nmigrate -d tcp:10.77.0.2:4444\n' $MB_DOWNTIME >&9
  n=0
  while [ $n -lt 600 ]; do
    echo 'info migrate' >&9; usleep 200000; n=$((n + 1))
    grep -q 'Migration status: \(completed\|failed\|cancelled\)' $d/qs.log && break
  done
  echo 'info migrate' >&9; usleep 500000
  line=$(awk '/Migration status:/{s=$3} /total time:/{t=$3} /^downtime:/{d=$2} /transferred ram:/{r=$3} /dirty sync count:/{c=$4} /throttle percentage:/{p=$3}
    END{printf "status=%s total_ms=%s downtime_ms=%s transferred_mib=%d rounds=%s throttle_pct=%s", s, t, d, r/1024, c, p}' $d/qs.log)
  usleep 300000 # a few counts on the target
  mb_line qemu $mem $dirty "$line$(mb_gap)"
  echo quit >&9
  mb_kill $tpid; wait $VMPID $tpid; exec 8>&- 9>&-
}
mb_stratus() { # MEM DIRTY CMDLINE
  local mem=$1 dirty=$2 d=$MB_DIR ser=$MB_DIR/serial.log tpid side st=$MB_DIR/status.json
  mb_serial
  for side in src dst; do
    printf '{"vcpus": 1, "memory_mib": %s, "kernel": "%s", "cmdline": "%s",\n "serial_log": "%s", "control_socket": "%s/%s.sock"%s}\n' \
      $mem $MB_GUEST "$3" $SEROUT $d $side "$([ -n "$SECCOMP" ] && printf ', "seccomp": %s' "$SECCOMP")" > $d/$side.json
  done
  : > $d/t.log # truncated here, not in the background child: wait_for must not find the last run's line
  /usr/bin/ip netns exec $MB_NS2 timeout -s KILL $VMTIME stratus-vmm --config $d/dst.json --incoming tcp:10.77.0.2:4444 --log-level info < /dev/null > $d/t.log 2>&1 &
  tpid=$!; VMPID=$tpid
  wait_for 'waiting for the migration' $d/t.log 60
  /usr/bin/ip netns exec $MB_NS1 timeout -s KILL $VMTIME stratus-vmm --config $d/src.json --log-level info < /dev/null > $d/s.log 2>&1 &
  VMPID=$!
  if ! wait_for '^DATA count=5' $ser 60; then
    mb_line stratus-vmm $mem $dirty "failed: no count=5"; mb_kill $VMPID $tpid; wait $VMPID $tpid; mb_gap > /dev/null; return
  fi
  curl -s -o $st -X PUT --unix-socket $d/src.sock -d "{\"uri\": \"tcp:10.77.0.2:4444\", \"downtime_ms\": $MB_DOWNTIME}" http://localhost/vm/migrate
  mig_wait $d/src.sock $st 120
  usleep 300000 # a few counts on the target
  mb_line stratus-vmm $mem $dirty "status=$(sed -n 's/.*"state":"\([a-z]*\)".*/\1/p' $st) total_ms=$(mig_num total_ms $st) downtime_ms=$(mig_num downtime_ms $st) transferred_mib=$(mig_mib $st) rounds=$(mig_num round $st) throttle_pct=$(mig_num throttle_pct $st)$(mb_gap)"
  # the downtime's split, both sides' (compute-node/vmm/README.md, Live migration)
  echo "L1-BENCH-INFO migbench mem_mib=$mem dirty_mib_s=$dirty source: $(grep -o 'migrated to [^"]*' $d/s.log)"
  echo "L1-BENCH-INFO migbench mem_mib=$mem dirty_mib_s=$dirty target: $(grep -o 'migrated in: [^"]*' $d/t.log)"
  curl -s -X PUT --unix-socket $d/src.sock -d '{"action": "stop"}' http://localhost/vm/actions
  mb_kill $VMPID $tpid; wait $VMPID $tpid
}
mb_run() { # VMM (qemu or stratus-vmm): every case under that VMM
  local mem dirty
  for mem in $MB_MEMS; do
    for dirty in $MB_DIRTIES; do
      rm -f $MB_DIR/serial.log $MB_DIR/src.sock $MB_DIR/dst.sock $MB_DIR/qs.log $MB_DIR/qt.log
      set -- "$1" "scenario=count count.n=$((60000 / MB_COUNT_MS)) count.ms=$MB_COUNT_MS count.mib=64 count.dirty=$dirty"
      if [ "$1" = qemu ]; then mb_qemu $mem $dirty "$2"; else mb_stratus $mem $dirty "$2"; fi
    done
  done
}
