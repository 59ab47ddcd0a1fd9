#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# GET /v1/vms with 1,000 VMs over the unix socket, keep-alive, 2 concurrent clients,
# beside nginx serving the same JSON bytes from a file over a unix socket (the ceiling).
# Prints requests/s, p50 and p99 for both, and bangerd's RSS idle and after the load.
#   bench/list-vms.sh [REQUESTS]     (default 20000 per server)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}

scripts/bootstrap --bench
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DBANGER_TESTS=OFF >/dev/null
cmake --build build/bench -j"$(nproc)" --target bangerd >/dev/null

T=$(mktemp -d /tmp/banger-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

export XDG_RUNTIME_DIR=$T/run XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
sock=$XDG_RUNTIME_DIR/banger/bangerd.sock
build/bench/server/bangerd --log-level warn 2>"$T/bangerd.log" &
daemon=$!
pids+=("$daemon")
deadline=$((SECONDS + 10))
until curl -sf --unix-socket "$sock" http://b/v1/system/version >/dev/null; do
  ((SECONDS < deadline)) || { echo "bangerd did not start" >&2; exit 1; }
  sleep 0.05
done

head -c 65536 /dev/urandom >"$T/vmlinux"
op=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' \
  -d "{\"name\":\"base\",\"kernel\":\"$T/vmlinux\"}" http://b/v1/images | jq -r .id)
curl -sf --unix-socket "$sock" "http://b/v1/operations/$op?wait=30" | jq -e '.state == "succeeded"' >/dev/null
for i in $(seq -w 1 1000); do
  printf '{"name":"vm%s","image":"base"}\n' "$i"
done | while read -r body; do
  curl -sf -o /dev/null --unix-socket "$sock" -H 'Content-Type: application/json' -d "$body" \
    http://b/v1/vms
done
curl -sf --unix-socket "$sock" http://b/v1/vms >"$T/vms.json"
count=$(jq '.vms | length' "$T/vms.json")
[[ "$count" == 1000 ]] || { echo "expected 1000 VMs, have $count" >&2; exit 1; }

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
idle_rss=$(rss_kib "$daemon")

mkdir -p "$T/nginx/www/v1"
# nginx workers drop to an unprivileged user when started as root: let them read the file.
chmod a+rx "$T" "$T/nginx" "$T/nginx/www" "$T/nginx/www/v1"
cp "$T/vms.json" "$T/nginx/www/v1/vms"
chmod a+r "$T/nginx/www/v1/vms"
cat >"$T/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  open_file_cache max=16;
  keepalive_requests 1000000;
  server {
    listen unix:$T/nginx/nginx.sock;
    root $T/nginx/www;
    default_type application/json;
  }
}
CONF
nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" &
pids+=("$!")
deadline=$((SECONDS + 10))
until curl -sf --unix-socket "$T/nginx/nginx.sock" http://b/v1/vms >/dev/null; do
  ((SECONDS < deadline)) || { echo "nginx did not start" >&2; cat "$T/nginx/error.log" >&2; exit 1; }
  sleep 0.05
done
cmp -s <(curl -s --unix-socket "$T/nginx/nginx.sock" http://b/v1/vms) "$T/vms.json" ||
  { echo "nginx serves different bytes" >&2; exit 1; }

# run NAME SOCKET: h2load, then percentiles from its per-request log (microseconds).
run() {
  local name=$1 socket=$2
  h2load --h1 -n "$requests" -c 2 -t 1 --base-uri="unix:$socket" \
    --log-file="$T/$name.log" http://localhost/v1/vms >"$T/$name.out"
  local rps
  rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$T/$name.out")
  local bad
  bad=$(awk -F'\t' '$2 != 200' "$T/$name.log" | wc -l)
  sort -n -t$'\t' -k3 "$T/$name.log" | awk -F'\t' -v name="$name" -v rps="$rps" -v bad="$bad" '
    { d[NR] = $3 }
    END {
      p50 = d[int(NR * 0.50)]; p99 = d[int(NR * 0.99)];
      printf "%-8s %10s req/s   p50 %6.3f ms   p99 %6.3f ms   (%d requests, %d not 200)\n",
             name, rps, p50 / 1000, p99 / 1000, NR, bad
    }'
}

echo "GET /v1/vms, 1000 VMs, body $(stat -c %s "$T/vms.json") bytes, $requests requests, 2 clients, keep-alive"
run nginx "$T/nginx/nginx.sock"
run bangerd "$sock"
echo "bangerd RSS: idle $((idle_rss / 1024)).$(((idle_rss % 1024) * 10 / 1024)) MiB (1000 VMs stored), after load $(($(rss_kib "$daemon") / 1024)) MiB"
