#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# GET /v1/vms with 1,000 VMs over TCP with TLS 1.3 and a bearer token (read scope),
# keep-alive, 2 concurrent clients, beside nginx serving the same JSON bytes from a file over
# TLS 1.3 with bangerd's own certificate and key (the ceiling); then the time from TCP connect
# to the first byte of the answer on NEW TLS connections (full handshakes), for both.
# Loopback only. Prints requests/s, p50 and p99 for the keep-alive load, and the median and
# p90 of the handshake and of connect-to-first-byte over fresh connections.
#   bench/list-vms-tls.sh [REQUESTS] [CONNECTIONS]   (default 20000 per server, 300 each)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}
connections=${2:-300}

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

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
export XDG_RUNTIME_DIR=$T/run XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
sock=$XDG_RUNTIME_DIR/banger/bangerd.sock
BANGERD_LISTEN_TCP=127.0.0.1:0 build/bench/server/bangerd --log-level warn 2>"$T/bangerd.log" &
daemon=$!
pids+=("$daemon")
deadline=$((SECONDS + 10))
until curl -sf --unix-socket "$sock" http://b/v1/system/version >/dev/null; do
  ((SECONDS < deadline)) || { echo "bangerd did not start" >&2; exit 1; }
  sleep 0.05
done
info=$(curl -sf --unix-socket "$sock" http://b/v1/system/info)
addr=$(jq -r .tls.address <<<"$info")
cert=$(jq -r .tls.certificate <<<"$info")
key=$(dirname "$cert")/server.key
[[ "$addr" == 127.0.0.1:* ]] || { echo "no TLS listener: $info" >&2; exit 1; }
token=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' \
  -d '{"name":"bench","scopes":["read"]}' http://b/v1/tokens | jq -r .secret)
auth="Authorization: Bearer $token"

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
curl -sf --tlsv1.3 --cacert "$cert" -H "$auth" "https://$addr/v1/vms" >"$T/vms.json"
count=$(jq '.vms | length' "$T/vms.json")
[[ "$count" == 1000 ]] || { echo "expected 1000 VMs, have $count" >&2; exit 1; }

nport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
    listen 127.0.0.1:$nport ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_session_tickets off;
    ssl_session_cache off;
    root $T/nginx/www;
    default_type application/json;
  }
}
CONF
nginx -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" &
pids+=("$!")
naddr=127.0.0.1:$nport
deadline=$((SECONDS + 10))
until curl -sf --cacert "$cert" "https://$naddr/v1/vms" -o /dev/null; do
  ((SECONDS < deadline)) || { echo "nginx did not start" >&2; cat "$T/nginx/error.log" >&2; exit 1; }
  sleep 0.05
done
cmp -s <(curl -s --cacert "$cert" "https://$naddr/v1/vms") "$T/vms.json" ||
  { echo "nginx serves different bytes" >&2; exit 1; }
for a in "$addr" "$naddr"; do
  if curl -s -o /dev/null --cacert "$cert" --tlsv1.2 --tls-max 1.2 "https://$a/v1/vms"; then
    echo "$a accepts TLS 1.2" >&2
    exit 1
  fi
done

# run NAME ADDR: h2load over keep-alive TLS, then percentiles from its per-request log
# (microseconds).
run() {
  local name=$1 a=$2
  h2load --h1 -n "$requests" -c 2 -t 1 -H "$auth" --log-file="$T/$name.log" \
    "https://$a/v1/vms" >"$T/$name.out"
  local rps tls
  rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$T/$name.out")
  tls=$(awk '/^TLS Protocol:/ {p = $3} /^Cipher:/ {c = $2} /^Server Temp Key:/ {k = $4}
             END {print p, c, k}' "$T/$name.out")
  local bad
  bad=$(awk -F'\t' '$2 != 200' "$T/$name.log" | wc -l)
  sort -n -t$'\t' -k3 "$T/$name.log" | awk -F'\t' -v name="$name" -v rps="$rps" -v bad="$bad" \
    -v tls="$tls" '
    { d[NR] = $3 }
    END {
      p50 = d[int(NR * 0.50)]; p99 = d[int(NR * 0.99)];
      printf "%-8s %10s req/s   p50 %6.3f ms   p99 %6.3f ms   (%d requests, %d not 200; %s)\n",
             name, rps, p50 / 1000, p99 / 1000, NR, bad, tls
    }'
}

# fresh: CONNECTIONS new TLS connections (one curl each, no session to resume) to each server,
# alternating, one request on each; the median and p90 of the TCP connect, of the handshake
# (appconnect - connect) and of connect-to-first-byte (starttransfer - connect).
fresh() {
  local i a
  for ((i = 0; i < connections; i++)); do
    for a in bangerd:"$addr" nginx:"$naddr"; do
      curl -s -o /dev/null --tlsv1.3 --cacert "$cert" -H "$auth" \
        -w "${a%%:*} %{http_code} %{time_connect} %{time_appconnect} %{time_starttransfer}\n" \
        "https://${a#*:}/v1/vms" >>"$T/fresh.log"
    done
  done
  python3 - "$T/fresh.log" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, int(len(xs) * p) - 1)]
for name in ("nginx", "bangerd"):
    mine = [r for r in rows if r[0] == name]
    bad = sum(r[1] != "200" for r in mine)
    tcp = [float(r[2]) * 1000 for r in mine]
    hs = [(float(r[3]) - float(r[2])) * 1000 for r in mine]
    fb = [(float(r[4]) - float(r[2])) * 1000 for r in mine]
    print(f"{name:<8} connect {pct(tcp, .5):.3f} / {pct(tcp, .9):.3f} ms   "
          f"handshake {pct(hs, .5):.3f} / {pct(hs, .9):.3f} ms   "
          f"connect to first byte {pct(fb, .5):.3f} / {pct(fb, .9):.3f} ms   "
          f"(median / p90, {len(mine)} connections, {bad} not 200)")
PY
}

echo "GET /v1/vms over TLS 1.3 with a bearer token, 1000 VMs, body $(stat -c %s "$T/vms.json") bytes, $requests requests, 2 clients, keep-alive"
run nginx "$naddr"
run bangerd "$addr"
echo "load average after the keep-alive runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "new TLS connections, one GET /v1/vms each:"
fresh
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
