#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# POST /v1/vms/{name}/tunnel through the real daemon and CLI, with VMs of the Firecracker test
# double (tests/fakes/firecracker), whose guest is the real agent in host-test mode: the
# "guest's 127.0.0.1" is this machine's, so test servers on loopback stand in for the guest's.
# Every refusal (no Upgrade, bad bodies, unknown and stopped VMs, a closed port, ssh to a
# guest without sshd); bytes both ways with half-closes through 'vm tunnel'; the ssh mode of
# 'ssh-config proxy' (the client key lands in the guest's authorized_keys, the guest's host
# key in banger's known_hosts); 'vm forward' (and its refusal of a taken port); a tunnel ended
# by the VM's stop. The real ssh client against a real sshd is tests/e2e/test_ssh.sh.
source "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$BANGERD")/..
FAKE=${BANGER_FAKE_FIRECRACKER:-$BUILD/tests/fakes/fake-firecracker}
AGENT=${BANGER_AGENT:-$BUILD/agent/banger-agent}
[[ -x "$FAKE" ]] || skip "the Firecracker test double is not built ($FAKE)"
[[ -x "$AGENT" ]] || skip "banger-agent is not built ($AGENT)"
command -v python3 >/dev/null || skip "python3 is not installed (the test's servers)"
command -v ssh-keygen >/dev/null || skip "ssh-keygen is not installed (openssh-client)"
GUEST=$T/guest # the guest's / for what the agent does about ssh, when $T/ssh-on exists
PIDS=()

# The daemon runs VMMs with a cleared environment: everything travels in the wrappers.
printf '#!/bin/sh\nif [ -e %q ]; then exec %q "$@" --ssh-root %q; fi\nexec %q "$@"\n' \
  "$T/ssh-on" "$AGENT" "$GUEST" "$AGENT" >"$T/agent"
printf '#!/bin/sh\nexec %q --fake-agent %q --fake-mode none "$@"\n' "$FAKE" "$T/agent" >"$T/fc"
chmod +x "$T/agent" "$T/fc"

teardown() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  (exit "$rc")
  cleanup
}
trap teardown EXIT

# server MODE: a loopback TCP server in the background; sets PORT. echo: sends back what it
# reads until end of input, then closes; greet: sends "hello", half-closes, and reports what
# it reads on its stdout file.
server() {
  local out=$T/server.$RANDOM
  python3 -u -c '
import socket, sys, threading
mode = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
def serve(c):
    if mode == "greet":
        c.sendall(b"hello\n")
        c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        if mode == "echo":
            c.sendall(d)
        got += d
    print("got:" + got.decode(errors="replace")[:200], flush=True)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$1" >"$out" &
  PIDS+=($!)
  wait_until 10 test -s "$out" || {
    fail "the $1 server did not start"
    finish
    exit 1
  }
  PORT=$(head -n1 "$out")
  SERVER_OUT=$out
}

# A port nothing listens on.
closed_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tunnel_api() { api POST "/v1/vms/$1/tunnel" "$2" -H 'Upgrade: banger-tunnel/1' -H 'Connection: Upgrade'; }

BANGERD_VMM=firecracker BANGERD_FIRECRACKER_PATH=$T/fc BANGERD_FIRECRACKER_KVM_CHECK=false \
  start_daemon
printf '\177ELF\002\001\001' >"$T/vmlinux"
head -c 4096 /dev/zero >>"$T/vmlinux"
import_image fc "$T/vmlinux"
api POST /v1/vms '{"name":"idle","image":"fc"}'
expect_status 201 "create idle"

# --- refusals before any guest is asked ---
api POST /v1/vms/idle/tunnel '{"port":22}'
expect_problem 426 upgrade_required
expect_contains "$(jq -r .detail <<<"$BODY")" "Upgrade: banger-tunnel/1" "426 says what to send"
tunnel_api nosuch '{"port":22}'
expect_problem 404 vm_not_found
tunnel_api idle '{"port":22}'
expect_problem 409 vm_not_running
tunnel_api idle '{}'
expect_problem 400 missing_field port
tunnel_api idle '{"port":0}'
expect_problem 400 invalid_field port
tunnel_api idle '{"port":65536}'
expect_problem 400 invalid_field port
tunnel_api idle '{"port":"22"}'
expect_problem 400 invalid_field port
tunnel_api idle '{"port":22,"host":"10.0.0.1"}'
expect_problem 400 unknown_field host
tunnel_api idle '{"port":22,"authorized_key":"ssh-ed25519 AAAA"}'
expect_problem 400 invalid_field authorized_key
tunnel_api idle '{"port":22,"authorized_key":"ssh-dss AAAAB3NzaC1kc3M="}'
expect_problem 400 invalid_field authorized_key
tunnel_api idle '{"port":22,"host_keys":"yes"}'
expect_problem 400 invalid_field host_keys
run_cli 1 vm tunnel idle 80
expect_contains "$ERR" "not running" "vm tunnel of a stopped VM"
run_cli 2 vm tunnel idle 0
expect_contains "$ERR" "PORT" "vm tunnel PORT out of range"
run_cli 2 vm tunnel idle
expect_contains "$ERR" "needs a PORT" "vm tunnel without PORT"
run_cli 2 vm forward idle 8080
expect_contains "$ERR" "HOST_PORT:GUEST_PORT" "vm forward spec"
run_cli 1 vm forward idle 127.0.0.1:18080:80
expect_contains "$ERR" "not running" "vm forward of a stopped VM"

# --- what the ssh commands need on this machine ---
nobin=$T/nobin
mkdir -p "$nobin"
RC=0
PATH=$nobin "$BANGER" ssh-config proxy idle.vm </dev/null >"$T/out" 2>"$T/err" || RC=$?
expect_eq "$RC" 1 "ssh-config proxy without ssh-keygen"
expect_contains "$(cat "$T/err")" "ssh-keygen is not installed" "says what is missing"
RC=0
PATH=$nobin "$BANGER" vm ssh idle >"$T/out" 2>"$T/err" || RC=$?
expect_eq "$RC" 1 "vm ssh without ssh"
expect_contains "$(cat "$T/err")" "ssh is not installed" "says what is missing"

# --- a running VM whose agent has no ssh to manage ---
run_cli 0 vm start idle
server echo
out=$(printf 'ping\n' | "$BANGER" vm tunnel idle "$PORT")
expect_eq "$out" "ping" "vm tunnel: bytes there and back, end of input passed on"
server greet
out=$(printf 'after\n' | "$BANGER" vm tunnel idle "$PORT")
expect_eq "$out" "hello" "vm tunnel: the guest's half-close"
wait_until 10 grep -q '^got:after' "$SERVER_OUT" && pass || fail "the guest did not get 'after'"
big=$T/big
make_file "$big" 4096
server echo
"$BANGER" vm tunnel idle "$PORT" <"$big" >"$T/big.back"
expect_eq "$(sha256sum <"$T/big.back")" "$(sha256sum <"$big")" "vm tunnel: 4 MiB byte-exact"
closed=$(closed_port)
tunnel_api idle "{\"port\":$closed}"
expect_problem 502 tunnel_failed
expect_contains "$(jq -r .detail <<<"$BODY")" "connect 127.0.0.1:$closed: Connection refused" \
  "tunnel_failed names the guest's refusal"
run_cli 1 vm tunnel idle "$closed"
expect_contains "$ERR" "Connection refused" "vm tunnel to a closed port"
tunnel_api idle '{"port":22,"host_keys":true}'
expect_problem 409 ssh_unavailable
expect_contains "$(jq -r .detail <<<"$BODY")" "banger image build --recipe dev" \
  "ssh_unavailable says what to do"
run_cli 1 vm ssh idle -- true
expect_contains "$ERR" "has no ssh server" "vm ssh on a VM without sshd"
expect_contains "$ERR" "image 'fc'" "vm ssh names the image"

# --- vm forward ---
server echo
hport=$(closed_port)
"$BANGER" vm forward idle "127.0.0.1:$hport:$PORT" 2>"$T/forward.err" &
FWD=$!
PIDS+=($FWD)
wait_until 10 grep -q forwarding "$T/forward.err" && pass || fail "vm forward did not start"
expect_contains "$(cat "$T/forward.err")" "forwarding 127.0.0.1:$hport to port $PORT of vm 'idle'"
fwd_echo() { python3 -c '
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(sys.argv[2].encode()); c.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = c.recv(65536)
    if not d: break
    got += d
print(got.decode())' "$hport" "$1"; }
expect_eq "$(fwd_echo one)" "one" "vm forward: a connection"
expect_eq "$(fwd_echo two)" "two" "vm forward: the next one"
run_cli 1 vm forward idle "127.0.0.1:$hport:$PORT"
expect_contains "$ERR" "host port 127.0.0.1:$hport is taken" "vm forward: a taken port"
kill -INT "$FWD"
wait "$FWD" && pass || fail "vm forward did not exit 0 on SIGINT"

# --- the ssh mode, with a guest root the agent manages ---
run_cli 0 vm stop idle
mkdir -p "$GUEST/etc/ssh"
touch "$T/ssh-on"
ssh-keygen -q -t ed25519 -N '' -C root@guest -f "$GUEST/etc/ssh/ssh_host_ed25519_key"
run_cli 0 vm start idle
server echo
out=$(printf 'through ssh mode\n' | "$BANGER" ssh-config proxy idle.vm "$PORT")
expect_eq "$out" "through ssh mode" "ssh-config proxy: bytes there and back"
kh=$XDG_CONFIG_HOME/banger/ssh/known_hosts
expect_eq "$(cat "$kh")" "[idle.vm]:$PORT $(cut -d' ' -f1,2 "$GUEST/etc/ssh/ssh_host_ed25519_key.pub")" \
  "the guest's host key in banger's known_hosts"
expect_eq "$(stat -c %a "$XDG_CONFIG_HOME/banger/ssh/id_ed25519")" 600 "the client key is 0600"
expect_eq "$(cat "$GUEST/root/.ssh/authorized_keys")" \
  "$(cut -d' ' -f1,2 "$XDG_CONFIG_HOME/banger/ssh/id_ed25519.pub") banger" \
  "the client key in the guest's authorized_keys"
# a VM made again: new host key, the entry replaced (no warning for ssh), nothing else touched
echo "other.vm $(cut -d' ' -f1,2 "$GUEST/etc/ssh/ssh_host_ed25519_key.pub")" >>"$kh"
rm "$GUEST"/etc/ssh/ssh_host_ed25519_key*
ssh-keygen -q -t ed25519 -N '' -C root@guest -f "$GUEST/etc/ssh/ssh_host_ed25519_key"
out=$(printf 'again\n' | "$BANGER" ssh-config proxy idle "$PORT")
expect_eq "$out" "again" "ssh-config proxy: again"
expect_eq "$(grep -c '^\[idle.vm\]' "$kh")" 1 "one entry for the VM"
expect_eq "$(grep '^\[idle.vm\]' "$kh" | cut -d' ' -f2,3)" \
  "$(cut -d' ' -f1,2 "$GUEST/etc/ssh/ssh_host_ed25519_key.pub")" "the new host key"
expect_eq "$(grep -c '^other.vm ' "$kh")" 1 "other entries kept"
expect_eq "$(grep -c banger "$GUEST/root/.ssh/authorized_keys")" 1 "the client key once"
run_cli 2 ssh-config proxy not_a_name.vm
expect_contains "$ERR" "not a VM name" "ssh-config proxy refuses a bad host"

# --- the VM stops under an open tunnel: the tunnel ends ---
server greet
mkfifo "$T/in"
"$BANGER" vm tunnel idle "$PORT" <"$T/in" >"$T/held.out" 2>"$T/held.err" &
HELD=$!
PIDS+=($HELD)
exec 7>"$T/in"
wait_until 10 grep -q hello "$T/held.out" && pass || fail "the held tunnel did not open"
run_cli 0 vm stop idle
ended() { ! kill -0 "$HELD" 2>/dev/null; }
wait_until 20 ended && pass || fail "the tunnel outlived the VM"
exec 7>&-

finish
