#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bangerd as a process: socket and directory modes, the state-dir lock, stale and foreign
# socket paths, graceful SIGTERM, restart keeping records, connections under abusive clients
# (floods of idle and half-sent connections, the header and idle timeouts, the 503 at the
# bound), config file errors, and the store's refusals (newer schema, corrupt file) that must
# leave the file untouched.
source "$(dirname "$0")/lib.sh"

kernel=$T/vmlinuz
make_file "$kernel" 64

# --- modes of what the daemon creates
start_daemon
expect_eq "$(stat -c %a "$SOCK")" 600 "socket mode"
expect_eq "$(stat -c %a "$(dirname "$SOCK")")" 700 "socket directory mode"
expect_eq "$(stat -c %a "$XDG_STATE_HOME/banger/state.db")" 600 "database mode"

# --- a second daemon on the same state directory is refused, naming the owner
rc=0
"$BANGERD" --socket "$T/other.sock" >"$T/second.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "second daemon exit code"
expect_contains "$(cat "$T/second.log")" "another bangerd (pid $DAEMON_PID)" "second daemon"
daemon_ready && pass || fail "first daemon still answers after the refused second one"

# --- a second daemon with another state dir but the same live socket is refused
rc=0
"$BANGERD" --state-dir "$T/state2" >"$T/third.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "daemon on a live socket"
expect_contains "$(cat "$T/third.log")" "already listens" "live socket refusal"

# --- records to survive a restart
import_image base "$kernel"
api POST /v1/vms '{"name":"keep1","image":"base"}'
expect_status 201 "create keep1"
api POST /v1/vms '{"name":"keep2","image":"base","vcpus":4}'
expect_status 201 "create keep2"

# --- SIGTERM: a clean exit that removes the socket, while an event stream is open. When the
# stream ends, curl sends its next request on the same kept-alive connection: 503. A slow
# upload in flight keeps bangerd draining meanwhile, and is still answered.
curl -sN --unix-socket "$SOCK" http://b/v1/events -o "$T/stream" \
  http://b/v1/system/info -o "$T/after" -w '%{http_code} %{num_connects}\n' >"$T/codes" 2>/dev/null &
stream_pid=$!
# The stream is live once it shows a change made after it was opened.
stream_live() {
  api PATCH /v1/vms/keep2 '{"nat":true}'
  grep -q '"vm.updated"' "$T/stream"
}
wait_until 10 stream_live && pass || fail "event stream never showed the update"
printf '{"name":"Not A Name"%3000s}' "" >"$T/slow.json"
curl -s --unix-socket "$SOCK" --limit-rate 1000 -H 'Content-Type: application/json' \
  --data-binary @"$T/slow.json" --trace-ascii "$T/slow.trace" -o "$T/slow.out" \
  -w '%{http_code}' http://b/v1/vms >"$T/slow.code" 2>/dev/null &
slow_pid=$!
slow_sending() { grep -q '^=> Send data' "$T/slow.trace" 2>/dev/null; }
wait_until 10 slow_sending && pass || fail "the slow upload never started"
stop_daemon
expect_eq "$DAEMON_RC" 0 "exit code after SIGTERM"
[[ ! -e "$SOCK" ]] && pass || fail "socket left behind after SIGTERM"
expect_contains "$(cat "$DAEMON_LOG")" "stop: done" "shutdown log"
stream_rc=0
wait "$stream_pid" || stream_rc=$?
expect_eq "$stream_rc" 0 "event stream ends cleanly on shutdown"
expect_eq "$(paste -sd, "$T/codes")" "200 1,503 0" "a request on a kept-alive connection while stopping"
BODY=$(cat "$T/after")
expect_json .code shutting_down
expect_json .detail "bangerd is shutting down; retry once it is back"
wait "$slow_pid" || true
expect_eq "$(cat "$T/slow.code")" 400 "the request in flight is answered (invalid_name)"

# --- restart keeps every record
start_daemon
api GET /v1/vms
expect_json '[.vms[].name] | join(",")' "keep1,keep2" "VMs after restart"
expect_json '.vms[1].vcpus' 4 "vcpus after restart"
api GET /v1/images/base
expect_json .state ready "image after restart"

# --- SIGKILL leaves a stale socket, which the next start replaces
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
[[ -S "$SOCK" ]] && pass || fail "expected a stale socket after SIGKILL"
start_daemon
expect_contains "$(cat "$DAEMON_LOG")" "remove stale socket" "stale socket replaced"
api GET /v1/vms/keep1
expect_status 200 "VM after SIGKILL and restart"

# --- an import cut short by a crash is marked failed at the next start, with the reason
truncate -s 16G "$T/huge.img"
api POST /v1/images "{\"name\":\"cut\",\"kernel\":\"$T/huge.img\"}"
expect_status 202 "import of a 16 GiB file"
op=$(jq -r .id <<<"$BODY")
api POST /v1/vms '{"name":"early","image":"cut"}'
expect_problem 409 image_not_ready image
api DELETE /v1/images/cut
expect_problem 409 image_not_ready
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
start_daemon
api GET /v1/images/cut
expect_json .state failed "image cut short by a crash"
expect_contains "$(jq -r .error <<<"$BODY")" "bangerd restarted while this operation ran"
api GET "/v1/operations/$op"
expect_json .state failed "operation cut short by a crash"
api POST /v1/vms '{"name":"late","image":"cut"}'
expect_problem 409 image_not_ready image
expect_contains "$(jq -r .detail <<<"$BODY")" "failed (bangerd restarted while this operation ran" \
  "the refusal says why the image failed"
api DELETE /v1/images/cut
expect_status 204 "a failed image can be removed"
stop_daemon

# --- connections under abusive clients. flood.py SOCK N STATUS STOP [reopen]: opens N
# connections (every other one sends half a request), keeps them (reopening what the daemon
# closes when "reopen" is given) until the file STOP exists, and keeps STATUS at
# "opened=O alive=A closed=C busy=B": A still open, C closed by the daemon, B answered 503.
cat >"$T/flood.py" <<'EOF'
import os, socket, sys, time
path, n, status, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
reopen = len(sys.argv) > 5
socks, opened, closed, busy = [], 0, 0, 0
def connect():
    global opened
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    if opened % 2:
        s.send(b"GET /v1/vms HTTP/1.1\r\nHost: flood\r\n")
    s.setblocking(False)
    opened += 1
    return s
def report():
    with open(status + ".tmp", "w") as f:
        f.write(f"opened={opened} alive={len(socks)} closed={closed} busy={busy}\n")
    os.rename(status + ".tmp", status)
for _ in range(n):
    socks.append(connect())
deadline = time.time() + 100
while not os.path.exists(stop) and time.time() < deadline:
    keep = []
    for s in socks:
        try:
            d = s.recv(4096)
        except BlockingIOError:
            keep.append(s)
            continue
        except OSError:
            d = b""
        if b" 503 " in d:
            busy += 1
        else:
            closed += 1
        s.close()
    socks = keep
    while reopen and len(socks) < n:
        socks.append(connect())
    report()
    time.sleep(0.05)
EOF
flood_status() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$T/flood.status" 2>/dev/null; }
flood_opened() { [[ "$(flood_status opened)" -ge "$1" ]]; }
flood_alive_at_most() { [[ -n "$(flood_status alive)" && "$(flood_status alive)" -le "$1" ]]; }
# flood N [reopen]: start flood.py in the background (FLOOD_PID) and wait until it opened N.
flood() {
  rm -f "$T/flood.status" "$T/flood.stop"
  python3 "$T/flood.py" "$SOCK" "$1" "$T/flood.status" "$T/flood.stop" ${2:+"$2"} &
  FLOOD_PID=$!
  wait_until 20 flood_opened "$1" && pass || fail "the flood never opened $1 connections"
}
flood_end() {
  touch "$T/flood.stop"
  wait "$FLOOD_PID" || fail "flood.py failed"
}
# The owner lists VMs within a 10 s deadline while the flood goes on; three times, so that
# it is not one lucky moment.
owner_answers() {
  for i in 1 2 3; do
    RC=0
    timeout 10 "$BANGER" vm ls >"$T/ls.out" 2>&1 || RC=$?
    expect_eq "$RC" 0 "banger vm ls during $1 ($i): $(cat "$T/ls.out")"
  done
  expect_contains "$(cat "$T/ls.out")" keep1 "banger vm ls during $1"
}

# 300 idle and half-sent connections of one process: its own bound (32) evicts its oldest,
# so no more than 32 stay open, and the owner, another process, is answered meanwhile; then
# the same while the flooder reopens each connection the daemon closes.
start_daemon
flood 300
wait_until 10 flood_alive_at_most 32 && pass ||
  fail "the flooder keeps $(flood_status alive) connections open, want at most 32"
expect_eq "$(flood_status alive)" 32 "the flooder's newest connections stay"
expect_eq "$(flood_status busy)" 0 "503s while the flooder's own connections could be evicted"
owner_answers "a flood of idle and half-sent connections"
flood_end
flood 300 reopen
owner_answers "a flood that reopens what is closed"
flood_end
stop_daemon

# The same from a client the per-client bound does not stop: the total bound (16 here)
# evicts the oldest idle or half-sent connection for each new one.
BANGERD_HTTP_CLIENT_CONNECTIONS_MAX=1000 BANGERD_HTTP_CONNECTIONS_MAX=16 start_daemon
flood 300
wait_until 10 flood_alive_at_most 16 && pass ||
  fail "the flooder keeps $(flood_status alive) connections open, want at most 16"
expect_eq "$(flood_status busy)" 0 "503s while idle connections could be evicted"
owner_answers "a flood within the total bound"
flood_end
stop_daemon

# A connection that never finishes its headers is closed after the header timeout (1 s
# here), an idle kept-alive one after the idle timeout (2 s), and an event stream, a long
# request, outlives both and still delivers.
cat >"$T/timeouts.py" <<'EOF'
import socket, sys, time
path = sys.argv[1]
def closed_after(s, limit=10):
    s.settimeout(limit)
    start, data = time.time(), b""
    while True:
        d = s.recv(4096)
        if not d:
            return time.time() - start, data
        data += d
half = socket.socket(socket.AF_UNIX); half.connect(path)
half.send(b"GET /v1/vms HTTP/1.1\r\nHost: t\r\nX-Slow: 1\r\n")
t, data = closed_after(half)
print(f"half-sent closed after {t:.1f} s with {len(data)} bytes")
idle = socket.socket(socket.AF_UNIX); idle.connect(path)
idle.send(b"GET /v1/vms HTTP/1.1\r\nHost: t\r\n\r\n")
t, data = closed_after(idle)
print(f"idle closed after {t:.1f} s after {data.split(b' ')[1].decode()}")
EOF
BANGERD_HTTP_HEADER_TIMEOUT_S=1 BANGERD_HTTP_IDLE_TIMEOUT_S=2 start_daemon
curl -sN --unix-socket "$SOCK" http://b/v1/events -o "$T/long.stream" 2>/dev/null &
long_pid=$!
python3 "$T/timeouts.py" "$SOCK" >"$T/timeouts.out" 2>&1 || fail "timeouts.py: $(cat "$T/timeouts.out")"
half=$(sed -n 's/^half-sent closed after \([0-9.]*\) s with 0 bytes$/\1/p' "$T/timeouts.out")
[[ -n "$half" ]] && awk "BEGIN {exit !($half >= 0.5 && $half < 5)}" && pass ||
  fail "half-sent request: $(cat "$T/timeouts.out")"
idle=$(sed -n 's/^idle closed after \([0-9.]*\) s after 200$/\1/p' "$T/timeouts.out")
[[ -n "$idle" ]] && awk "BEGIN {exit !($idle >= 1.9 && $idle < 6)}" && pass ||
  fail "idle connection: $(cat "$T/timeouts.out")"
# by now the stream has been open longer than both timeouts
api PATCH /v1/vms/keep1 '{"vcpus":3}'
expect_status 200 "patch while the stream is open"
stream_shows_patch() { grep -q '"vm.updated"' "$T/long.stream"; }
wait_until 10 stream_shows_patch && pass || fail "the event stream did not outlive the timeouts"
kill -0 "$long_pid" 2>/dev/null && pass || fail "the event stream was closed"
kill "$long_pid"
wait "$long_pid" 2>/dev/null || true
stop_daemon

# At the bound with every connection inside a request (4 event streams), a new connection
# is answered 503 too_many_connections with Retry-After, and closed.
BANGERD_HTTP_CONNECTIONS_MAX=4 start_daemon
streams=()
for i in 1 2 3 4; do
  curl -sN --unix-socket "$SOCK" http://b/v1/events -o /dev/null -D "$T/stream$i.h" 2>/dev/null &
  streams+=($!)
done
# each stream is in once its headers are back; a request before that could evict it
streams_in() { for i in 1 2 3 4; do grep -q '^HTTP/1.1 200' "$T/stream$i.h" 2>/dev/null || return 1; done; }
wait_until 10 streams_in && pass || fail "the four event streams did not start"
RECORDS=/dev/null api GET /v1/vms
expect_problem 503 too_many_connections
expect_eq "$(header Retry-After)" 1 "Retry-After"
expect_eq "$(header Banger-Api-Version)" 1 "Banger-Api-Version on the 503"
expect_contains "$(jq -r .detail <<<"$BODY")" "every one is inside a request"
kill "${streams[@]}"
for p in "${streams[@]}"; do wait "$p" 2>/dev/null || true; done
expect_contains "$(cat "$DAEMON_LOG")" "every connection is inside a request; answered 503" \
  "the 503 is logged"
stop_daemon

# --- a path that is not a socket is refused and left alone
echo "precious" >"$T/notasocket"
rc=0
"$BANGERD" --socket "$T/notasocket" >"$T/nas.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "non-socket path"
expect_contains "$(cat "$T/nas.log")" "is not a socket" "non-socket refusal"
expect_eq "$(cat "$T/notasocket")" "precious" "non-socket file untouched"

# --- a bad config file is a startup error naming file, line and key
mkdir -p "$XDG_CONFIG_HOME/banger"
printf '# banger\nlog_level = "info"\nshutdown_timeout_s = 0\n' >"$XDG_CONFIG_HOME/banger/bangerd.toml"
rc=0
"$BANGERD" >"$T/cfg.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "bad config exit code"
expect_contains "$(cat "$T/cfg.log")" "bangerd.toml:3: key 'shutdown_timeout_s'" "bad config"
rm "$XDG_CONFIG_HOME/banger/bangerd.toml"

# --- a database from a newer banger is refused and not modified
db=$XDG_STATE_HOME/banger/state.db
sqlite3 "$db" 'PRAGMA user_version = 99;'
before=$(sha256sum "$db")
rc=0
"$BANGERD" >"$T/newer.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "newer schema exit code"
expect_contains "$(cat "$T/newer.log")" "newer than this bangerd" "newer schema"
expect_eq "$(sha256sum "$db")" "$before" "newer database untouched"
sqlite3 "$db" 'PRAGMA user_version = 1;'

# --- a corrupt database is refused and not recreated
rm -f "$db-wal" "$db-shm"
head -c 8192 /dev/urandom >"$db"
before=$(sha256sum "$db")
rc=0
"$BANGERD" >"$T/corrupt.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "corrupt database exit code"
expect_contains "$(cat "$T/corrupt.log")" "$db" "corrupt database message names the file"
expect_eq "$(sha256sum "$db")" "$before" "corrupt database untouched"

finish
