#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: test-refusals.sh FAKE_FIRECRACKER
#
# Proves the Firecracker test double refuses what Firecracker refuses (firecracker-notes.md
# §1.3, §2): a table of bad requests, each answered 400 with a fault_message fragment; the good
# boot sequence answered 204; an existing socket path refused at bind; the 11th concurrent
# connection not accepted. Needs curl with --unix-socket and python3 (for holding connections).
set -euo pipefail

fake=${1:?usage: test-refusals.sh FAKE_FIRECRACKER}
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "skip: needs $tool"; exit 77; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }

sock=$tmp/api.sock

# start_double SOCK [ARGS...]: runs the double and waits (bounded) until its API answers: the
# socket file appears at bind(), before listen(), so its existence proves nothing yet.
start_double() {
    local s=$1
    shift
    "$fake" --api-sock "$s" --id refusals-1 --log-path "$tmp/fc.log" "$@" >"$tmp/stdout" 2>&1 &
    pids+=($!)
    for _ in $(seq 200); do
        curl -sf --unix-socket "$s" -o /dev/null http://localhost/ && return 0
        kill -0 "$!" 2>/dev/null || break
        sleep 0.01
    done
    echo "the double did not bind $s" >&2
    cat "$tmp/stdout" >&2
    exit 1
}

# req METHOD PATH [BODY]: prints "STATUS BODY".
req() {
    local args=(-sS --unix-socket "$sock" -X "$1" -o "$tmp/body" -w '%{http_code}')
    [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    local code
    code=$(curl "${args[@]}" "http://localhost$2") || code="curl-failed"
    echo "$code $(cat "$tmp/body" 2>/dev/null)"
}

# expect NAME WANT_STATUS FRAGMENT METHOD PATH [BODY]
expect() {
    local name=$1 want=$2 frag=$3
    shift 3
    local got
    got=$(req "$@")
    local code=${got%% *} body=${got#* }
    if [[ $code != "$want" ]]; then
        bad "$name: $* -> status $code, want $want (body: $body)"
    elif [[ -n $frag && $body != *"\"fault_message\":\""*"$frag"* ]]; then
        bad "$name: $* -> fault_message lacks '$frag' (body: $body)"
    else
        ok
    fi
}

echo kernel >"$tmp/vmlinux"
echo initrd >"$tmp/initrd.img"
truncate -s 1M "$tmp/rootfs.ext4" "$tmp/overlay.img" "$tmp/work.img"

start_double "$sock"

# -- the table of refusals, before InstanceStart --
expect "unknown path" 400 "Invalid request method and/or path: GET foo." GET /foo
expect "wrong method" 400 "Invalid request method and/or path: DELETE machine-config." \
    DELETE /machine-config
expect "PATCH not served" 400 "Invalid request method and/or path" PATCH /vm '{"state":"Paused"}'
expect "unknown field" 400 "unknown field \`foo\`" PUT /machine-config \
    '{"vcpu_count":2,"mem_size_mib":256,"foo":1}'
expect "missing required field" 400 "missing field \`mem_size_mib\`" PUT /machine-config \
    '{"vcpu_count":2}'
expect "missing required id" 400 "missing field \`is_root_device\`" PUT /drives/rootfs \
    '{"drive_id":"rootfs","path_on_host":"'"$tmp"'/rootfs.ext4"}'
expect "wrong type (string for integer)" 400 "invalid type for field \`vcpu_count\`" \
    PUT /machine-config '{"vcpu_count":"2","mem_size_mib":256}'
expect "wrong type (integer for boolean)" 400 "invalid type for field \`is_read_only\`" \
    PUT /drives/rootfs '{"drive_id":"rootfs","is_root_device":false,"is_read_only":1}'
expect "body not an object" 400 "deserializing the json body" PUT /machine-config '[1,2]'
expect "malformed JSON" 400 "An error occurred when deserializing the json body of a request" \
    PUT /machine-config '{"vcpu_count":'
expect "empty PUT" 400 "Empty PUT request." PUT /machine-config
expect "body on a GET" 400 "GET request cannot have a body." GET /machine-config '{}'
expect "path id differs from body id" 400 \
    "The id from the path does not match the id from the body!" PUT /drives/rootfs \
    '{"drive_id":"other","path_on_host":"'"$tmp"'/rootfs.ext4","is_root_device":false}'
expect "hyphen in a resource id" 400 \
    "API Resource IDs can only contain alphanumeric characters and underscores." \
    PUT /drives/root-fs \
    '{"drive_id":"root-fs","path_on_host":"'"$tmp"'/rootfs.ext4","is_root_device":false}'
expect "hyphen in an iface id" 400 "API Resource IDs can only contain" \
    PUT /network-interfaces/eth-0 '{"iface_id":"eth-0","host_dev_name":"tap0"}'
expect "vcpu_count out of range" 400 "The vCPU number is invalid" PUT /machine-config \
    '{"vcpu_count":33,"mem_size_mib":256}'
expect "guest_cid below 3" 400 "guest_cid must be 3 or greater" PUT /vsock \
    '{"guest_cid":2,"uds_path":"'"$tmp"'/v.sock"}'
expect "unknown action" 400 "unknown variant \`Reboot\`" PUT /actions '{"action_type":"Reboot"}'
expect "kernel file missing" 400 "The kernel file cannot be opened" PUT /boot-source \
    '{"kernel_image_path":"'"$tmp"'/nope"}'
expect "drive file missing" 400 "Unable to create the block device" PUT /drives/rootfs \
    '{"drive_id":"rootfs","path_on_host":"'"$tmp"'/nope","is_root_device":false}'
expect "CtrlAltDel before start" 400 \
    "The requested operation is not supported before starting the microVM." \
    PUT /actions '{"action_type":"SendCtrlAltDel"}'
expect "InstanceStart without a kernel" 400 \
    "Cannot start microvm without kernel configuration." PUT /actions \
    '{"action_type":"InstanceStart"}'

# -- informational GETs, exact shapes --
got=$(req GET /)
[[ $got == '200 {"id":"refusals-1","state":"Not started","vmm_version":"1.16.1","app_name":"Firecracker"}' ]] &&
    ok || bad "GET / -> $got"
got=$(req GET /version)
[[ $got == '200 {"firecracker_version":"1.16.1"}' ]] && ok || bad "GET /version -> $got"

# -- the good sequence, each answered 204 --
expect "machine-config" 204 "" PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256}'
expect "boot-source" 204 "" PUT /boot-source '{"kernel_image_path":"'"$tmp"'/vmlinux",'`
    `'"initrd_path":"'"$tmp"'/initrd.img","boot_args":"console=ttyS0 reboot=k panic=1"}'
expect "rootfs drive" 204 "" PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"'"$tmp"'/rootfs.ext4",'`
    `'"is_root_device":false,"is_read_only":true}'
expect "overlay drive" 204 "" PUT /drives/overlay '{"drive_id":"overlay","path_on_host":"'"$tmp"'/overlay.img",'`
    `'"is_root_device":false,"is_read_only":false}'
expect "work drive" 204 "" PUT /drives/work_1 '{"drive_id":"work_1","path_on_host":"'"$tmp"'/work.img",'`
    `'"is_root_device":false,"is_read_only":false}'
expect "vsock" 204 "" PUT /vsock '{"guest_cid":3,"uds_path":"'"$tmp"'/v.sock"}'
[[ -S $tmp/v.sock ]] && ok || bad "PUT /vsock did not bind uds_path"
got=$(req GET /machine-config)
[[ $got == *'"vcpu_count":2'*'"mem_size_mib":256'* ]] && ok || bad "GET /machine-config -> $got"
expect "InstanceStart" 204 "" PUT /actions '{"action_type":"InstanceStart"}'
got=$(req GET /)
[[ $got == *'"state":"Running"'* ]] && ok || bad "GET / after start -> $got"

# -- post-boot rules --
expect "config after InstanceStart" 400 \
    "The requested operation is not supported after starting the microVM." \
    PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
expect "boot-source after InstanceStart" 400 "not supported after starting the microVM." \
    PUT /boot-source '{"kernel_image_path":"'"$tmp"'/vmlinux"}'
expect "InstanceStart twice" 400 \
    "The requested operation is not supported after starting the microVM." \
    PUT /actions '{"action_type":"InstanceStart"}'

# -- hybrid vsock: EOF without OK when nothing listens on the guest port --
got=$(python3 - "$tmp/v.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"CONNECT 1234\n")
print(repr(s.recv(64)))
PY
)
[[ $got == "b''" ]] && ok || bad "vsock CONNECT to a port nobody listens on -> $got, want EOF"

# -- connections: 10 held, the 11th is not accepted (closed unanswered), a freed slot serves --
got=$(python3 - "$sock" <<'PY'
import socket, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    return s
def get(s):
    try:
        s.sendall(b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return s.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        return b""  # closed unanswered
    except socket.timeout:
        return b"timeout"
held = [conn() for _ in range(10)]
# each held connection is live: one request each, so all ten are accepted before the 11th
first = [get(s)[:15] for s in held]
eleventh = get(conn())
held.pop().close()
# the slot is freed once the double sees the close: retry a bounded number of times
import time
after = b""
for _ in range(200):
    after = get(conn())
    if after.startswith(b"HTTP/1.1 200"):
        break
    time.sleep(0.01)
print(all(f == b"HTTP/1.1 200 \r\n" for f in first), eleventh[:12] or b"EOF", after[:15])
PY
)
[[ $got == "True b'EOF' b'HTTP/1.1 200 \\r\\n'" ]] && ok ||
    bad "connection cap: got '$got', want 10 served, the 11th closed unanswered, then served again"

# -- an existing socket path is refused at bind (Firecracker never unlinks) --
rc=0
"$fake" --api-sock "$sock" --id refusals-2 >"$tmp/second" 2>&1 || rc=$?
[[ $rc == 1 ]] && grep -q "Failed to open the API socket at: $sock. Check that it is not already used." \
    "$tmp/second" && ok || bad "second double on a live socket: rc $rc, $(cat "$tmp/second")"
touch "$tmp/plain"
rc=0
"$fake" --api-sock "$tmp/plain" --id refusals-3 >"$tmp/third" 2>&1 || rc=$?
[[ $rc == 1 ]] && ok || bad "double on an existing plain file: rc $rc"

# -- arguments as Firecracker parses them --
rc=0
"$fake" --api-sock="$tmp/x.sock" >/dev/null 2>&1 || rc=$?
[[ $rc == 153 && ! -e $tmp/x.sock ]] && ok || bad "--api-sock=PATH form: rc $rc, want 153"

# -- SendCtrlAltDel after start: 204, then the process exits 0 and leaves its socket --
expect "SendCtrlAltDel" 204 "" PUT /actions '{"action_type":"SendCtrlAltDel"}'
rc=0
wait "${pids[0]}" || rc=$?
pids=()
[[ $rc == 0 ]] && ok || bad "exit after SendCtrlAltDel: rc $rc, want 0"
[[ -S $sock ]] && ok || bad "the API socket should be left behind, as Firecracker does"

echo "test-refusals: $((checks - fails))/$checks checks passed"
[[ $fails == 0 ]]
