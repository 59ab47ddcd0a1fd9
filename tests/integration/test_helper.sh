#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bangerd-root for real: the helper runs as root inside a network namespace this test makes
# (nothing touches the host's own network), and bangerd's client module (banger-helperctl)
# talks to it as a user this test creates. A foreign uid is refused; every validation refusal
# comes back over the socket; the bridge, a tap and `table inet banger` appear and go; a
# launched VMM comes with a pidfd that sees its exit; kill -9 of the helper with objects
# present, then a restart, leaves nothing stray.
#
# Environment (set by ctest): BANGERD_ROOT, HELPERCTL, FAKE_FC.
set -euo pipefail
: "${BANGERD_ROOT:?}" "${HELPERCTL:?}" "${FAKE_FC:?}"

if [[ $(id -u) -ne 0 ]]; then echo "skip: needs root" >&2; exit 77; fi
for p in ip nft useradd userdel setpriv; do
  command -v "$p" >/dev/null || { echo "skip: needs $p (scripts/bootstrap)" >&2; exit 77; }
done

T=$(mktemp -d /tmp/banger-helper.XXXXXX)
chmod 0755 "$T"
NS=bgtest$$
USER_NAME=bgtest$$
HELPER_PID=
VMM_PID=
failures=0
checks=0

cleanup() {
  local rc=$?
  [[ -n "$HELPER_PID" ]] && kill -KILL "$HELPER_PID" 2>/dev/null || true
  [[ -n "$VMM_PID" ]] && kill -KILL "$VMM_PID" 2>/dev/null || true
  if [[ $rc -ne 0 || $failures -ne 0 ]]; then
    echo "--- helper log ---" >&2
    cat "$T"/helper*.log >&2 2>/dev/null || true
  fi
  ip netns del "$NS" 2>/dev/null || true
  userdel "$USER_NAME" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }

wait_until() { # wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
OWNER=$(id -u "$USER_NAME")
OGID=$(id -g "$USER_NAME")
ip netns add "$NS"
mkdir -p "$T/run/vms/web1" "$T/bin"
chown "$OWNER:$OGID" "$T/run/vms/web1"
# the VMM binary must be root's and not group/world writable, reachable by the owner
install -m 0755 -o root -g root "$FAKE_FC" "$T/bin/firecracker"
cat >"$T/install.toml" <<EOF
# written by test_helper.sh
owner_uid = $OWNER
owner_gid = $OGID
bridge = "bgbrtest"
subnet = "10.77.0.0/24"
helper_socket = "$T/helper.sock"
helper_state_dir = "$T/hstate"
runtime_dir = "$T/run"
state_dir = "$T/state"
firecracker = "$T/bin/firecracker"
EOF

n=0
start_helper() {
  n=$((n + 1))
  rm -f "$T/helper.sock"
  ip netns exec "$NS" "$BANGERD_ROOT" --install "$T/install.toml" >"$T/helper$n.log" 2>&1 &
  HELPER_PID=$!
  wait_until 10 test -S "$T/helper.sock" || { fail "helper did not start"; exit 1; }
}

# as_owner MESSAGE [ARGS]: the reply, sent as the owner through bangerd's client module
as_owner() { setpriv --reuid="$OWNER" --regid="$OGID" --clear-groups "$HELPERCTL" "$T/helper.sock" "$@"; }
as_root() { "$HELPERCTL" "$T/helper.sock" "$@"; }

# expect MESSAGE CODE FRAGMENT: a refusal with that errno code and message fragment
expect() {
  local out
  out=$(as_owner "$1")
  if [[ $(jq -r .code <<<"$out") != "$2" ]] || ! grep -qF -- "$3" <<<"$(jq -r .message <<<"$out")"; then
    fail "$1: want code $2 and '$3', got $out"
  else
    pass
  fi
}
ok() { # ok MESSAGE: succeeds; prints the reply
  local out
  out=$(as_owner "$1")
  [[ $(jq -r .code <<<"$out") == 0 ]] && pass || fail "$1: $out"
  printf '%s\n' "$out"
}
in_ns() { ip netns exec "$NS" "$@"; }
has_link() { in_ns ip link show "$1" >/dev/null 2>&1; }
has_table() { in_ns nft list table inet banger >/dev/null 2>&1; }

start_helper

# --- who may talk to it ---
out=$(as_root '{"op":"hello"}')
[[ $(jq -r .code <<<"$out") == -1 ]] && grep -q "uid 0 is not the owner" <<<"$out" && pass ||
  fail "root (a foreign uid) was not refused: $out"
grep -q "connection from uid 0 .* refused" "$T/helper1.log" && pass || fail "refusal not logged"
out=$(ok '{"op":"hello"}')
[[ $(jq -r .bridge <<<"$out") == bgbrtest ]] && pass || fail "hello: $out"

# --- every refusal, over the socket ---
expect 'not json' -22 "invalid JSON"
expect '[1]' -22 "must be a JSON object"
expect '{"op":"format_disk"}' -22 "unknown operation"
expect '{"op":"tap_create"}' -22 "needs member 'vm'"
expect '{"op":"tap_create","vm":"a","argv":["sh"]}' -22 "takes no member 'argv'"
expect '{"op":"tap_create","vm":7}' -22 "vm must be a string"
expect '{"op":"tap_create","vm":"Web_1"}' -22 "vm: name may contain only"
expect '{"op":"tap_create","vm":"web1"}' -2 "bridge_ensure first"
expect '{"op":"vmm_signal","pid":1234,"start_time":1,"signal":"STOP"}' -22 "signal 'STOP' is not allowed"
expect '{"op":"vmm_signal","pid":1234,"start_time":1,"signal":"9"}' -22 "signal '9' is not allowed"
expect '{"op":"vmm_signal","pid":1234,"start_time":1,"signal":"SIGCONT"}' -22 "not allowed"
expect '{"op":"vmm_signal","pid":1234,"start_time":1,"signal":"RTMIN"}' -22 "not allowed"
expect '{"op":"vmm_signal","pid":0,"start_time":1,"signal":"TERM"}' -1 "pid 0 is never signalled"
expect '{"op":"vmm_signal","pid":1,"start_time":1,"signal":"TERM"}' -1 "pid 1 is never signalled"
expect "{\"op\":\"vmm_kill\",\"pid\":$HELPER_PID,\"start_time\":1}" -1 "is never signalled"
expect '{"op":"vmm_kill","pid":-5,"start_time":1}' -22 "pid must be an integer"
# a live process that is not a VMM banger launched: this shell
st=$(awk '{print $22}' /proc/$$/stat)
expect "{\"op\":\"vmm_signal\",\"pid\":$$,\"start_time\":$st,\"signal\":\"TERM\"}" -1 "not a VMM banger launched"
expect "{\"op\":\"vmm_kill\",\"pid\":$$,\"start_time\":$((st + 1))}" 0 ""
expect '{"op":"vmm_launch","vm":"web1","vmm":"qemu"}' -22 "is not launched by the helper"
expect '{"op":"vmm_launch","vm":"web1","vmm":"firecracker","image":"x","kernel":"k"}' -22 "for the jailer"
expect '{"op":"vmm_launch","vm":"nosuch","vmm":"firecracker"}' -2 "run dir"
expect '{"op":"nat_apply","guests":[{"vm":"a","address":"10.77.0.2","nat":true}]}' -2 "bridge_ensure first"
expect '{"op":"nat_apply","guests":[{"vm":"a","address":"10.78.0.2","nat":true}]}' -22 "outside the subnet"
expect '{"op":"nat_apply","guests":[{"vm":"a","address":"10.77.0.1","nat":true}]}' -22 "bridge address"
expect '{"op":"nat_apply","guests":[{"vm":"a","address":"10.77.0.2","nat":1}]}' -22 "nat must be true or false"
expect '{"op":"nat_apply","guests":[{"vm":"a","address":"10.77.0.2","nat":true},{"vm":"b","address":"10.77.0.2","nat":false}]}' -22 "is also guests[0]"
expect '{"op":"reconcile","vms":["ok","../x"]}' -22 "vms[1]"
has_link bgbrtest && fail "a refused request made the bridge" || pass

# --- the bridge, a tap, the table ---
ok '{"op":"bridge_ensure"}' >/dev/null
has_link bgbrtest && pass || fail "no bridge"
in_ns ip -br addr show bgbrtest | grep 10.77.0.1/24 >/dev/null && pass || fail "bridge without its address"
has_table && pass || fail "no table inet banger after bridge_ensure"
tap=$(ok '{"op":"tap_create","vm":"web1"}' | jq -r .tap)
[[ $tap == bgt* && ${#tap} == 15 ]] && pass || fail "tap name '$tap'"
[[ $(in_ns cat /sys/class/net/"$tap"/owner) == "$OWNER" ]] && pass || fail "tap not the owner's"
in_ns ip -d link show "$tap" | grep "persist on" >/dev/null && pass || fail "tap not persistent"
in_ns ip link show "$tap" | grep "master bgbrtest" >/dev/null && pass || fail "tap not on the bridge"
ok '{"op":"nat_apply","guests":[{"vm":"web1","address":"10.77.0.5","nat":true},{"vm":"db","address":"10.77.0.6","nat":false}]}' >/dev/null
in_ns nft list set inet banger nat_guests | grep "10.77.0.5" >/dev/null && pass || fail "NAT guest missing"
in_ns nft list set inet banger nat_guests | grep "10.77.0.6" >/dev/null && fail "no-NAT guest in the set" || pass
ok '{"op":"nat_apply","guests":[{"vm":"web1","address":"10.77.0.5","nat":false}]}' >/dev/null
in_ns nft list set inet banger nat_guests | grep "10.77.0.5" >/dev/null && fail "NAT not turned off" || pass
grep -q "tap_create vm 'web1' for uid $OWNER: done" "$T/helper1.log" && pass || fail "action not logged"

# --- a VMM: launched as the owner, a pidfd that sees its exit, signalled, killed ---
out=$(as_owner '{"op":"vmm_launch","vm":"web1","vmm":"firecracker"}')
VMM_PID=$(jq -r .pid <<<"$out")
vst=$(jq -r .start_time <<<"$out")
[[ $(jq -r .code <<<"$out") == 0 && $(jq -r .pidfd <<<"$out") == true ]] && pass || fail "launch: $out"
[[ $(stat -c %u /proc/"$VMM_PID") == "$OWNER" ]] && pass || fail "VMM does not run as the owner"
wait_until 10 test -S "$T/run/vms/web1/api.sock" && pass || fail "VMM made no API socket"
expect "{\"op\":\"vmm_signal\",\"pid\":$VMM_PID,\"start_time\":$((vst + 1)),\"signal\":\"TERM\"}" -3 "gone"
# a second VMM: its pidfd, held by the client, sees the exit that the helper's TERM causes
mkdir -p "$T/run/vms/web2" && chown "$OWNER:$OGID" "$T/run/vms/web2"
as_owner '{"op":"vmm_launch","vm":"web2","vmm":"firecracker"}' --wait-exit 20000 >"$T/out2" &
CLIENT=$!
wait_until 10 test -S "$T/run/vms/web2/api.sock" || fail "second VMM made no API socket"
pid2=$(pgrep -f "$T/run/vms/web2/api.sock" | head -1)
st2=$(awk '{print $22}' /proc/"$pid2"/stat)
expect "{\"op\":\"vmm_signal\",\"pid\":$pid2,\"start_time\":$st2,\"signal\":\"sigterm\"}" 0 ""
wait "$CLIENT"
[[ $(jq -r .exit_seen "$T/out2") == true ]] && pass || fail "pidfd did not see the exit: $(cat "$T/out2")"
mkdir -p "$T/run/vms/web3" && chown "$OWNER:$OGID" "$T/run/vms/web3"
out=$(ok '{"op":"vmm_launch","vm":"web3","vmm":"firecracker"}')
pid3=$(jq -r .pid <<<"$out")
out=$(ok "{\"op\":\"vmm_kill\",\"pid\":$pid3,\"start_time\":$(jq -r .start_time <<<"$out")}")
[[ $(jq -r .exited <<<"$out") == true ]] && pass || fail "kill: $out"
gone() { [[ ! -e /proc/$1 || $(awk '{print $3}' /proc/"$1"/stat 2>/dev/null) == Z ]]; }
gone "$pid3" && pass || fail "killed VMM still there"

# --- kill -9 of the helper with a tap, the table and a VMM, a stray tap, restart ---
kill -KILL "$HELPER_PID"
wait "$HELPER_PID" 2>/dev/null || true
in_ns ip tuntap add dev bgt0123456789ab mode tap
start_helper
wait_until 10 grep -q "reconcile:" "$T/helper2.log" || fail "no reconcile at restart"
has_link bgt0123456789ab && fail "stray tap survived the restart" || pass
has_link "$tap" && pass || fail "recorded tap lost at restart"
has_table && pass || fail "table not rebuilt at restart"
in_ns nft list chain inet banger forward | grep "bgbrtest" >/dev/null && pass || fail "rebuilt table lacks its rules"
kill -0 "$VMM_PID" 2>/dev/null && pass || fail "the helper's restart ended a VMM"

# --- the daemon says which VMs exist: the rest goes ---
out=$(ok '{"op":"reconcile","vms":["other"]}')
[[ $(jq -r .removed <<<"$out") == 1 && $(jq -r .killed <<<"$out") == 1 ]] && pass || fail "reconcile: $out"
has_link "$tap" && fail "tap of a deleted VM survived" || pass
wait_until 5 bash -c "! kill -0 $VMM_PID 2>/dev/null" && pass || fail "VMM of a deleted VM survived"
VMM_PID=
ok '{"op":"tap_create","vm":"web4"}' >/dev/null
expect '{"op":"teardown"}' -16 "taps remain"
ok '{"op":"tap_delete","vm":"web4"}' >/dev/null
ok '{"op":"teardown"}' >/dev/null
has_table && fail "table left after teardown" || pass
has_link bgbrtest && fail "bridge left after teardown" || pass
[[ $(in_ns ip -br link | grep -c '^bg') == 0 ]] && pass || fail "links left: $(in_ns ip -br link)"

kill -TERM "$HELPER_PID"
wait_until 10 bash -c "! kill -0 $HELPER_PID 2>/dev/null" && pass || fail "helper ignored SIGTERM"
HELPER_PID=

echo "test_helper: $checks passed, $failures failed"
[[ $failures -eq 0 ]]
