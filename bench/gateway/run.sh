#!/usr/bin/env bash
# API benchmark: wrk against stratus-gateway beside nginx serving a static
# JSON file of the same size, same machine, same run.
#
#   bench/gateway/run.sh [BUILD_DIR] [SECONDS]
#
# BUILD_DIR (default build-bench) is configured Release without sanitizers
# if it does not exist. Measures:
#   1. GET /v1/instances, authenticated, a tenant with 100 instances: the
#      page unchanged between requests (the gateway reuses its rendered page
#      after the per-request database check), the same with If-None-Match
#      (304), and a second gateway with the list cache off (every request
#      renders the page from the database)
#   2. a node agent's poll of its desired set (the same 100 instances): the
#      whole set, and the 304 while nothing for the node changed
#   3. POST /v1/auth/tokens (argon2id at the production parameters)
# and nginx serving each response's bytes as a static file.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-bench}
secs=${2:-10}
conns=${CONNS:-32}
threads=${GW_THREADS:-4}
command -v wrk >/dev/null || { echo "wrk is not installed (deploy/install-deps.sh)"; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (deploy/install-deps.sh)"; exit 1; }
if [ ! -x "$build/api-gateway/stratus-gateway" ] || [ ! -x "$build/image-store/stratus-images" ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target stratus-gateway stratus-images >/dev/null
fi
gw="$build/api-gateway/stratus-gateway"
work=$(mktemp -d /tmp/stratus-bench-gw.XXXXXX)
chmod 755 "$work" # the postgres user must reach the cluster under it
cleanup() {
  [ -n "${gwpid:-}" ] && kill "$gwpid" 2>/dev/null || true
  [ -n "${gw2pid:-}" ] && kill "$gw2pid" 2>/dev/null || true
  [ -n "${imgpid:-}" ] && kill "$imgpid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  "$top/deploy/pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

PG_SOCKET_SHARED=1 "$top/deploy/pg.sh" start "$work/pg" >/dev/null
export STRATUS_GATEWAY_DB_URL="$("$top/deploy/pg.sh" url "$work/pg")"
export STRATUS_GATEWAY_LOG_LEVEL=warn
"$gw" migrate
STRATUS_ADMIN_PASSWORD=bench-admin-password "$gw" bootstrap-admin admin >/dev/null
node_token=$("$gw" node-add bench-node)
internal=$(openssl rand -hex 16)
mkdir -p "$work/images"
"$build/image-store/stratus-images" --listen 127.0.0.1:0 --port-file "$work/img-port" \
  --set db.url="$STRATUS_GATEWAY_DB_URL" --set auth.internal_token="$internal" \
  --set store.path="$work/images" --set data.listen=127.0.0.1:0 --set http.access_log=false \
  2>"$work/images.log" &
imgpid=$!
for _ in $(seq 100); do [ -s "$work/img-port" ] && break; sleep 0.05; done
"$gw" --set images.url="http://127.0.0.1:$(cat "$work/img-port")" --set auth.internal_token="$internal" \
  --listen 127.0.0.1:0 --port-file "$work/port" --set http.access_log=false \
  --set http.threads="$threads" --set db.pool_size=$((threads * 2)) \
  --set auth.signin_ip_limit=100000000 --set auth.signin_user_limit=100000000 \
  --set quota.instances=1000 --set quota.vcpus=1000 --set quota.memory_mib=10000000 \
  2>"$work/gw.log" &
gwpid=$!
# the same gateway with the list cache off, on the same database
"$gw" --set images.url="http://127.0.0.1:$(cat "$work/img-port")" --set auth.internal_token="$internal" \
  --listen 127.0.0.1:0 --port-file "$work/port2" --set http.access_log=false \
  --set http.threads="$threads" --set db.pool_size=$((threads * 2)) \
  --set instances.list_cache_mb=0 2>"$work/gw2.log" &
gw2pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && [ -s "$work/port2" ] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$work/port")"
base2="http://127.0.0.1:$(cat "$work/port2")"
j() { curl -sf -H 'Content-Type: application/json' "$@"; }
tok() { python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
admin=$(j -X POST "$base/v1/auth/tokens" -d '{"name":"admin","password":"bench-admin-password"}' | tok)
A=(-H "Authorization: Bearer $admin")
j "${A[@]}" -X POST "$base/v1/tenants" -d '{"name":"bench"}' >/dev/null
j "${A[@]}" -X POST "$base/v1/users" -d '{"name":"bench-user","password":"bench-password"}' >"$work/user.json"
uid=$(python3 -c 'import json; print(json.load(open("'"$work/user.json"'"))["id"])')
tid=$(j "${A[@]}" "$base/v1/tenants" | python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin)["tenants"] if t["name"]=="bench"][0])')
j "${A[@]}" -X PUT "$base/v1/tenants/$tid/members/$uid" -d '{"role":"member"}' >/dev/null
j "${A[@]}" -X PUT "$base/v1/tenants/$tid/quotas" -d '{"instances":1000,"vcpus":1000}' >/dev/null
j "${A[@]}" -X POST "$base/v1/flavors" -d '{"name":"b1","vcpus":1,"memory_mib":64,"disk_gib":1}' >/dev/null
img=$(j "${A[@]}" -X POST "$base/v1/images" -d '{"name":"img","disk_format":"raw","kind":"kernel","visibility":"public"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
url=$(j "${A[@]}" -X POST "$base/v1/images/$img/upload-url" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
head -c 1048576 /dev/zero | curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @- "$url" >/dev/null
j -H "Authorization: Bearer $node_token" -X PUT "$base/internal/v1/node" \
  -d '{"capacity":{"vcpus":10000,"memory_mib":100000000,"disk_gib":1000000}}' >/dev/null
user=$(j -X POST "$base/v1/auth/tokens" -d '{"name":"bench-user","password":"bench-password"}' | tok)
for i in $(seq 100); do
  j -H "Authorization: Bearer $user" -X POST "$base/v1/instances" \
    -d "{\"name\":\"vm-$i\",\"flavor\":\"b1\",\"image\":\"img\",\"networks\":\"none\"}" >/dev/null
done
mkdir -p "$work/www"
j -H "Authorization: Bearer $user" "$base/v1/instances" >"$work/www/list.json"
etag=$(curl -sf -o /dev/null -D - -H "Authorization: Bearer $user" "$base/v1/instances" |
  awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')
cmp -s "$work/www/list.json" <(j -H "Authorization: Bearer $user" "$base2/v1/instances") ||
  { echo "the two gateways disagree on the list"; exit 1; }
count=$(python3 -c 'import json; print(len(json.load(open("'"$work/www/list.json"'"))["instances"]))')
j -X POST "$base/v1/auth/tokens" -d '{"name":"bench-user","password":"bench-password"}' >"$work/www/token.json"

# nginx: the same bytes as static files, as fast as this box serves HTTP.
cat >"$work/nginx.conf" <<CONF
worker_processes $(nproc);
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon on;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:0;
    root $work/www;
  }
}
CONF
# nginx cannot listen on port 0 and tell us; pick a free port.
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/127.0.0.1:0/127.0.0.1:$nport/" "$work/nginx.conf"
[ "$(id -u)" = 0 ] && sed -i "1i user root;" "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3
nbase="http://127.0.0.1:$nport"

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"bench-user","password":"bench-password"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# CPU seconds used so far by the gateway and by every postgres process.
cpu_of() { # pid-list -> seconds (utime + stime)
  local t=0
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
pg_pids() { pgrep -d ' ' -x postgres || true; }

run() { # label, wrk args...
  local label=$1; shift
  local out rps p99
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-44s %12s req/s   p99 %s\n' "$label" "$rps" "$p99"
  echo "$rps" >"$work/last"
}

echo "machine: $(nproc) cores; wrk -t2 -c$conns -d${secs}s; gateway http.threads=$threads"
echo "GET /v1/instances: $count instances, $(stat -c %s "$work/www/list.json") bytes"
tick=$(getconf CLK_TCK)
# measured GATEWAY_PID LABEL WRK-ARGS...: a run, then the CPU it cost per request
measured() {
  local pid=$1 g0 p0 g1 p1; shift
  g0=$(cpu_of "$pid"); p0=$(cpu_of $(pg_pids))
  run "$@"
  g1=$(cpu_of "$pid"); p1=$(cpu_of $(pg_pids))
  python3 -c "
n = $(cat "$work/last") * $secs
print('  CPU per request: gateway %.0f us, postgres %.0f us (of %d cores)' %
      (($g1 - $g0) / $tick / n * 1e6, ($p1 - $p0) / $tick / n * 1e6, $(nproc)))"
}
measured "$gwpid" "stratus-gateway GET /v1/instances (auth)" -H "Authorization: Bearer $user" "$base/v1/instances"
ours=$(cat "$work/last")
if [ -n "${PROFILE:-}" ]; then # PROFILE=1: a system-wide perf profile of the list load
  wrk -t2 -c"$conns" -d20s -H "Authorization: Bearer $user" "$base/v1/instances" >/dev/null &
  wrkpid=$!
  sleep 3
  perf record -a -g -o "${PROFILE_OUT:-/tmp/stratus-gw.perf}" -- sleep 8 >/dev/null 2>&1
  wait "$wrkpid"
fi
run "same, If-None-Match: its ETag (304)" -H "Authorization: Bearer $user" \
  -H "If-None-Match: $etag" "$base/v1/instances"
revalidate=$(cat "$work/last")
measured "$gw2pid" "same, list cache off (render every time)" -H "Authorization: Bearer $user" "$base2/v1/instances"
render=$(cat "$work/last")
run "nginx static list.json (same bytes)" "$nbase/list.json"
theirs=$(cat "$work/last")
python3 -c "print('  gateway / nginx = %.1f%% (page reused), %.1f%% (rendered every time)' % (100*$ours/$theirs, 100*$render/$theirs))"
run "nginx, If-None-Match: its ETag (304)" -H "If-None-Match: $(curl -sf -o /dev/null -D - "$nbase/list.json" | awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')" "$nbase/list.json"
python3 -c "print('  gateway / nginx = %.1f%% (304)' % (100*$revalidate/$(cat "$work/last")))"
# A node agent's poll of its orders: the whole desired set, and the 304 it
# gets while nothing for it changed (what agents mostly receive).
j -H "Authorization: Bearer $node_token" "$base/internal/v1/node/instances" >"$work/www/desired.json"
netag=$(curl -sf -o /dev/null -D - -H "Authorization: Bearer $node_token" "$base/internal/v1/node/instances" |
  awk 'tolower($1)=="etag:" {print $2}' | tr -d '\r')
echo "GET /internal/v1/node/instances: $count instances, $(stat -c %s "$work/www/desired.json") bytes"
measured "$gwpid" "stratus-gateway node desired set (200)" -H "Authorization: Bearer $node_token" \
  "$base/internal/v1/node/instances"
measured "$gwpid" "same, If-None-Match: its ETag (304)" -H "Authorization: Bearer $node_token" \
  -H "If-None-Match: $netag" "$base/internal/v1/node/instances"
echo "POST /v1/auth/tokens: argon2id t=2 m=19456 KiB, $(stat -c %s "$work/www/token.json") bytes"
run "stratus-gateway POST /v1/auth/tokens" -s "$work/post.lua" "$base/v1/auth/tokens"
ours=$(cat "$work/last")
run "nginx static token.json (same bytes)" "$nbase/token.json"
theirs=$(cat "$work/last")
python3 -c "print('  gateway / nginx = %.2f%%' % (100*$ours/$theirs))"
