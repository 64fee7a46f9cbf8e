#!/usr/bin/env bash
# Adds a compute host to a running Stratus cloud: registers it with the
# gateway (its one node credential, kept in its state directory), writes its
# node.conf, starts stratus-node, and waits until the gateway sees it up.
# Run it on the new host, as root, from a checkout of the same version.
#
#   deploy/add-node.sh NAME              add NAME and run its agent in the foreground
#   deploy/add-node.sh NAME --detach     add NAME, start its agent and return
#   deploy/add-node.sh stop NAME         stop NAME's agent (its VMMs keep running;
#                                        a new agent adopts them)
#
# Environment (defaults match deploy/run-cloud.sh on this host):
#   STRATUS_GATEWAY       the gateway's URL              [http://127.0.0.1:8080]
#   STRATUS_IMAGES        the image service's API URL    [gateway port + 1]
#   STRATUS_IMAGES_DATA   its data listener's URL        [gateway port + 2]
#   STRATUS_BILLING       billing's URL                  [gateway port + 3]
#   STRATUS_ADMIN_TOKEN   a cloud admin's token; or STRATUS_ADMIN_PASSWORD
#                         (user STRATUS_ADMIN, default admin) to sign in
#   STRATUS_NODE_HOME     the node's state               [var/nodes/NAME]
#   STRATUS_NODE_CONF     extra `key = value` lines for node.conf (driver,
#                         capacity, network.tunnel_ip, ...; see
#                         compute-node/agent/node.conf.example)
#   STRATUS_BUILD         a build tree that already holds stratus-node and
#                         stratus-vmm (default: install what is needed and
#                         build into build/)
#   STRATUS_NETNS         run the agent inside this network namespace (a
#                         second "host" on one machine, as the tests do)
# A host added again keeps its credential; one whose credential was lost
# gets a new one (the old one stops working everywhere at once).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = stop ]; then
  name=${2:?usage: deploy/add-node.sh stop NAME}
  nhome=${STRATUS_NODE_HOME:-$top/var/nodes/$name}
  if [ -f "$nhome/node.pid" ]; then
    kill "$(cat "$nhome/node.pid")" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$(cat "$nhome/node.pid")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$nhome/node.pid"
  fi
  echo "stratus: node $name stopped"
  exit 0
fi
name=${1:?usage: deploy/add-node.sh NAME [--detach] | stop NAME}
mode=${2:-foreground}
gateway=${STRATUS_GATEWAY:-http://127.0.0.1:8080}
gwport=${gateway##*:}
gwport=${gwport%%/*}
gwhost=${gateway%:*}
images=${STRATUS_IMAGES:-$gwhost:$((gwport + 1))}
images_data=${STRATUS_IMAGES_DATA:-$gwhost:$((gwport + 2))}
billing=${STRATUS_BILLING:-$gwhost:$((gwport + 3))}
nhome=${STRATUS_NODE_HOME:-$top/var/nodes/$name}
netns=${STRATUS_NETNS:-}
inns() { if [ -n "$netns" ]; then ip netns exec "$netns" "$@"; else "$@"; fi; }

if [ -n "${STRATUS_BUILD:-}" ] && [ -x "$STRATUS_BUILD/compute-node/agent/stratus-node" ]; then
  build=$STRATUS_BUILD
else
  build=${STRATUS_BUILD:-$top/build}
  bash "$top/deploy/install-deps.sh"
  echo "== building"
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target stratus-node stratus-vmm -- --no-print-directory >/dev/null
fi
node="$build/compute-node/agent/stratus-node"
vmm="$build/compute-node/vmm/stratus-vmm"

api() { # method path [body]
  curl -s -X "$1" -H 'Content-Type: application/json' -H "Authorization: Bearer $admin" \
    ${3:+-d "$3"} "$gateway$2"
}
json() { python3 -c 'import json,sys
d = json.load(sys.stdin)
for k in sys.argv[1:]:
    d = d[k] if isinstance(d, dict) else next((x for x in d if x.get("name") == k), {})
print(d if not isinstance(d, (dict, list)) else "")' "$@" 2>/dev/null || true; }

mkdir -p "$nhome"
chmod 700 "$nhome"
admin=${STRATUS_ADMIN_TOKEN:-}
if [ ! -s "$nhome/credential" ] || [ -z "$admin" ]; then
  if [ -z "$admin" ] && [ -n "${STRATUS_ADMIN_PASSWORD:-}" ]; then
    admin=$(curl -s -X POST -H 'Content-Type: application/json' "$gateway/v1/auth/tokens" \
      -d "{\"name\":\"${STRATUS_ADMIN:-admin}\",\"password\":\"$STRATUS_ADMIN_PASSWORD\"}" | json token)
  fi
fi
if [ ! -s "$nhome/credential" ]; then
  [ -n "$admin" ] || { echo "stratus: set STRATUS_ADMIN_TOKEN or STRATUS_ADMIN_PASSWORD" >&2; exit 2; }
  echo "== registering $name with $gateway"
  cred=$(api POST /v1/nodes "{\"name\":\"$name\"}" | json token)
  if [ -z "$cred" ]; then # registered before, credential lost: a new one
    id=$(api GET /v1/nodes | json nodes "$name" id)
    [ -n "$id" ] || { echo "stratus: the gateway refused to register $name" >&2; exit 1; }
    cred=$(api POST "/v1/nodes/$id/credential" | json token)
  fi
  [ -n "$cred" ] || { echo "stratus: no credential for $name" >&2; exit 1; }
  (umask 077; printf '%s\n' "$cred" >"$nhome/credential")
fi

(umask 077; cat >"$nhome/node.conf" <<CONF
# written by deploy/add-node.sh
node.name = $name
node.credential = $(cat "$nhome/credential")
gateway.url = $gateway
images.url = $images
images.data_url = $images_data
billing.url = $billing
state_dir = $nhome/state
vmm.path = $vmm
http.listen = 127.0.0.1:0
http.port_file = $nhome/node.port
${STRATUS_NODE_CONF:-}
CONF
)
"$node" --config "$nhome/node.conf" --check-config >/dev/null

if [ -f "$nhome/node.pid" ] && kill -0 "$(cat "$nhome/node.pid")" 2>/dev/null; then
  kill "$(cat "$nhome/node.pid")"
  for _ in $(seq 100); do kill -0 "$(cat "$nhome/node.pid")" 2>/dev/null || break; sleep 0.1; done
fi
echo "== starting stratus-node $name"
inns "$node" --config "$nhome/node.conf" >>"$nhome/node.log" 2>&1 &
echo $! >"$nhome/node.pid"

# The gateway sees it once its first heartbeat lands.
state=""
for _ in $(seq 150); do
  kill -0 "$(cat "$nhome/node.pid")" 2>/dev/null ||
    { tail -n 20 "$nhome/node.log" >&2; echo "stratus: stratus-node $name exited" >&2; exit 1; }
  [ -n "$admin" ] || break
  state=$(api GET /v1/nodes | json nodes "$name" state)
  [ "$state" = up ] && break
  sleep 0.2
done
echo "stratus: node $name is ${state:-started}; state and log in $nhome"
if [ "$mode" = --detach ]; then
  exit 0
fi
trap 'kill "$(cat "$nhome/node.pid")" 2>/dev/null; rm -f "$nhome/node.pid"; exit 0' INT TERM
wait "$(cat "$nhome/node.pid")" || true
