#!/usr/bin/env bash
# A throwaway single-node Ceph cluster for tests: one mon and one OSD on the
# memstore object store (data in the OSD's RAM), all on 127.0.0.1, about 2 s
# to start (see ../shared/notes/ceph-single-node.md for the facts).
#
#   ceph-cluster.sh start DIR    create and start; prints the ceph.conf path
#   ceph-cluster.sh stop DIR     kill the daemons, remove DIR
#
# Ports are picked free at start, so several clusters (parallel test runs)
# never collide. An RBD pool "images" (layering) exists when start returns.
set -euo pipefail
cmd=${1:?usage: ceph-cluster.sh start|stop DIR}
dir=${2:?usage: ceph-cluster.sh start|stop DIR}

stop() {
  for f in "$dir"/run/*.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$dir"
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: ceph-cluster.sh start|stop DIR" >&2; exit 2; }
command -v ceph-mon >/dev/null || { echo "ceph-mon not installed (deploy/packages.txt)" >&2; exit 77; }

mkdir -p "$dir"/{mon,osd,run,log}
dir=$(cd "$dir" && pwd)
read -r p1 p2 < <(python3 -c '
import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
conf=$dir/ceph.conf
cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
keyring = $dir/keyring
run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool size one = true
mon allow pool delete = true
paxos propose interval = 0.1
mon data avail warn = 2
mon data avail crit = 1
rbd default features = 1
[client]
admin socket =
[mon.a]
mon data = $dir/mon
[osd.0]
osd data = $dir/osd
EOF
ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' \
  --cap osd 'allow *' >/dev/null
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]" \
  "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" 2>>"$dir/log/setup.log"
ceph-mon -c "$conf" -i a -f >>"$dir/log/mon.out" 2>&1 &
echo $! >"$dir/run/mon.a.pid"
uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
ceph -c "$conf" --connect-timeout 20 osd new "$uuid" >/dev/null 2>>"$dir/log/setup.log"
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid" >>"$dir/log/setup.log" 2>&1
ceph-osd -c "$conf" -i 0 -f >>"$dir/log/osd.out" 2>&1 &
echo $! >"$dir/run/osd.0.pid"
for _ in $(seq 400); do # up to ~40 s on a loaded machine
  ceph -c "$conf" osd dump 2>/dev/null | grep -q '^osd.0 up' && break
  sleep 0.1
done
ceph -c "$conf" osd dump 2>/dev/null | grep -q '^osd.0 up' || {
  echo "ceph: osd.0 did not come up" >&2; tail -20 "$dir"/log/* >&2; stop; exit 1; }
ceph -c "$conf" osd pool create images 8 >/dev/null 2>&1
rbd -c "$conf" pool init images >/dev/null
echo "$conf"
