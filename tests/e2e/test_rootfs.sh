#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An imported image with an ext4 rootfs that knows nothing of banger boots with banger's agent:
# the rootfs is the root (overlay on top, read-only below, persistent per VM across stop and
# start), and guest networking works in user mode: address, default route, resolv.conf,
# hostname, a connection to the host through slirp with --nat, and none without it
# (restrict=on).
#
# Needs: qemu-system-x86_64, mkfs.ext4 with -d, the Debian packages `banger image build`
# fetches (its busybox-static also makes the rootfs and serves HTTP on the host). Exits 77
# (skipped) with the reason when something is missing. BANGER_E2E_CACHE as in test_vm_run.sh.
source "$(dirname "$0")/../integration/lib.sh"

need_vm
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 (e2fsprogs) is not installed"
command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed"
{ mkfs.ext4 2>&1 || true; } | grep -q -- '-d ' || skip "mkfs.ext4 cannot populate from a directory (-d)"

RUNTIME=$XDG_RUNTIME_DIR/banger
HTTPD_PID=

# QEMU outlives bangerd by design: on a failure halfway, end this test's VMs by their pidfiles.
teardown() {
  local rc=$? pid
  set +e # under -e, the (exit "$rc") below would end the handler before cleanup
  [[ -z "$HTTPD_PID" ]] || kill "$HTTPD_PID" 2>/dev/null || true
  for f in "$RUNTIME"/vms/*/qemu.pid; do
    [[ -f "$f" ]] && pid=$(cat "$f") && [[ "$pid" =~ ^[0-9]+$ ]] &&
      grep -qa -- "$T" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  (exit "$rc")
  cleanup
}
trap teardown EXIT

start_daemon
t0=$SECONDS

# --- the minimal image: its kernel and initrd boot the rootfs ---
api POST /v1/images/build '{"recipe":"minimal"}'
expect_status 202 "image build"
op=$(jq -r .id <<<"$BODY")
api GET "/v1/operations/$op?wait=300"
expect_json .state succeeded "image build ($BODY)"
api GET /v1/images/default
kernel=$(jq -r .kernel.path <<<"$BODY")
initrd=$(jq -r .initrd.path <<<"$BODY")
[[ -f "$kernel" && -f "$initrd" ]] || {
  fail "default image files: kernel '$kernel', initrd '$initrd'"
  finish
  exit 1
}
echo "image build: $((SECONDS - t0)) s"

# --- a rootfs made without root: busybox-static, os-release, mkfs.ext4 -d ---
debs=("$XDG_CACHE_HOME"/banger/debs/busybox-static_*.deb)
deb=${debs[-1]}
[[ -f "$deb" ]] || skip "no busybox-static package in $XDG_CACHE_HOME/banger/debs"
dpkg-deb -x "$deb" "$T/bb"
BUSYBOX=$T/bb/bin/busybox
root=$T/rootfs
mkdir -p "$root"/{bin,etc,root,tmp,proc,sys,dev,run,mnt,var,usr}
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
done
ln -s ../bin "$root/usr/bin"
ln -s bin "$root/sbin"
printf 'NAME=banger-test-rootfs\nID=banger-test-rootfs\n' >"$root/etc/os-release"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
mkfs.ext4 -q -d "$root" -F "$T/rootfs.ext4" 64M
rootfs_sha=$(sha256sum <"$T/rootfs.ext4" | cut -d' ' -f1)

run_cli 0 image import rootfs-test --kernel "$kernel" --initrd "$initrd" --rootfs "$T/rootfs.ext4"
api GET /v1/images/rootfs-test
expect_json .state ready "imported image state"
expect_json .rootfs.path "$T/rootfs.ext4" "imported image rootfs"

# --- the host side of the network: busybox httpd on loopback, a free port ---
www=$T/www
mkdir -p "$www"
echo "hello from the host $$" >"$www/hello.txt"
port=
for _ in $(seq 1 20); do
  p=$((20000 + RANDOM % 40000))
  "$BUSYBOX" httpd -f -p "127.0.0.1:$p" -h "$www" &
  HTTPD_PID=$!
  if wait_until 5 curl -sf -o /dev/null "http://127.0.0.1:$p/hello.txt"; then
    port=$p
    break
  fi
  kill "$HTTPD_PID" 2>/dev/null || true
  wait "$HTTPD_PID" 2>/dev/null || true
  HTTPD_PID=
done
[[ -n "$port" ]] || {
  fail "busybox httpd did not start on any port"
  finish
  exit 1
}

# --- a rootfs VM with NAT: the root, the overlay, the network ---
t1=$SECONDS
run_cli 0 vm create r1 --image rootfs-test --nat --start
echo "create + boot (rootfs, nat): $((SECONDS - t1)) s"
run_cli 0 vm exec r1 -- cat /etc/os-release
expect_contains "$OUT" "NAME=banger-test-rootfs" "the rootfs is /"
run_cli 0 vm exec r1 -- mount
expect_contains "$OUT" "overlay on / type overlay" "overlay on /"
run_cli 0 vm exec r1 -- hostname
expect_eq "$OUT" r1 "hostname"
run_cli 0 vm exec r1 -- ip addr
expect_contains "$OUT" "inet 10.0.2.15/24" "guest address"
# the flags may still say NO-CARRIER for a moment after boot; UP is what the agent set
if [[ "$OUT" =~ eth0:\ \<([A-Z_-]+,)*UP[,\>] ]]; then pass; else fail "eth0 is not up: $OUT"; fi
# /proc/net/route: eth0, destination 0, gateway 10.0.2.2 (little-endian hex), flags UP|GATEWAY
run_cli 0 vm exec r1 -- sh -c "awk '\$2 == \"00000000\" {print \$1, \$3, \$4}' /proc/net/route"
expect_eq "$OUT" "eth0 0202000A 0003" "default route via 10.0.2.2"
run_cli 0 vm exec r1 -- cat /etc/resolv.conf
expect_contains "$OUT" "nameserver 10.0.2.3" "resolv.conf in the rootfs"
run_cli 0 vm exec r1 -- wget -q -O- "http://10.0.2.2:$port/hello.txt"
expect_eq "$OUT" "hello from the host $$" "wget from the host through slirp (nat)"

# The overlay is the VM's own disk: a file written survives stop + start.
run_cli 0 vm exec r1 -- sh -c 'echo kept >/root/persist && echo x >/etc/written-by-vm && sync'
run_cli 0 vm stop r1
t1=$SECONDS
run_cli 0 vm start r1
echo "restart (rootfs): $((SECONDS - t1)) s"
run_cli 0 vm exec r1 -- cat /root/persist /etc/os-release
expect_contains "$OUT" "kept" "file in /root after stop + start"
expect_contains "$OUT" "NAME=banger-test-rootfs" "rootfs after restart"
run_cli 0 vm stop r1
expect_eq "$(sha256sum <"$T/rootfs.ext4" | cut -d' ' -f1)" "$rootfs_sha" \
  "the rootfs file is unchanged (read-only lower layer)"

# --- the default image (initramfs root) without NAT: restrict=on ---
t1=$SECONDS
run_cli 0 vm create r2 --image default --start
echo "create + boot (initramfs, no nat): $((SECONDS - t1)) s"
run_cli 0 vm exec r2 -- cat /etc/resolv.conf
expect_contains "$OUT" "nameserver 10.0.2.3" "resolv.conf in the initramfs"
run_cli 0 vm exec r2 -- ip addr
expect_contains "$OUT" "inet 10.0.2.15/24" "guest address without nat"
# slirp's restricted mode answers every guest-initiated TCP connection that no guestfwd rule
# names with a reset, the gateway's own address included: the host's httpd is out of reach.
# (No -T: busybox 1.35's wget crashes with it.)
run_cli 1 vm exec r2 -- wget -q -O- "http://10.0.2.2:$port/hello.txt"
expect_eq "$OUT" "" "no content through restrict=on"
expect_contains "$ERR" "Connection refused" "restrict=on refuses the connection"

# --- nothing left behind ---
run_cli 0 vm rm --force r2
run_cli 0 vm rm --force r1
run_cli 0 image rm rootfs-test
expect_no_vm_left
if [[ -f "$T/rootfs.ext4" ]]; then pass; else fail "deleting the imported image removed its rootfs"; fi
echo "total: $((SECONDS - t0)) s"

finish
