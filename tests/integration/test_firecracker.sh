#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Firecracker driver against the strict test double (tests/fakes/firecracker): bangerd with
# vmm = firecracker, firecracker_path = a wrapper around the double and firecracker_kvm_check =
# false (the double needs no /dev/kvm; the product knows nothing of it); `vm run --rm -- echo ok`
# goes through launch, readiness, the boot sequence, the hybrid vsock and the real agent
# protocol, and stop. Then the error paths: bad kernel path (the double's fault_message is in
# the VM's error), a non-ELF kernel (and the same kernel with a vmlinux beside it, which is what
# Firecracker gets), the process exiting during readiness, a vsock that never
# answers, stop escalation, a VMM that dies unasked (failed, with the reason); and no sockets
# left behind.
source "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$BANGERD")/..
FAKE=${BANGER_FAKE_FIRECRACKER:-$BUILD/tests/fakes/fake-firecracker}
AGENT=${BANGER_AGENT:-$BUILD/agent/banger-agent}
[[ -x "$FAKE" ]] || skip "the Firecracker test double is not built ($FAKE)"
[[ -x "$AGENT" ]] || skip "banger-agent is not built ($AGENT)"
export BANGER_AGENT=$AGENT
RUN=$XDG_RUNTIME_DIR/banger/vms

# The daemon runs VMMs with a cleared environment: modes travel in the wrapper's argv.
wrapper() {
  printf '#!/bin/sh\nexec %q --fake-agent %q --fake-mode %q "$@"\n' "$FAKE" "$AGENT" "$1" >"$T/fc"
  chmod +x "$T/fc"
}
restart() {
  wrapper "$1"
  [[ -n "$DAEMON_PID" ]] && stop_daemon
  BANGERD_VMM=firecracker BANGERD_FIRECRACKER_PATH=$T/fc BANGERD_FIRECRACKER_KVM_CHECK=false \
    start_daemon
}
no_sockets() {
  local left
  left=$(find "$RUN" -name '*.sock' 2>/dev/null || true)
  expect_eq "$left" "" "no sockets left behind ($1)"
}

printf '\177ELF\002\001\001' >"$T/vmlinux"
head -c 4096 /dev/zero >>"$T/vmlinux"

# with the KVM check on (the default), a host without a usable /dev/kvm does not get Firecracker
if ! python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>/dev/null; then
  wrapper none
  BANGERD_VMM=firecracker BANGERD_FIRECRACKER_PATH=$T/fc start_daemon
  api GET /v1/system/info
  expect_json .vmm.selected null "no Firecracker without /dev/kvm"
  expect_contains "$(jq -r .vmm.reason <<<"$BODY")" "/dev/kvm not usable" "why not"
  stop_daemon
fi

restart none
api GET /v1/system/info
expect_json .vmm.selected firecracker "selected vmm"
expect_contains "$(jq -r .vmm.reason <<<"$BODY")" \
  "/dev/kvm not checked (firecracker_kvm_check = false)" "the reason says the check is off"
import_image fc "$T/vmlinux"

# the happy path: the whole sequence accepted by the double, the command run by the real agent
out=$("$BANGER" vm run --rm --image fc -- echo ok 2>"$T/run.err") || true
expect_eq "$out" "ok" "vm run --rm -- echo ok through the Firecracker driver"
no_sockets "after vm run --rm"

# a VM that stops: agent reboot ends the double
api POST /v1/vms '{"name":"s1","image":"fc"}'
run_cli 0 vm start s1
run_cli 0 vm stop s1
no_sockets "after stop"
expect_eq "$(pgrep -f -- "--api-sock $RUN/s1/" || true)" "" "no double left for s1"

# the VMM dies unasked: the watcher records the VM failed, naming the pid, with the console
run_cli 0 vm start s1
fc_pid=$(cat "$RUN/s1/firecracker.pid")
kill -TERM "$fc_pid" # the double then takes its "guest" (a dir in the run dir) down
vm_failed() { api GET /v1/vms/s1 && [[ "$(jq -r .state <<<"$BODY")" == failed ]]; }
wait_until 10 vm_failed && pass || fail "s1 not failed after its VMM was killed: $BODY"
expect_contains "$(jq -r .error <<<"$BODY")" \
  "its VMM (firecracker, pid $fc_pid) exited while the VM was running" "the reason names the pid"
no_sockets "after the VMM died"

# stop escalation: the guest halts instead of rebooting and ignores Ctrl-Alt-Del
restart ignore-reboot,ignore-cad
run_cli 0 vm start s1
run_cli 0 vm stop s1 --timeout 1
expect_contains "$(cat "$DAEMON_LOG")" "SendCtrlAltDel failed or ignored; sending SIGTERM" \
  "stop escalates to SIGTERM"
no_sockets "after escalated stop"

# the process exits during readiness: said why
restart exit-early
run_cli 1 vm start s1
api GET /v1/vms/s1
expect_contains "$(jq -r .error <<<"$BODY")" "exited before its API socket answered" \
  "exit during readiness"
expect_contains "$(jq -r .error <<<"$BODY")" "exit-early" "the double's log in the error"
no_sockets "after exit during readiness"

# the vsock never answers: the agent deadline, the VMM stopped
restart no-vsock
run_cli 1 vm start s1
api GET /v1/vms/s1
expect_contains "$(jq -r .error <<<"$BODY")" "EOF before OK" "vsock never answers"
no_sockets "after vsock timeout"

# bad kernel path: the double's fault_message reaches the VM's error
restart none
cp "$T/vmlinux" "$T/vmlinux2"
import_image fc2 "$T/vmlinux2"
api POST /v1/vms '{"name":"s2","image":"fc2"}'
rm "$T/vmlinux2"
run_cli 1 vm start s2
api GET /v1/vms/s2
expect_contains "$(jq -r .error <<<"$BODY")" "PUT /boot-source: HTTP 400: The kernel file cannot be opened" \
  "bad kernel path surfaced"

# an image whose kernel is not an ELF vmlinux (and that has no vmlinux) is refused at create,
# saying what to do
head -c 8192 /dev/urandom >"$T/bzImage"
import_image bz "$T/bzImage"
api POST /v1/vms '{"name":"s3","image":"bz"}'
expect_problem 409 image_unsupported image
expect_contains "$(jq -r .detail <<<"$BODY")" "import it again with --vmlinux" \
  "image_unsupported says what to do"
run_cli 1 vm run --rm --image bz -- true
expect_contains "$ERR" "cannot boot under firecracker" "vm run refused"
# ... and at start, for a VM created while bangerd ran QEMU
stop_daemon
BANGERD_VMM=qemu start_daemon
api POST /v1/vms '{"name":"s3","image":"bz"}'
expect_status 201 "a bzImage VM under qemu"
restart none
api POST /v1/vms/s3/start
expect_problem 409 image_unsupported
api GET /v1/vms/s3
expect_json .error null "a refused start is not a failed VM"
# ... and by the driver itself when the file changed after the import
cp "$T/vmlinux" "$T/vmlinux3"
import_image fc3 "$T/vmlinux3"
api POST /v1/vms '{"name":"s4","image":"fc3"}'
cp "$T/bzImage" "$T/vmlinux3"
run_cli 1 vm start s4
api GET /v1/vms/s4
expect_contains "$(jq -r .error <<<"$BODY")" "not an uncompressed ELF vmlinux" "non-ELF refused"

# the same bzImage with an ELF vmlinux beside it (what `image build` makes): Firecracker is
# given the vmlinux
api POST /v1/images "{\"name\":\"pair\",\"kernel\":\"$T/bzImage\",\"vmlinux\":\"$T/vmlinux\"}"
expect_status 202 "import pair"
api GET "/v1/operations/$(jq -r .id <<<"$BODY")?wait=30"
expect_json .state succeeded "import pair"
out=$("$BANGER" vm run --rm --image pair -- echo ok 2>"$T/run.err") || cat "$T/run.err" >&2
expect_eq "$out" "ok" "vm run boots the image's vmlinux"
no_sockets "at the end"
finish
