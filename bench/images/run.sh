#!/usr/bin/env bash
# Image store benchmarks, each beside its physical-limit peer in the same run.
#
#   bash bench/images/run.sh [BUILD_DIR] [SIZE_MIB]     (defaults: build-images, 2048)
#
# 1. Upload of a SIZE_MIB image (curl -T to the data listener: streamed,
#    hashed, written, fsynced, stored) beside `cp` + `sha256sum` of the same
#    file (and `cp` + `sha256sum` + `sync`, the durable peer).
# 2. Download (curl to /dev/null: read, hashed, verified, sent) beside
#    `sha256sum` and `cat > /dev/null` of the stored blob.
# 3. Random 4 KiB reads and writes through stratus_disk on a qcow2 overlay
#    beside the raw file (bench_images_qcow2), and an allocating stride
#    pattern beside `qemu-img bench` doing the same writes.
# Build without sanitizers (RelWithDebInfo or Release). Needs PostgreSQL
# (deploy/pg.sh), curl and openssl. Scratch space: 3 x SIZE_MIB under $TMPDIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-images}
size_mib=${2:-2048}
work=$(mktemp -d "${TMPDIR:-/tmp}/images-bench.XXXXXX")
pgdir=$(mktemp -d /tmp/imgbpg.XXXXXX)
svc_pid=
cleanup() {
  [ -n "$svc_pid" ] && kill "$svc_pid" 2>/dev/null && wait "$svc_pid" 2>/dev/null || true
  bash "$top/deploy/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT

secs() { python3 -c "import sys; print(f'{float(sys.argv[1]):.2f}')" "$1"; }
now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):7.1f} MiB/s')" "$size_mib" "$1"; }
elapsed() { python3 -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$1" "$2"; }

echo "== generating a ${size_mib} MiB image of incompressible bytes"
openssl enc -aes-128-ctr -pass pass:stratus -nosalt -pbkdf2 </dev/zero 2>/dev/null |
  head -c "$((size_mib * 1048576))" >"$work/image.raw" || true # openssl ends on SIGPIPE
cat "$work/image.raw" >/dev/null # warm the page cache for every contender

echo "== peers"
t0=$(now); cp "$work/image.raw" "$work/copy.raw"; t1=$(now)
sha256sum "$work/image.raw" >"$work/sum"; t2=$(now)
sync; t3=$(now)
openssl dgst -sha256 "$work/image.raw" >/dev/null; t4=$(now)
cp_s=$(elapsed "$t0" "$t1"); sum_s=$(elapsed "$t1" "$t2"); sync_s=$(elapsed "$t2" "$t3")
ossl_s=$(elapsed "$t3" "$t4")
rm -f "$work/copy.raw"
peer_s=$(python3 -c "print($cp_s+$sum_s)"); peer_sync_s=$(python3 -c "print($cp_s+$sum_s+$sync_s)")
peer_ossl_s=$(python3 -c "print($cp_s+$ossl_s)")

echo "== starting PostgreSQL and stratus-images"
bash "$top/deploy/pg.sh" start "$pgdir" >/dev/null
url=$(bash "$top/deploy/pg.sh" url "$pgdir")
token=bench-token
"$build/image-store/stratus-images" --set "db.url=$url" --set auth.internal_token=$token \
  --set "store.path=$work/store" --set http.listen=127.0.0.1:0 --set data.listen=127.0.0.1:0 \
  --set "http.port_file=$work/api.port" --set "data.port_file=$work/data.port" \
  --set store.max_image_size=$((64 << 30)) --set http.access_log=false \
  2>"$work/service.log" &
svc_pid=$!
for _ in $(seq 100); do [ -s "$work/data.port" ] && [ -s "$work/api.port" ] && break; sleep 0.1; done
api=http://127.0.0.1:$(cat "$work/api.port"); data=http://127.0.0.1:$(cat "$work/data.port")
hdr=(-H "Authorization: Bearer $token" -H "X-Stratus-Tenant: 11111111-1111-4111-8111-111111111111"
     -H "X-Stratus-Role: member")
id=$(curl -sf "${hdr[@]}" -H 'Content-Type: application/json' \
  -d '{"name":"bench","disk_format":"raw"}' "$api/v1/images" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "== upload"
t0=$(now)
curl -sf "${hdr[@]}" -T "$work/image.raw" "$data/v1/images/$id/file" >"$work/up.json"
t1=$(now)
up_s=$(elapsed "$t0" "$t1")
grep -q "$(cut -d" " -f1 "$work/sum")" "$work/up.json" || {
  echo "upload checksum mismatch"; cat "$work/up.json"; exit 1; }

echo "== download"
blob=$(find "$work/store/blobs" -type f | head -n1)
t0=$(now); curl -sf "${hdr[@]}" "$data/v1/images/$id/file" -o /dev/null; t1=$(now)
down_s=$(elapsed "$t0" "$t1")
t0=$(now); sha256sum "$blob" >/dev/null; t1=$(now); dsum_s=$(elapsed "$t0" "$t1")
t0=$(now); cat "$blob" >/dev/null; t1=$(now); cat_s=$(elapsed "$t0" "$t1")

printf '\n%-44s %8s s  %s\n' "upload (curl -T, hashed, fsynced, stored)" "$(secs "$up_s")" "$(rate "$up_s")"
printf '%-44s %8s s  %s   ours/peer %.2fx\n' "peer: cp + sha256sum" "$(secs "$peer_s")" "$(rate "$peer_s")" \
  "$(python3 -c "print($up_s/$peer_s)")"
printf '%-44s %8s s  %s   ours/peer %.2fx\n' "peer: cp + sha256sum + sync" "$(secs "$peer_sync_s")" \
  "$(rate "$peer_sync_s")" "$(python3 -c "print($up_s/$peer_sync_s)")"
printf '%-44s %8s s  %s   ours/peer %.2fx\n' "peer: cp + openssl dgst -sha256 (SHA-NI)" "$(secs "$peer_ossl_s")" \
  "$(rate "$peer_ossl_s")" "$(python3 -c "print($up_s/$peer_ossl_s)")"
printf '%-44s %8s s  %s\n' "download (curl, verified while sent)" "$(secs "$down_s")" "$(rate "$down_s")"
printf '%-44s %8s s  %s   ours/peer %.2fx\n' "peer: sha256sum of the blob" "$(secs "$dsum_s")" "$(rate "$dsum_s")" \
  "$(python3 -c "print($down_s/$dsum_s)")"
printf '%-44s %8s s  %s\n\n' "peer: cat blob > /dev/null" "$(secs "$cat_s")" "$(rate "$cat_s")"

echo "== qcow2 overlay vs raw, random 4 KiB"
"$build/bench/images/bench_images_qcow2" "$work/image.raw" "$work" 3
echo "== peer for the allocating pattern: qemu-img bench on a qemu-made overlay"
qemu-img create -q -f qcow2 -b "$work/image.raw" -F raw "$work/qemu-ov.qcow2"
qemu-img bench -w -f qcow2 -t writeback -s 4096 -S 65536 -c 16384 -d 1 "$work/qemu-ov.qcow2" |
  tail -n1 | sed "s/^/qemu-img bench, the same 16384 writes: /"
