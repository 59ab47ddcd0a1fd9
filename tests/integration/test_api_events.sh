#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# GET /v1/events: the live stream (order, strictly increasing seq, event shape), replay with
# ?since, refusals of a bad since, 410 events_gone once the bounded history has dropped what
# a client asks for, and the stream's clean end when bangerd stops.
source "$(dirname "$0")/lib.sh"

kernel=$T/vmlinuz
make_file "$kernel" 16
stream_pids=()

# open_stream NAME [QUERY]: follow /v1/events in the background into $T/NAME, headers in
# $T/NAME.h; returns once the daemon has answered (so later changes are in the stream).
open_stream() {
  local name=$1 query=${2:-}
  curl -sN --unix-socket "$SOCK" -D "$T/$name.h" "http://b/v1/events$query" >"$T/$name" 2>/dev/null &
  STREAM_PID=$!
  stream_pids+=("$STREAM_PID")
  wait_until 10 grep -qs '^HTTP/1.1 200' "$T/$name.h" || fail "stream $name did not start"
}

# Event lines of a stream file as one JSON array (heartbeat blank lines dropped).
events_of() { grep -v '^$' "$1" | jq -s . ; }

# has_types FILE TYPE...: the stream shows every TYPE.
has_types() {
  local f=$1 t
  shift
  for t in "$@"; do grep -q "\"type\":\"$t\"" "$f" || return 1; done
}

# The highest seq the daemon has, from a replay of what it keeps that ends at its timeout.
latest_seq() {
  local since=0 first
  first=$(curl -s -m 2 --unix-socket "$SOCK" 'http://b/v1/events?since=0' 2>/dev/null |
    head -n1 || true)
  if [[ $(jq -r .code <<<"$first") == events_gone ]]; then
    since=$(($(jq -r .oldest_seq <<<"$first") - 1))
  fi
  curl -sN -m 2 --unix-socket "$SOCK" "http://b/v1/events?since=$since" 2>/dev/null |
    grep -v '^$' | tail -n1 | jq -r .seq || true
}

start_daemon
import_image base "$kernel"
before=$(latest_seq)
((before > 0)) && pass || fail "the import made no events (latest seq '$before')"

# --- live: changes show in order, with strictly increasing seq, and nothing older
open_stream live
api POST /v1/vms '{"name":"ev1","image":"base"}'
expect_status 201 "create ev1"
api PATCH /v1/vms/ev1 '{"vcpus":4}'
expect_status 200 "patch ev1"
api DELETE /v1/vms/ev1
expect_status 204 "delete ev1"
wait_until 10 has_types "$T/live" vm.created vm.updated vm.deleted && pass ||
  fail "live stream lacks vm.created/updated/deleted: $(cat "$T/live")"
live=$(events_of "$T/live")
expect_eq "$(jq -r '[.[] | select(.type | startswith("vm.")) | .type] | join(",")' <<<"$live")" \
  "vm.created,vm.updated,vm.deleted" "vm events in order"
expect_eq "$(jq -r '[.[].seq] as $s | [range(1; $s | length) | $s[.] > $s[. - 1]] | all' <<<"$live")" \
  true "seq strictly increasing"
expect_eq "$(jq -r '.[0].seq' <<<"$live")" $((before + 1)) "first live event is the next seq"
expect_eq "$(jq -r '[.[].seq | select(. <= '"$before"')] | length' <<<"$live")" 0 \
  "no old events in a stream without since"
expect_eq "$(jq -r '[.[] | select(.type | startswith("vm.")) | .subject] | unique | join(",")' <<<"$live")" \
  /v1/vms/ev1 "subject of the vm events"
expect_eq "$(jq -r '.[] | select(.type == "vm.updated") | .data.vcpus' <<<"$live")" 4 \
  "vm.updated data is the new VM"
expect_eq "$(jq -r '.[] | select(.type == "vm.created") | .data.name' <<<"$live")" ev1 \
  "vm.created data"
expect_eq "$(jq -r '[.[] | (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"))] | all' <<<"$live")" \
  true "event times are RFC 3339"
expect_eq "$(jq -r '[.[] | keys | join(",")] | unique | join(" ")' <<<"$live")" \
  "data,seq,subject,time,type" "event fields"
ct=$(grep -i '^content-type:' "$T/live.h" | tr -d '\r' | cut -d' ' -f2-)
expect_eq "$ct" application/x-ndjson "stream content type"
grep -qi '^banger-api-version: 1' "$T/live.h" && pass || fail "stream lacks Banger-Api-Version"
record_stream /v1/events "$T/live" "$T/live.h"
latest=$(jq -r '.[-1].seq' <<<"$live")

# --- ?since=0 replays everything from seq 1, then stays open
rc=0
curl -sN -m 2 --unix-socket "$SOCK" -D "$T/all.h" 'http://b/v1/events?since=0' >"$T/all" 2>/dev/null ||
  rc=$?
expect_eq "$rc" 28 "a replay stays open until curl's timeout"
all=$(events_of "$T/all")
expect_eq "$(jq -r '.[0].seq' <<<"$all")" 1 "replay starts at seq 1"
expect_eq "$(jq -r '.[0].type' <<<"$all")" image.created "the first event is the import"
expect_eq "$(jq -r '.[-1].seq' <<<"$all")" "$latest" "replay reaches the latest event"
expect_eq "$(jq -r '[.[].seq] == [range(1; length + 1)]' <<<"$all")" true "replay has every seq once"
expect_eq "$(jq -c '[.[] | select(.seq > '"$before"')]' <<<"$all")" "$(jq -c . <<<"$live")" \
  "replay and live stream agree"
record_stream '/v1/events?since=0' "$T/all" "$T/all.h"

# A replay goes on with live events.
open_stream follow '?since=0'
wait_until 10 grep -q "\"seq\":$latest," "$T/follow" && pass || fail "follow did not replay"
api POST /v1/vms '{"name":"ev2","image":"base"}'
expect_status 201 "create ev2"
wait_until 10 grep -q '"subject":"/v1/vms/ev2"' "$T/follow" && pass ||
  fail "a replay did not go on with the live event"
expect_eq "$(events_of "$T/follow" | jq -r '.[-1].seq')" $((latest + 1)) "live after replay"
kill "$STREAM_PID"
wait "$STREAM_PID" 2>/dev/null || true
record_stream '/v1/events?since=0' "$T/follow" "$T/follow.h"
latest=$((latest + 1))

# --- ?since=<latest> shows nothing old
rc=0
curl -sN -m 1 --unix-socket "$SOCK" "http://b/v1/events?since=$latest" >"$T/none" 2>/dev/null || rc=$?
expect_eq "$rc" 28 "since=latest stays open"
expect_eq "$(grep -vc '^$' "$T/none" || true)" 0 "since=latest replays nothing"
rc=0
curl -sN -m 1 --unix-socket "$SOCK" "http://b/v1/events?since=$((latest - 2))" >"$T/two" 2>/dev/null ||
  rc=$?
expect_eq "$(events_of "$T/two" | jq -r '[.[].seq] | map(tostring) | join(",")')" \
  "$((latest - 1)),$latest" "since=latest-2 replays two events"

# --- refusals of since
for bad in abc -1 1.5 "" 99999999999999999999; do
  api GET "/v1/events?since=$bad"
  expect_problem 400 invalid_query
done
api GET '/v1/events?after=1'
expect_problem 400 invalid_query
# a since past the latest would silently skip the next events: refused, naming the latest
api GET "/v1/events?since=$((latest + 5))"
expect_problem 400 invalid_query
expect_eq "$(jq -r .detail <<<"$BODY" | grep -c "latest event ($latest)")" 1 "since past the latest names it"

# --- the stream ends cleanly when the daemon stops
open_stream ending
stop_daemon
expect_eq "$DAEMON_RC" 0 "daemon exit with a stream open"
rc=0
wait "$STREAM_PID" || rc=$?
expect_eq "$rc" 0 "curl's exit when bangerd stops"

# --- a bounded history: old events are gone, with where the history now starts
BANGERD_EVENT_HISTORY=100 start_daemon
for i in $(seq 1 80); do
  s=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
    --data-binary "{\"name\":\"churn-$i\",\"image\":\"base\"}" http://b/v1/vms)
  [[ "$s" == 201 ]] || fail "create churn-$i: $s"
  s=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE --unix-socket "$SOCK" "http://b/v1/vms/churn-$i")
  [[ "$s" == 204 ]] || fail "delete churn-$i: $s"
done
latest=$(latest_seq)
((latest >= 160)) && pass || fail "latest seq $latest after 160 changes"
api GET '/v1/events?since=1'
expect_problem 410 events_gone
oldest=$(jq -r .oldest_seq <<<"$BODY")
((oldest > 2)) && pass || fail "oldest_seq '$oldest'"
expect_eq "$oldest" $((latest - 99)) "exactly the newest 100 events are kept"
expect_contains "$(jq -r .detail <<<"$BODY")" "$oldest" "events_gone detail names the oldest"
api GET '/v1/events?since=0'
expect_problem 410 events_gone
api GET "/v1/events?since=$((oldest - 2))"
expect_problem 410 events_gone
rc=0
curl -sN -m 2 --unix-socket "$SOCK" -D "$T/kept.h" "http://b/v1/events?since=$((oldest - 1))" \
  >"$T/kept" 2>/dev/null ||
  rc=$?
expect_eq "$rc" 28 "since=oldest-1 streams"
kept=$(events_of "$T/kept")
expect_eq "$(jq -r '.[0].seq' <<<"$kept")" "$oldest" "since=oldest-1 starts at the oldest"
expect_eq "$(jq -r 'length' <<<"$kept")" 100 "the whole kept history"
record_stream "/v1/events?since=$((oldest - 1))" "$T/kept" "$T/kept.h"
stop_daemon

# --- a stream whose client hangs up lets its connection go within a second or so, not at the
# next heartbeat (15 s): with room for 4 connections, 4 abandoned streams would otherwise
# leave every other client a 503 (streams are inside a request, so never evicted)
BANGERD_HTTP_CONNECTIONS_MAX=4 BANGERD_HTTP_CLIENT_CONNECTIONS_MAX=8 start_daemon
for i in 1 2 3 4; do open_stream "gone$i"; done
for pid in "${stream_pids[@]: -4}"; do kill "$pid" 2>/dev/null || true; done
version_ok() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://b/v1/system/version) == 200 ]]
}
wait_until 5 version_ok && pass || fail "abandoned streams still hold the connections after 5 s"
stop_daemon

finish
