#!/usr/bin/env bash
# The gateway's cost of holding idle desired-set long-polls (issue 11 §3):
# RSS and CPU time of the stratus-gateway process with N long-polls held,
# beside the same gateway idle, same run; then one change for the node and
# how long until all N are answered.
#
#   bench/gateway/run-longpoll.sh [BUILD_DIR] [N] [SECONDS]
#
# BUILD_DIR (default build-bench) is configured Release without sanitizers
# if it does not exist. N defaults to 1000, SECONDS (each measurement) to 10.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-bench}
n=${2:-1000}
secs=${3:-10}
if [ ! -x "$build/api-gateway/stratus-gateway" ] || [ ! -x "$build/bench/gateway/bench_longpoll" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target stratus-gateway bench_longpoll >/dev/null
fi
gw="$build/api-gateway/stratus-gateway"
ulimit -n $((n + 1024))
work=$(mktemp -d /tmp/stratus-bench-lp.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -n "${gwpid:-}" ] && kill "$gwpid" 2>/dev/null || true
  "$top/deploy/pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
PG_SOCKET_SHARED=1 "$top/deploy/pg.sh" start "$work/pg" >/dev/null
db=$("$top/deploy/pg.sh" url "$work/pg")
export STRATUS_GATEWAY_DB_URL="$db"
export STRATUS_GATEWAY_LOG_LEVEL=warn
"$gw" migrate
token=$("$gw" node-add bench-node)
node=$(psql -Atq "$db" -c "SELECT id FROM iaas.nodes WHERE name = 'bench-node'")
"$gw" --listen 127.0.0.1:0 --port-file "$work/port" --set http.access_log=false \
  --set http.threads=2 --set db.pool_size=4 --set http.max_connections=$((n + 100)) \
  2>"$work/gw.log" &
gwpid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
etag=$(curl -sf -o /dev/null -D - -H "Authorization: Bearer $token" \
  "http://127.0.0.1:$port/internal/v1/node/instances" | awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')
"$build/bench/gateway/bench_longpoll" 127.0.0.1 "$port" "$gwpid" "$token" "$etag" "$n" "$secs" \
  "psql -Atq '$db' -c \"INSERT INTO iaas.node_desired_versions VALUES ('$node', 1)
     ON CONFLICT (node_id) DO UPDATE SET version = iaas.node_desired_versions.version + 1\""
echo "(stratus-gateway, 2 worker threads, $(nproc) cores; PostgreSQL in the same run)"
