#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The guest half of Firecracker's agent channel on a real kernel: the default image's ELF
# vmlinux, entered through its PVH note as Firecracker enters it (QEMU microvm here), with
# the image's initrd and the real banger-agent as PID 1, and `banger.agent=vsock` on the
# command line as the Firecracker driver passes it. The vsock modules load and the agent
# listens on vsock port 52. An unknown banger.agent= powers the guest off saying why.
#
# What this cannot show: a host connecting through that port. A guest vsock device needs
# /dev/vhost-vsock on the host for QEMU, or KVM for Firecracker; these machines have neither
# (tests/integration/test_firecracker.sh covers the host half against the test double).
#
# Needs what test_vm_run.sh needs; exits 77 (skipped) saying what is missing.
source "$(dirname "$0")/../integration/lib.sh"

need_vm
AGENT=${BANGER_AGENT:-$(dirname "$BANGERD")/../agent/banger-agent}
[[ -x "$AGENT" ]] || skip "banger-agent is not built ($AGENT)"
command -v cpio >/dev/null || skip "cpio is not installed"
QEMU_PID=
teardown() {
  local rc=$?
  [[ -z "$QEMU_PID" ]] || kill -KILL "$QEMU_PID" 2>/dev/null || true
  (exit "$rc")
  cleanup
}
trap teardown EXIT

start_daemon
build_default_image
images=$XDG_STATE_HOME/banger/images/default

# banger's agent archive, as bangerd appends it (server/vm/initrd.c): /init and mount points
mkdir -p "$T/agent"/{dev,proc,sys,run,tmp,mnt}
cp "$AGENT" "$T/agent/init"
(cd "$T/agent" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$T/agent.cpio"
cat "$images/initrd.img" "$T/agent.cpio" >"$T/boot.img"

# boot ARGS LOG: QEMU in the background on the vmlinux, console to LOG
boot() {
  raw_qemu_argv "$images/vmlinux" "$T/boot.img" "$2" "$1"
  "${QEMU_ARGV[@]}" >"$2.qemu" 2>&1 &
  QEMU_PID=$!
}
console_has() { grep -q -- "$2" "$1" 2>/dev/null; }
gone() { ! kill -0 "$QEMU_PID" 2>/dev/null; }

boot "banger.agent=vsock" "$T/vsock.log"
if wait_until 120 console_has "$T/vsock.log" "waiting for the host on vsock port 52"; then
  pass
else
  fail "the agent does not listen on vsock: $(tail -c 2000 "$T/vsock.log")"
fi
grep -q "vmw_vsock_virtio_transport" "$images/initrd.img" && pass ||
  fail "the initrd lacks the virtio vsock transport module"
expect_eq "$(grep -c 'powering off' "$T/vsock.log")" 0 "the agent keeps running"
kill -KILL "$QEMU_PID" 2>/dev/null || true
wait "$QEMU_PID" 2>/dev/null || true
QEMU_PID=

boot "banger.agent=serial" "$T/bad.log"
wait_until 120 gone && pass || fail "a bad banger.agent= does not power off"
QEMU_PID=
expect_contains "$(cat "$T/bad.log")" "banger.agent=serial: want 'vsock' or 'port'; powering off" \
  "the console says why"
finish
