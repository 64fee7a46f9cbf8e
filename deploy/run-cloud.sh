#!/usr/bin/env bash
# Installs what is needed, builds, and runs a single-host Stratus cloud:
# PostgreSQL, the gateway, the image service, billing and one compute node
# (stratus-node driving stratus-vmm and the host's tenant networks), then
# boots a demo instance from the project's test guest with a port on the demo
# tenant's default network, and prints its console and address.
#
#   deploy/run-cloud.sh            run in the foreground; Ctrl-C stops everything
#   deploy/run-cloud.sh --detach   start and return
#   deploy/run-cloud.sh stop       stop a detached cloud (and remove the node's
#                                  bridges, taps, router namespaces, nft tables)
#
# State (the private PostgreSQL cluster, logs, generated passwords) lives in
# $STRATUS_HOME (default: var/ in the checkout). Running it again reuses the
# same state: the database, the admin and the demo tenant persist.
# The API listens on 127.0.0.1:${STRATUS_PORT:-8080}.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
home=${STRATUS_HOME:-$top/var}
port=${STRATUS_PORT:-8080}
build=${STRATUS_BUILD:-$top/build}
mode=${1:-foreground}

stop_all() {
  local nodepid=""
  [ -f "$home/node.pid" ] && nodepid=$(cat "$home/node.pid")
  for svc in node gateway images billing; do
    if [ -f "$home/$svc.pid" ]; then
      kill "$(cat "$home/$svc.pid")" 2>/dev/null || true
      rm -f "$home/$svc.pid"
    fi
  done
  # The node agent leaves its VMMs running when it stops (a restarted agent
  # adopts them); stopping this whole cloud ends them too.
  pkill -TERM -f -- "--api-sock $home/node/" 2>/dev/null || true
  # What the node built on the host outlives it too: bridges, VXLAN devices,
  # taps, router namespaces, dnsmasq servers, the nftables tables. Removed
  # once the agent is gone (it would build them again); only as root, the
  # only way they were built.
  if [ -n "$nodepid" ]; then
    for _ in $(seq 100); do kill -0 "$nodepid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ "$(id -u)" = 0 ] && [ -f "$home/node.conf" ] && [ -x "$build/compute-node/agent/stratus-node" ]; then
    "$build/compute-node/agent/stratus-node" --config "$home/node.conf" teardown-network \
      2>>"$home/node.log" || echo "stratus: the node's networks were not all removed (see node.log)" >&2
  fi
  # (should that fail, the DHCP servers at least, by their pid files)
  for f in "$home"/node/net/dhcp-*.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  [ -d "$home/pg" ] && "$top/deploy/pg.sh" stop "$home/pg" || true
}

if [ "$mode" = stop ]; then
  stop_all
  echo "stratus: stopped"
  exit 0
fi

bash "$top/deploy/install-deps.sh"
echo "== building"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" -- --no-print-directory >/dev/null
gw="$build/api-gateway/stratus-gateway"
images="$build/image-store/stratus-images"
billing="$build/billing/stratus-billing"
node="$build/compute-node/agent/stratus-node"
vmm="$build/compute-node/vmm/stratus-vmm"
guest="$build/tests/guest/guest.elf"

mkdir -p "$home"
chmod 755 "$home" # the postgres user must reach the cluster inside
echo "== database"
"$top/deploy/pg.sh" start "$home/pg"
secret() { # a password generated once and kept in $home
  [ -s "$home/$1" ] || (umask 077; openssl rand -hex 12 >"$home/$1")
  cat "$home/$1"
}
internal=$(secret internal-token)
metrics=$(secret metrics-token) # the operator's scraper reads the gateway's /metrics with it
dburl=$("$top/deploy/pg.sh" url "$home/pg")
mkdir -p "$home/images"
cat >"$home/images.conf" <<CONF
# written by deploy/run-cloud.sh
http.listen = 127.0.0.1:$((port + 1))
data.listen = 127.0.0.1:$((port + 2))
db.url = $dburl
auth.internal_token = $internal
store.path = $home/images
# image storage per tenant, reported to billing at start and hourly with
# the internal token (billing.token defaults to auth.internal_token)
billing.url = http://127.0.0.1:$((port + 3))
CONF
cat >"$home/billing.conf" <<CONF
# written by deploy/run-cloud.sh
http.listen = 127.0.0.1:$((port + 3))
db.url = $dburl
auth.internal_token = $internal
CONF
cat >"$home/gateway.conf" <<CONF
# written by deploy/run-cloud.sh
http.listen = 127.0.0.1:$port
db.url = $dburl
auth.internal_token = $internal
images.url = http://127.0.0.1:$((port + 1))
images.data_url = http://127.0.0.1:$((port + 2))
billing.url = http://127.0.0.1:$((port + 3))
metrics.token = $metrics
log.level = info
CONF
"$gw" --config "$home/gateway.conf" migrate 2>>"$home/gateway.log"
admin_pw=$(secret admin-password)
STRATUS_ADMIN_PASSWORD=$admin_pw "$gw" --config "$home/gateway.conf" bootstrap-admin admin \
  2>/dev/null >/dev/null || true # exists already on a re-run

start_service() { # name binary conf
  local name=$1 bin=$2 conf=$3
  [ -f "$home/$name.pid" ] && kill "$(cat "$home/$name.pid")" 2>/dev/null && sleep 0.5 || true
  rm -f "$home/$name.port"
  "$bin" --config "$conf" --port-file "$home/$name.port" >>"$home/$name.log" 2>&1 &
  echo $! >"$home/$name.pid"
  for _ in $(seq 200); do [ -s "$home/$name.port" ] && break; sleep 0.05; done
  [ -s "$home/$name.port" ] || { tail -n 20 "$home/$name.log"; echo "stratus: $name did not start" >&2; exit 1; }
}
echo "== image service"
start_service images "$images" "$home/images.conf"
echo "== billing"
start_service billing "$billing" "$home/billing.conf"
echo "== gateway"
start_service gateway "$gw" "$home/gateway.conf"

echo "== compute node"
# The node's one credential, issued by the gateway once and kept; billing and
# the image service check it through the gateway's facts. The internal token
# stays with the control plane: it is never written into the node's config.
# (A node registered before but whose credential is lost gets a new one.)
if [ ! -s "$home/node-credential" ]; then
  (umask 077; "$gw" --config "$home/gateway.conf" node-add node-1 2>>"$home/gateway.log" \
     >"$home/node-credential" ||
   "$gw" --config "$home/gateway.conf" node-rotate node-1 2>>"$home/gateway.log" \
     >"$home/node-credential")
fi
rm -f "$home/node-token" "$home/billing-node-token" # three credentials of old
[ -s "$home/node-credential" ] ||
  { echo "stratus: cannot make the node's credential (see gateway.log)" >&2; exit 1; }
mkdir -p "$home/node"
(umask 077; cat >"$home/node.conf" <<CONF
# written by deploy/run-cloud.sh
node.name = node-1
node.credential = $(cat "$home/node-credential")
gateway.url = http://127.0.0.1:$port
images.url = http://127.0.0.1:$((port + 1))
images.data_url = http://127.0.0.1:$((port + 2))
billing.url = http://127.0.0.1:$((port + 3))
state_dir = $home/node
vmm.path = $vmm
http.listen = 127.0.0.1:$((port + 4))
# tenant networks: one host, so VXLAN's endpoint is loopback (nothing leaves
# the host); on by itself when run as root with dnsmasq and nftables
network.tunnel_ip = ${STRATUS_TUNNEL_IP:-127.0.0.1}
network.underlay_dev = ${STRATUS_UNDERLAY:-lo}
CONF
)
start_service node "$node" "$home/node.conf"
base="http://127.0.0.1:$port"

api() { # method path token [body]
  curl -s -X "$1" -H 'Content-Type: application/json' ${3:+-H "Authorization: Bearer $3"} \
    ${4:+-d "$4"} "$base$2"
}
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get(sys.argv[1]) or "")' "$1"; }
admin=$(api POST /v1/auth/tokens "" "{\"name\":\"admin\",\"password\":\"$admin_pw\"}" | field token)
[ -n "$admin" ] || { echo "stratus: the admin cannot sign in (is $home/admin-password stale?)" >&2; exit 1; }

echo "== default price plan"
# Every tenant without a plan of its own is billed by the default plan, so a
# fresh cloud charges from its first sample instead of billing 0.00. Prices
# are integer micro-units of EUR (billing/README.md, "The default plan"):
# instance time per second with a 60 s minimum a boot, at 0.01 EUR/hour
# (m1.tiny 0.005, m1.small 0.02), CPU free
# (time covers it), data in free, data out 0.09 EUR/GiB, images
# 0.05 EUR/GiB-month, instance disks (allocated) 0.08 EUR/GiB-month,
# floating IPs 0.005 EUR an hour held. A re-run finds it (409) and changes
# nothing.
api POST /v1/billing/plans "$admin" '{"name":"default","default":true,
  "description":"created by deploy/run-cloud.sh; see billing/README.md",
  "prices":{"cpu_per_gcycle":0,"rx_per_gib":0,"tx_per_gib":90000,
    "storage_per_gib_month":50000,"instance_hour_default":10000,
    "disk_per_gib_month":80000,"floating_ip_hour":5000,
    "instance_hour":{"m1.tiny":5000,"m1.small":20000},
    "time_unit":"second","min_seconds":60}}' >/dev/null

echo "== demo tenant"
demo_pw=$(secret demo-password)
api POST /v1/tenants "$admin" '{"name":"demo","description":"the demo tenant"}' >/dev/null
api POST /v1/users "$admin" "{\"name\":\"demo\",\"password\":\"$demo_pw\"}" >/dev/null
tid=$(api GET /v1/tenants "$admin" | python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin)["tenants"] if t["name"]=="demo"][0])')
uid=$(api GET /v1/users "$admin" | python3 -c 'import json,sys; print([u["id"] for u in json.load(sys.stdin)["users"] if u["name"]=="demo"][0])')
api PUT "/v1/tenants/$tid/members/$uid" "$admin" '{"role":"admin"}' >/dev/null
api POST /v1/flavors "$admin" '{"name":"m1.tiny","vcpus":1,"memory_mib":64,"disk_gib":1}' >/dev/null
api POST /v1/flavors "$admin" '{"name":"m1.small","vcpus":1,"memory_mib":512,"disk_gib":10}' >/dev/null
demo=$(api POST /v1/auth/tokens "" "{\"name\":\"demo\",\"password\":\"$demo_pw\"}" | field token)

echo "== demo image and instance"
# The project's test guest is the demo image: stratus-vmm boots kernels
# directly, and this host's nested KVM runs the test guest where a stock
# Linux kernel would crawl (see tests/guest/README.md).
img=$(api GET /v1/images "$demo" | python3 -c 'import json,sys; print(next((i["id"] for i in json.load(sys.stdin)["images"] if i["name"]=="stratus-test-guest" and i["status"]=="active"), ""))')
if [ -z "$img" ]; then
  img=$(api POST /v1/images "$demo" '{"name":"stratus-test-guest","disk_format":"raw","kind":"kernel"}' | field id)
  url=$(api POST "/v1/images/$img/upload-url" "$demo" | field url)
  # a raw image is whole 512-byte sectors
  padded="$home/guest.raw"
  cp "$guest" "$padded"
  truncate -s $(( ( $(stat -c %s "$guest") + 511 ) / 512 * 512 )) "$padded"
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$padded" "$url" >/dev/null ||
    { echo "stratus: uploading the demo image failed" >&2; exit 1; }
fi
# user_data "cmdline: ..." becomes the guest's command line (compute-node/agent)
ud=$(printf 'cmdline: scenario=boot' | base64 -w0)
inst=$(curl -s -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $demo" \
  -H 'Idempotency-Key: run-cloud-demo' "$base/v1/instances" \
  -d "{\"name\":\"demo\",\"flavor\":\"m1.tiny\",\"image\":\"$img\",\"user_data\":\"$ud\"}" | field id)
[ -n "$inst" ] || { echo "stratus: creating the demo instance failed" >&2; exit 1; }
state=""
for _ in $(seq 150); do
  state=$(api GET "/v1/instances/$inst" "$demo" | field state)
  out=$(api GET "/v1/instances/$inst/console" "$demo" | field output)
  case "$state" in active|stopped) [ -n "$out" ] && break ;; error) break ;; esac
  sleep 0.2
done
echo "demo instance $inst is $state; its console:"
if [ "$state" = error ]; then
  echo "  fault: $(api GET "/v1/instances/$inst" "$demo" | field fault)"
fi
api GET "/v1/instances/$inst/console" "$demo" | field output | sed 's/^/  | /'
# it has a port on the demo tenant's default network (made on first use)
addr=$(api GET "/v1/ports?instance_id=$inst" "$demo" | python3 -c 'import json,sys
ps = json.load(sys.stdin).get("ports") or []
print(" ".join(f"{i[\"ip_address\"]} ({p.get(\"mac_address\", \"\")}, network {p[\"network_id\"]})"
               for p in ps for i in p.get("fixed_ips") or []))' 2>/dev/null || true)
echo "demo instance address: ${addr:-none}"
# the node's metadata service (169.254.169.254 from the instance's port):
# one listener per network bridge, on network.metadata_port
if ss -Hltn 'sport = :8775' 2>/dev/null | grep -q '%stb'; then
  md="listening on the demo network's bridge (port 8775; guests reach it as 169.254.169.254)"
elif [ "$state" = error ]; then
  md="not listening: the demo instance failed (fault above), so no port of it is on this host"
else
  md="not listening (see node.log: tenant networks need root, dnsmasq and nftables)"
fi
echo "metadata service: $md"

cat <<MSG

Stratus is running.
  API          $base/v1   (OpenAPI: $base/v1/openapi.json, health: $base/healthz)
  metrics      curl -s -H "Authorization: Bearer \$(cat $home/metrics-token)" $base/metrics
  dashboard    $base/dashboard/  (sign in as demo or admin; the browser talks to the API above)
  cloud admin  admin / $admin_pw
  demo tenant  demo / $demo_pw
  images       upload through the API: POST /v1/images, then PUT the bytes to its upload-url
  billing      GET /v1/billing/usage, /v1/billing/invoices (JSON, CSV, HTML, PDF)
  compute node node-1: state in $home/node (instances/<id>/serial.log, vmm.log)
  demo network the instance's port: ${addr:-none}; on this host its tap is on
               bridge stb<vni> (\`ip -d link show type bridge\`), DHCP from
               dnsmasq ($home/node/net), rules in \`nft list table bridge stratus\`;
               metadata at 169.254.169.254 (instance-id, public key, user-data): $md
  state, logs  $home   (gateway.log, images.log, billing.log, node.log, pg/postgres.log)

Try:
  curl -s -H 'Authorization: Bearer $demo' $base/v1/quotas
  curl -s -H 'Authorization: Bearer $demo' $base/v1/flavors

The demo instance ran the test guest's boot scenario, which powers the guest
off when done (state stopped); start it again with
  curl -s -X POST -H 'Authorization: Bearer $demo' -H 'Content-Type: application/json' \\
    -d '{"action":"start"}' $base/v1/instances/$inst/actions
MSG

if [ "$mode" = --detach ]; then
  echo "Stop it with: deploy/run-cloud.sh stop"
  exit 0
fi
echo "Ctrl-C stops the cloud."
trap 'echo; stop_all; echo "stratus: stopped"; exit 0' INT TERM
wait "$(cat "$home/gateway.pid")" || true
stop_all
