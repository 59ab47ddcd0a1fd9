#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bangerd as a process: socket and directory modes, the state-dir lock, stale and foreign
# socket paths, graceful SIGTERM, restart keeping records, config file errors, and the
# store's refusals (newer schema, corrupt file) that must leave the file untouched.
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
