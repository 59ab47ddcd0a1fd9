#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vm run --rm is bangerd's to enforce: an auto_remove VM is deleted when the connection that
# made it closes, so a CLI killed with SIGKILL during the boot or during the command leaves no
# VM record and no VMM process behind; so does a client that creates one and hangs up, and a
# bangerd killed under one (the next start deletes it).
#
# Needs: qemu-system-x86_64 and the image from `banger image build` (as test_vm_run.sh).
source "$(dirname "$0")/../integration/lib.sh"

need_vm
RUNTIME=$XDG_RUNTIME_DIR/banger
start_daemon
build_default_image

vm_state() { curl -s --unix-socket "$SOCK" "http://b/v1/vms/$1" | jq -r '.state // .code'; }
vmm_of() { pgrep -f "qemu-system.*$RUNTIME/vms/$1/" >/dev/null; }
# VM $1 has neither a record nor a VMM process
gone() { [[ "$(vm_state "$1")" == vm_not_found ]] && ! vmm_of "$1"; }
expect_gone() {
  if wait_until "$2" gone "$1"; then pass; else fail "vm $1 left behind: $(vm_state "$1"), vmm $(pgrep -af "qemu-system.*$RUNTIME/vms/$1/")"; fi
}

# --- the CLI killed during the command ---
"$BANGER" vm run --rm --name k-cmd -- sleep 600 >"$T/k-cmd.out" 2>&1 &
cli=$!
wait_until 300 bash -c "[[ \$(curl -s --unix-socket '$SOCK' http://b/v1/vms/k-cmd | jq -r .state) == running ]]" ||
  fail "k-cmd never ran"
sleeping() { "$BANGER" vm exec k-cmd -- sh -c 'ps | grep -q "[s]leep 600"' 2>/dev/null; }
wait_until 60 sleeping || fail "the command never started in k-cmd"
vmm_of k-cmd && pass || fail "no VMM process found for k-cmd"
kill -KILL "$cli"
wait "$cli" 2>/dev/null || true
expect_gone k-cmd 60
grep -q "auto-remove vm 'k-cmd': its client is gone; deleted" "$DAEMON_LOG" && pass ||
  fail "bangerd did not say it removed k-cmd"

# --- the CLI killed during the boot: the boot stops, the VM goes ---
"$BANGER" vm run --rm --name k-boot -- true >"$T/k-boot.out" 2>&1 &
cli=$!
wait_until 60 bash -c "[[ \$(curl -s --unix-socket '$SOCK' http://b/v1/vms/k-boot | jq -r .state) == starting ]]" ||
  fail "k-boot never started booting"
kill -KILL "$cli"
wait "$cli" 2>/dev/null || true
expect_gone k-boot 150
grep -q "start vm 'k-boot': its client went away during the boot" "$DAEMON_LOG" && pass ||
  fail "the boot of k-boot did not stop when its client left"

# --- a client that creates one and hangs up ---
api POST /v1/vms '{"name":"k-curl","image":"default","auto_remove":true}'
expect_status 201 "create auto_remove"
expect_json .auto_remove true
expect_gone k-curl 30

# --- the normal end: gone when the CLI returns ---
run_cli 0 vm run --rm --name k-ok -- echo fine
expect_eq "$OUT" fine "vm run --rm output"
gone k-ok && pass || fail "k-ok left behind after vm run --rm returned"

# --- bangerd killed under one: the next bangerd deletes it ---
"$BANGER" vm run --rm --name k-daemon -- sleep 600 >"$T/k-daemon.out" 2>&1 &
cli=$!
wait_until 300 bash -c "[[ \$(curl -s --unix-socket '$SOCK' http://b/v1/vms/k-daemon | jq -r .state) == running ]]" ||
  fail "k-daemon never ran"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
vmm_of k-daemon && pass || fail "the VMM of k-daemon went with bangerd"
start_daemon
expect_gone k-daemon 30
wait "$cli" 2>/dev/null || true

expect_no_vm_left
finish
