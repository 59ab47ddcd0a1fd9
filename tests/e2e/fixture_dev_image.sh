#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ctest fixture e2e/dev_image: builds the Debian 12 development image (`banger image build
# --recipe dev`) once per test run, from the host's package mirror, into the shared e2e cache
# (BANGER_E2E_CACHE, default ~/.cache/banger-e2e: a later run on the same machine, or the ASan
# pass of the same test command, finds the rootfs there and takes seconds), and checks what it
# recorded.
#
# How another e2e test gets the image (tests/e2e/CMakeLists.txt wires it):
#   1. put the line "# uses: dev_image" in the test script: ctest then runs this fixture first
#      (FIXTURES_REQUIRED dev_image) and the test gets BANGER_DEV_IMAGE_DIR;
#   2. after start_daemon, call `use_dev_image [NAME]` (tests/integration/lib.sh, NAME defaults
#      to "dev"): it imports the files below into that test's daemon and waits until the image
#      is ready; nothing is built or downloaded. It skips (77) when the fixture left nothing.
# BANGER_DEV_IMAGE_DIR (the build tree's dev-image/) holds vmlinuz, initrd.img, rootfs.ext4,
# packages.txt (the installed packages, "name version" a line) and build.json
# ({"build_seconds": N, "rootfs_sha256": HEX}). A test must not write to these files.
#
# Needs: what need_vm needs, and mmdebstrap. Exits 77 (skipped) with the reason when missing.
source "$(dirname "$0")/../integration/lib.sh"

need_vm
command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (scripts/bootstrap installs it)"
out=${BANGER_DEV_IMAGE_DIR:?directory for the dev image}
rm -rf "$out"
mkdir -p "$out"
images=$XDG_STATE_HOME/banger/images

start_daemon
t0=$SECONDS
run_cli 0 image build --recipe dev dev
seconds=$((SECONDS - t0))
echo "dev image build: $seconds s (rootfs $(grep -q "build image 'dev': rootfs .* from the cache" \
  "$DAEMON_LOG" && echo "from the cache" || echo made))"
echo "$ERR" | tail -n 20
expect_contains "$OUT" "recipe:       dev (build-essential, ca-certificates, curl, git, iproute2, less, make, openssh-server, procps, python3)" \
  "the CLI shows the recipe"

api GET /v1/images/dev
expect_json .state ready
expect_json .source build:debian
expect_json .recipe.name dev
expect_json '.recipe.packages | join(",")' build-essential,ca-certificates,curl,git,iproute2,less,make,openssh-server,procps,python3
expect_json .rootfs.path "$images/dev/rootfs.ext4"
expect_json .rootfs.sha256 "$(sha256sum "$images/dev/rootfs.ext4" | cut -d' ' -f1)"
expect_json .rootfs.size_bytes "$(stat -c %s "$images/dev/rootfs.ext4")"
expect_json .kernel.path "$images/dev/vmlinuz"
expect_json .initrd.path "$images/dev/initrd.img"

# What the image holds, read without mounting it.
pkgs=$(cat "$images/dev/packages.txt")
for p in build-essential gcc-12 git make openssh-server python3 ca-certificates curl; do
  grep -q "^$p " <<<"$pkgs" && pass || fail "packages.txt lacks $p"
done
ssh_dir=$(debugfs -R "ls -l /etc/ssh" "$images/dev/rootfs.ext4" 2>/dev/null)
expect_contains "$ssh_dir" sshd_config "sshd is installed"
grep -q ssh_host_ <<<"$ssh_dir" && fail "the image holds sshd host keys: $ssh_dir" || pass
expect_eq "$(debugfs -R "cat /etc/resolv.conf" "$images/dev/rootfs.ext4" 2>/dev/null)" "" \
  "no host resolv.conf in the image"
shadow=$(debugfs -R "stat /etc/shadow" "$images/dev/rootfs.ext4" 2>/dev/null)
expect_contains "$shadow" "Group:    42" "owners come from the packages (shadow:42)"
expect_contains "$(debugfs -R "stat /usr/bin/passwd" "$images/dev/rootfs.ext4" 2>/dev/null)" \
  "Mode:  04755" "setuid bits kept"
e2fsck -fn "$images/dev/rootfs.ext4" >"$T/fsck.out" 2>&1 && pass || fail "e2fsck: $(cat "$T/fsck.out")"

# Hand the files on: a hard link where the build tree shares the file system, else a copy.
for f in vmlinuz initrd.img rootfs.ext4 packages.txt; do
  ln -f "$images/dev/$f" "$out/$f" 2>/dev/null || cp --sparse=always "$images/dev/$f" "$out/$f"
done
jq -n --argjson s "$seconds" --arg sha "$(jq -r .rootfs.sha256 <<<"$BODY")" \
  '{build_seconds: $s, rootfs_sha256: $sha}' >"$out/build.json"

finish
