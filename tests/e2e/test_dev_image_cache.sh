#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dev image's cache and reproducibility: a build with nothing changed finds the rootfs in
# the cache (fast, no mmdebstrap) and gives the fixture's bytes; a build that makes the rootfs
# again (the cache entry set aside, the downloaded packages kept) gives the same bytes too.
# The second check is the costly one (a whole mmdebstrap run): it runs once per cache key on a
# cache (a rootfs/KEY.reproduced marker remembers it), so the ASan pass of the same test
# command, or a rerun on the same machine, does not repeat it; BANGER_E2E_REPRO=always does.
#
# uses: dev_image
#
# Needs: mmdebstrap and the e2e/dev_image fixture. Exits 77 (skipped) when missing.
source "$(dirname "$0")/../integration/lib.sh"

need_vm
command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (scripts/bootstrap installs it)"
[[ -f "${BANGER_DEV_IMAGE_DIR:-}/build.json" ]] || skip "the e2e/dev_image fixture left no image"
want=$(jq -r .rootfs_sha256 "$BANGER_DEV_IMAGE_DIR/build.json")
cache=$XDG_CACHE_HOME/banger/rootfs
images=$XDG_STATE_HOME/banger/images
start_daemon

# --- nothing changed: the cache ---
t0=$SECONDS
run_cli 0 image build --recipe dev again
seconds=$((SECONDS - t0))
echo "dev image build, nothing changed: $seconds s"
expect_contains "$(cat "$DAEMON_LOG")" "build image 'again': rootfs " "the rootfs comes from the cache"
expect_contains "$(cat "$DAEMON_LOG")" " from the cache" "the rootfs comes from the cache"
grep -q "build image 'again': mmdebstrap done" "$DAEMON_LOG" &&
  fail "a build with nothing changed ran mmdebstrap" || pass
((seconds < 120)) && pass || fail "a build from the cache took $seconds s"
expect_eq "$(sha256sum <"$images/again/rootfs.ext4" | cut -d' ' -f1)" "$want" \
  "the cached build gives the fixture's bytes"

# --- made again from the same packages: the same bytes ---
key=$(sed -n "s/.*build image 'again': rootfs \([0-9a-f]*\) from the cache.*/\1/p" "$DAEMON_LOG")
[[ -n "$key" && -f "$cache/$key.ext4" ]] || { fail "the daemon named no cache entry for the image"; finish; exit 1; }
if [[ "${BANGER_E2E_REPRO:-}" != always && "$(cat "$cache/$key.reproduced" 2>/dev/null)" == "$want" ]]; then
  echo "skip: rootfs $key was already made twice with the same bytes on this cache"
else
  mkdir -p "$T/aside"
  mv "$cache/$key".* "$T/aside/"
  t0=$SECONDS
  run_cli 0 image build --recipe dev rebuilt
  echo "dev image build again from the cached packages: $((SECONDS - t0)) s"
  expect_contains "$(cat "$DAEMON_LOG")" "build image 'rebuilt': mmdebstrap done" \
    "the rootfs was made again"
  got=$(sha256sum <"$images/rebuilt/rootfs.ext4" | cut -d' ' -f1)
  expect_eq "$got" "$want" "two builds of the same package set give the same bytes"
  grep -q "build image 'rebuilt': rootfs .* from the cache" "$DAEMON_LOG" &&
    fail "the rebuild came from the cache" || pass
  [[ -f "$cache/$key.ext4" ]] && pass || fail "the rebuild was not cached under the same key $key"
  [[ "$got" == "$want" ]] && echo "$want" >"$cache/$key.reproduced"
fi
finish
