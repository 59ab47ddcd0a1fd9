#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# image build end to end, recipe minimal: a real build from the Debian mirror, what the
# initramfs holds and in which order modules load, the package cache reused by a second build,
# refusals (of the recipe and package fields too, and of the dev recipe where its mode cannot
# run), a failed build, and a boot of the result in QEMU (busybox + modules, no agent). The dev
# recipe's build is tests/e2e/test_dev_image.sh.
source "$(dirname "$0")/lib.sh"

policy=$(apt-cache policy linux-image-cloud-amd64 2>/dev/null || true)
if [[ "$policy" != *"Candidate: "[0-9]* ]]; then
  skip "apt has no candidate for linux-image-cloud-amd64 (run 'apt-get update' as root)"
fi

export XDG_CACHE_HOME=$T/cache
debs=$XDG_CACHE_HOME/banger/debs
images=$XDG_STATE_HOME/banger/images
start_daemon

# --- refusals: strict body, names, and no build under a taken name
api POST /v1/images/build '{"name":"x","extra":1}'
expect_problem 400 unknown_field extra
api POST /v1/images/build '{"name":"Bad_Name"}'
expect_problem 400 invalid_name name
api POST /v1/images/build '{"name":7}'
expect_problem 400 invalid_field name
api POST /v1/images/build '[]'
expect_problem 400 invalid_json
api POST /v1/images/build '{"recipe":"big"}'
expect_problem 400 invalid_field recipe
expect_contains "$(jq -r .detail <<<"$BODY")" "recipe 'big' is not one of dev, minimal" "recipe detail"
api POST /v1/images/build '{"recipe":1}'
expect_problem 400 invalid_field recipe
api POST /v1/images/build '{"recipe":"minimal","packages":["vim"]}'
expect_problem 400 invalid_field packages
expect_contains "$(jq -r .detail <<<"$BODY")" "packages is for recipe dev" "packages on minimal"
api POST /v1/images/build '{"packages":["vim","Emacs"]}'
expect_problem 400 invalid_field packages
expect_contains "$(jq -r .detail <<<"$BODY")" "packages[1]: package name may contain only" \
  "bad package name"
api POST /v1/images/build '{"packages":"vim"}'
expect_problem 400 invalid_field packages
expect_contains "$(jq -r .detail <<<"$BODY")" "an array of at most 64 package names" "not an array"
api POST /v1/images/build "{\"packages\":[$(printf '"p%d",' $(seq 1 65) | sed 's/,$//')]}"
expect_problem 400 invalid_field packages
api POST /v1/images/build '{"packages":[7]}'
expect_problem 400 invalid_field packages
expect_contains "$(jq -r .detail <<<"$BODY")" "packages[0]: not a string" "package not a string"
run_cli 2 image build --recipe big
expect_contains "$ERR" "'big' is not one of dev, minimal" "CLI --recipe refusal"
run_cli 2 image build --packages vim,Emacs
expect_contains "$ERR" "flag '--packages': package name may contain only" "CLI --packages refusal"
api GET /v1/images
expect_json '.images | length' 0 "no image made by a refusal"

# --- a cold build of "default" (no name means the default name)
api POST /v1/images/build '{"recipe":"minimal"}'
expect_status 202 "build default"
expect_json .kind image_build
expect_json .target /v1/images/default
expect_json .progress.unit steps
expect_json .progress.total 7
op=$(jq -r .id <<<"$BODY")
expect_eq "$(header Location)" "/v1/operations/$op" "Location of the build"
api POST /v1/images/build '{"name":"default","recipe":"minimal"}'
expect_problem 409 image_exists name
expect_contains "$(jq -r .detail <<<"$BODY")" "an image named 'default' already exists" "image_exists detail"
api GET /v1/images/default
expect_json .source build:debian "source while building"

api GET "/v1/operations/$op?wait=100"
expect_json .state succeeded "cold build"
expect_json .progress.done 7
expect_json .progress.step "register (vmlinux for firecracker: not yet proven on a real Firecracker)"
expect_json .result.state ready
api GET /v1/images/default
expect_json .state ready
expect_json '.vmms | join(",")' firecracker,qemu
expect_json '.vmms_unproven | join(",")' firecracker "firecracker marked as not yet proven"
expect_json .rootfs null
expect_json .arch x86_64
expect_json .recipe.name minimal
expect_json '.recipe.packages | join(",")' linux-image-cloud-amd64,busybox-static
expect_json .kernel.path "$images/default/vmlinuz"
expect_json .initrd.path "$images/default/initrd.img"
expect_json .kernel.sha256 "$(sha256sum "$images/default/vmlinuz" | cut -d' ' -f1)"
expect_json .initrd.sha256 "$(sha256sum "$images/default/initrd.img" | cut -d' ' -f1)"
expect_json .vmlinux.path "$images/default/vmlinux"
expect_json .vmlinux.sha256 "$(sha256sum "$images/default/vmlinux" | cut -d' ' -f1)"
expect_json .initrd.size_bytes "$(stat -c %s "$images/default/initrd.img")"
expect_eq "$(od -An -c -j 514 -N 4 "$images/default/vmlinuz" | tr -d ' ')" HdrS "bzImage header"
# the ELF vmlinux extracted from it, for Firecracker
expect_eq "$(od -An -tx1 -N 4 "$images/default/vmlinux" | tr -d ' ')" 7f454c46 "vmlinux is an ELF"

# --- the initramfs: busybox and its links, the modules, their order
list=$(cpio -t <"$images/default/initrd.img" 2>/dev/null)
for f in bin/busybox bin/sh bin/mount bin/insmod bin/poweroff bin/sha256sum bin/ip \
  lib/banger/modules.order etc/passwd; do
  grep -qx "$f" <<<"$list" && pass || fail "initrd lacks $f"
done
expect_contains "$(cpio -t -v <"$images/default/initrd.img" 2>/dev/null)" "bin/sh -> busybox" "sh link"
order=$(cd "$T" && cpio -i --to-stdout lib/banger/modules.order <"$images/default/initrd.img" 2>/dev/null)
for m in virtio_ring virtio virtio_mmio virtio_blk virtio_console virtio_net vsock \
  vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport overlay; do
  grep -qx "/lib/banger/modules/$m.ko" <<<"$order" && pass || fail "modules.order lacks $m"
  grep -qx "lib/banger/modules/$m.ko" <<<"$list" && pass || fail "initrd lacks module $m"
done
# every dependency before its user (from the modules' own .modinfo)
line() { grep -nx "/lib/banger/modules/$1.ko" <<<"$order" | cut -d: -f1; }
before() { (($(line "$1") < $(line "$2"))) && pass || fail "$1 should load before $2"; }
before virtio_ring virtio
before virtio virtio_mmio
before virtio virtio_blk
before virtio virtio_console
before virtio virtio_net
before net_failover virtio_net
before failover net_failover
before vsock vmw_vsock_virtio_transport_common
before vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
expect_eq "$(sort <<<"$order" | uniq -d)" "" "modules.order lists each module once"
expect_eq "$(ls "$debs" | grep -c '\.deb$')" 3 "packages in the cache"
expect_eq "$(ls -d "$XDG_CACHE_HOME"/banger/build-* 2>/dev/null)" "" "scratch directory removed"

# --- a second build through the CLI downloads nothing and makes the same bytes
before_cache=$(ls -l --time-style=full-iso "$debs")
run_cli 0 image build --recipe minimal second
expect_contains "$OUT" "state:        ready" "CLI shows the image"
expect_contains "$OUT" "recipe:       minimal (linux-image-cloud-amd64, busybox-static)" \
  "CLI shows the recipe"
expect_contains "$OUT" "source:       build:debian" "CLI shows the source"
expect_contains "$OUT" "vmms:         firecracker (not yet proven),qemu" "CLI marks firecracker"
# Off a terminal the CLI prints one line per step it sees; it polls, so only the first
# (the operation as accepted) is certain.
expect_contains "$ERR" "building second  [1/7] queued" "CLI progress"
expect_eq "$(grep -v '^building second  done in [0-9.]* s$' <<<"$ERR" |
  grep -cv '^building second  \[[1-7]/7\] [a-z]')" 0 "CLI progress lines"
expect_contains "$ERR" "building second  done in" "CLI says the build is done"
expect_eq "$(ls -l --time-style=full-iso "$debs")" "$before_cache" "cache untouched by the 2nd build"
expect_contains "$(cat "$DAEMON_LOG")" "build image 'second': ready" "second build log"
grep -q "build image 'second': downloaded" "$DAEMON_LOG" && fail "second build downloaded" || pass
cmp -s "$images/default/initrd.img" "$images/second/initrd.img" && pass ||
  fail "the same packages made a different initrd"
run_cli 0 image build --recipe minimal --no-wait third
expect_contains "$OUT" "building image 'third' (operation op-" "--no-wait"
run_cli 1 image build --recipe minimal default
expect_contains "$ERR" "already exists" "CLI refusal of a taken name"

# --- boot: the image's initrd plus a tiny /init that loads the modules and powers off
if command -v qemu-system-x86_64 >/dev/null; then
  mkdir -p "$T/extra"
  cat >"$T/extra/init" <<'EOF'
#!/bin/sh
/bin/mount -t devtmpfs devtmpfs /dev
n=0
while read -r m; do /bin/insmod "$m" && n=$((n + 1)); done </lib/banger/modules.order
echo "modules loaded: $n" >/dev/ttyS0
echo banger-ok >/dev/ttyS0
/bin/poweroff -f
EOF
  chmod 0755 "$T/extra/init"
  (cd "$T/extra" && echo init | cpio -o -H newc --quiet) >"$T/extra.cpio"
  cat "$images/default/initrd.img" "$T/extra.cpio" >"$T/boot.img"
  rc=0
  raw_qemu_argv "$images/default/vmlinuz" "$T/boot.img" "$T/serial.log"
  timeout 60 "${QEMU_ARGV[@]}" >"$T/qemu.out" 2>&1 || rc=$?
  expect_eq "$rc" 0 "qemu exit"
  expect_contains "$(cat "$T/serial.log")" "modules loaded: 12" "every module loads"
  expect_contains "$(cat "$T/serial.log")" "banger-ok" "boot reaches /init"
  # The extracted ELF vmlinux boots too, through its PVH entry (how Firecracker enters it).
  rc=0
  raw_qemu_argv "$images/default/vmlinux" "$T/boot.img" "$T/serial-pvh.log"
  timeout 60 "${QEMU_ARGV[@]}" >"$T/qemu-pvh.out" 2>&1 || rc=$?
  expect_eq "$rc" 0 "qemu exit (vmlinux)"
  expect_contains "$(cat "$T/serial-pvh.log")" "banger-ok" "vmlinux boot reaches /init"
else
  echo "skip: boot check needs qemu-system-x86_64"
fi

api GET /v1/operations
op3=$(jq -r '.operations[] | select(.target == "/v1/images/third") | .id' <<<"$BODY")
api GET "/v1/operations/$op3?wait=100"
expect_json .state succeeded "build with --no-wait"

# --- a build that fails says why, marks the image failed and leaves no scratch behind
stop_daemon
touch "$T/not-a-dir"
start_daemon --cache-dir "$T/not-a-dir"
api POST /v1/images/build '{"name":"broken","recipe":"minimal"}'
expect_status 202 "build broken"
op=$(jq -r .id <<<"$BODY")
api GET "/v1/operations/$op?wait=60"
expect_json .state failed "broken build"
expect_json .error.code internal
expect_contains "$(jq -r .error.detail <<<"$BODY")" "not-a-dir" "failure detail"
api GET /v1/images/broken
expect_json .state failed
expect_contains "$(jq -r .error <<<"$BODY")" "not-a-dir" "image error"
api DELETE /v1/images/broken
expect_status 204 "remove the failed image"
api DELETE /v1/images/second
expect_status 204 "remove a built image"
[[ ! -e "$images/second" ]] && pass || fail "a removed built image leaves its files"
[[ -f "$images/default/initrd.img" ]] && pass || fail "removing one image touched another"

# --- the dev recipe where its mode cannot run: as nobody, who has no subordinate ids, bangerd
# refuses it at once (no image, no operation) and says what to run
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && command -v mmdebstrap >/dev/null &&
  ! grep -q '^nobody:' /etc/subuid 2>/dev/null; then
  stop_daemon
  nob=$T/nobody
  mkdir -p "$nob"
  chmod 0711 "$T"
  chmod 0777 "$nob"
  sock=$nob/run/bangerd.sock
  setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH="$PATH" HOME="$nob" \
    "$BANGERD" --state-dir "$nob/state" --runtime-dir "$nob/run" --cache-dir "$nob/cache" \
    >>"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  SOCK=$sock wait_until 10 daemon_ready || fail "bangerd as nobody did not come up"
  SOCK=$sock api POST /v1/images/build '{"name":"dev"}'
  expect_problem 409 image_build_unavailable
  detail=$(jq -r .detail <<<"$BODY")
  expect_contains "$detail" "recipe dev: bangerd runs as nobody (uid $(id -u nobody)), so mmdebstrap builds the dev image in a user namespace" "unavailable detail"
  expect_contains "$detail" "(as root: usermod --add-subuids" "the command that gives nobody subordinate ids"
  SOCK=$sock api GET /v1/images
  expect_json '.images | length' 0 "no image made by the refusal"
  stop_daemon
else
  echo "skip: the refusal of the dev recipe for a user without subordinate ids needs root, setpriv and mmdebstrap"
fi

finish
