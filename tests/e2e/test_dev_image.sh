#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The development image boots and does development work: cc, git, make and python3 run, a C
# program builds and runs, a small C project's `make test` (examples/hello-c) passes and fails
# through `vm run --rm ./proj` with make's exit code, sshd is installed, the guest's apt points
# at the host's mirror, the image is read-only beneath the VM's overlay, and vm run and vm
# create without --image take vm_default_image.
#
# uses: dev_image
#
# Needs: qemu-system-x86_64 and the e2e/dev_image fixture. Exits 77 (skipped) when missing.
source "$(dirname "$0")/../integration/lib.sh"

need_vm
RUNTIME=$XDG_RUNTIME_DIR/banger

# QEMU outlives bangerd by design: on a failure halfway, end this test's VMs by their pidfiles.
teardown() {
  local rc=$? pid
  set +e
  for f in "$RUNTIME"/vms/*/qemu.pid; do
    [[ -f "$f" ]] && pid=$(cat "$f") && [[ "$pid" =~ ^[0-9]+$ ]] &&
      grep -qa -- "$T" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  (exit "$rc")
  cleanup
}
trap teardown EXIT

BANGERD_VM_DEFAULT_IMAGE=dev start_daemon
use_dev_image dev
rootfs_sha=$(sha256sum <"$BANGER_DEV_IMAGE_DIR/rootfs.ext4" | cut -d' ' -f1)

# --- the tools, through vm run without --image (vm_default_image = dev) ---
t0=$SECONDS
run_cli 0 vm run --rm --timings -- sh -c 'cc --version | head -n1; git --version;
  make --version | head -n1; python3 --version; python3 -c "print(6 * 7)"; ls /usr/sbin/sshd;
  . /etc/os-release; echo "$PRETTY_NAME"'
echo "vm run (dev image): $((SECONDS - t0)) s; $(grep timings <<<"$ERR")"
expect_contains "$ERR" "created vm 'run-" "vm run names the VM"
expect_contains "$ERR" "(image dev)" "vm run without --image takes vm_default_image"
expect_contains "$OUT" "cc (Debian 12." "cc is Debian 12's gcc"
expect_contains "$OUT" "git version 2." "git"
expect_contains "$OUT" "GNU Make 4." "make"
expect_contains "$OUT" "Python 3.11" "python3"
expect_contains "$OUT" "42" "python3 runs code"
expect_contains "$OUT" "/usr/sbin/sshd" "sshd is installed"
expect_contains "$OUT" "Debian GNU/Linux 12 (bookworm)" "Debian 12"

# --- the main job: vm run --rm ./proj -- make test on a small C project (examples/hello-c)
# prints the tests' output and returns make's exit code, passing and failing ---
proj=$T/proj
cp -r "$(dirname "$0")/../../examples/hello-c" "$proj"
git -C "$proj" init -q && git -C "$proj" add . &&
  git -C "$proj" -c user.name=t -c user.email=t@t commit -qm hello
cd "$T"
run_cli 0 vm run --rm ./proj -- make test
expect_contains "$OUT" "PASS cut to fit: 'hello, '" "make test prints the tests' output"
expect_contains "$OUT" "0 test(s) failed" "make test passes"
sed -i 's/"hello, banger!"/"hi, banger!"/' "$proj/greet_test.c"
git -C "$proj" -c user.name=t -c user.email=t@t commit -qam "a failing test"
run_cli 2 vm run --rm ./proj -- make test
expect_contains "$OUT" "FAIL a name: 'hello, banger!'" "the failing test's output"
expect_contains "$OUT" "1 test(s) failed" "one test fails"
expect_contains "$ERR" "Error 1" "make says the test failed"
cd - >/dev/null

# --- a long-lived VM made without --image: a C program built and run, the overlay, apt ---
run_cli 0 vm create d1 --start
expect_contains "$OUT" "image dev" "vm create without --image takes vm_default_image"
cat >"$T/hello.c" <<'EOF'
#include <stdio.h>
int main(void) { printf("hello from %s\n", "gcc"); return 3; }
EOF
"$BANGER" vm exec -i d1 -- sh -c 'cat >/root/hello.c' <"$T/hello.c"
run_cli 3 vm exec d1 --cwd /root -- sh -c 'gcc -Wall -O2 -o hello hello.c && ./hello'
expect_eq "$OUT" "hello from gcc" "a C program built in the guest"
run_cli 0 vm exec d1 -- sh -c 'cd /root && git init -q p && cd p && git config user.email t@t &&
  git config user.name t && echo x >f && git add f && git commit -qm first && git log --oneline | wc -l'
expect_eq "$OUT" 1 "git commits in the guest"
run_cli 0 vm exec d1 -- mount
expect_contains "$OUT" "overlay on / type overlay" "the overlay is /"
run_cli 0 vm exec d1 -- cat /etc/apt/sources.list
expect_contains "$OUT" "bookworm" "the guest's apt points at a Debian 12 mirror"
host_mirror=$(apt-get indextargets --format '$(SITE)' 2>/dev/null | grep -m1 . || true)
if [[ -n "$host_mirror" ]]; then expect_contains "$OUT" "${host_mirror%/}" "the host's own mirror"; fi
# host keys are each VM's own (the agent makes them at its first boot), never the image's
keys=$(debugfs -R 'ls /etc/ssh' "$BANGER_DEV_IMAGE_DIR/rootfs.ext4" 2>/dev/null | grep -c ssh_host_ || true)
expect_eq "$keys" 0 "no sshd host keys come with the image"
run_cli 0 vm exec d1 -- sh -c 'ls /etc/ssh/ssh_host_*_key 2>/dev/null | wc -l'
[[ "$OUT" -ge 1 ]] && pass || fail "the VM has no host keys of its own (got $OUT)"
run_cli 0 vm rm --force d1

expect_eq "$(sha256sum <"$BANGER_DEV_IMAGE_DIR/rootfs.ext4" | cut -d' ' -f1)" "$rootfs_sha" \
  "the rootfs is unchanged after VMs wrote to their overlays"
expect_no_vm_left
finish
