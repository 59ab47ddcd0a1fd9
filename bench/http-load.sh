#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Memory under sustained HTTP load: a Release bangerd with 20 VM records, then ROUNDS rounds
# of REQUESTS mixed requests (lists, gets, HEAD, 404s, bad bodies, event streams with since)
# from CLIENTS concurrent clients over its unix socket (bench/http-load.py). Prints
# requests/s and bangerd's VmRSS after each round; RSS must level off, not grow per round.
#   bench/http-load.sh [ROUNDS] [REQUESTS] [CLIENTS]     (default 5 10000 50)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
requests=${2:-10000}
clients=${3:-50}

cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DBANGER_TESTS=OFF >/dev/null
cmake --build build/bench -j"$(nproc)" --target bangerd >/dev/null

T=$(mktemp -d /tmp/banger-bench.XXXXXX)
daemon=
cleanup() {
  [[ -n "$daemon" ]] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

export XDG_RUNTIME_DIR=$T/run XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
sock=$XDG_RUNTIME_DIR/banger/bangerd.sock
build/bench/server/bangerd --log-level warn 2>"$T/bangerd.log" &
daemon=$!
deadline=$((SECONDS + 10))
until curl -sf --unix-socket "$sock" http://b/v1/system/version >/dev/null; do
  ((SECONDS < deadline)) || { echo "bangerd did not start" >&2; exit 1; }
  sleep 0.05
done

head -c 65536 /dev/urandom >"$T/vmlinux"
op=$(curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' \
  -d "{\"name\":\"base\",\"kernel\":\"$T/vmlinux\"}" http://b/v1/images | jq -r .id)
curl -sf --unix-socket "$sock" "http://b/v1/operations/$op?wait=30" | jq -e '.state == "succeeded"' >/dev/null
for i in $(seq -w 1 20); do
  curl -sf -o /dev/null --unix-socket "$sock" -H 'Content-Type: application/json' \
    -d "{\"name\":\"vm$i\",\"image\":\"base\"}" http://b/v1/vms
done

echo "bangerd $(build/bench/server/bangerd --version | cut -d' ' -f2), $(nproc) cores," \
  "$rounds rounds of $requests requests from $clients clients"
python3 bench/http-load.py "$sock" "$daemon" "$rounds" "$requests" "$clients" vm01
if grep -E ' (error|warn) ' "$T/bangerd.log" | grep -v 'select vmm' >"$T/warnings"; then
  echo "bangerd logged:"
  cut -d" " -f2- "$T/warnings" | sort | uniq -c | sort -rn | head -5
fi
