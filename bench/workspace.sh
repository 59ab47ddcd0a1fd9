#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Workspace transfer: the agent tar stream against a work disk made with `mkfs.ext4 -d`.
#   bench/workspace.sh REPO [VM]
# Host side (always): the time to make a work disk image from the tracked files
# (git checkout-index into a scratch dir + mkfs.ext4 -d), and the time to produce the same
# files as the tar stream bangerd sends (git ls-files + tar of the work tree).
# With VM (a running VM of the daemon at $BANGER_SOCKET or the default socket): the real
# transfer, `banger vm workspace VM REPO`, end to end into /root/repo.
set -euo pipefail
repo=$(realpath "${1:?usage: workspace.sh REPO [VM]}")
vm=${2:-}
banger=${BANGER:-banger}
scratch=$(mktemp -d /tmp/banger-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
ms() { date +%s%3N; }

t0=$(ms)
git -C "$repo" checkout-index -a --prefix="$scratch/tree/"
bytes=$(du -sb "$scratch/tree" | cut -f1)
truncate -s $((bytes * 2 + 64 * 1024 * 1024)) "$scratch/work.img"
mkfs.ext4 -q -F -d "$scratch/tree" "$scratch/work.img"
t1=$(ms)
echo "workdisk (checkout-index + mkfs.ext4 -d): $((t1 - t0)) ms, image $(du -m "$scratch/work.img" | cut -f1) MiB allocated"

t0=$(ms)
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - | cat >/dev/null
t1=$(ms)
echo "tar stream produced on the host: $((t1 - t0)) ms"

if [[ -n "$vm" ]]; then
  for i in 1 2 3; do
    "$banger" vm exec "$vm" -- rm -rf /root/repo
    t0=$(ms)
    "$banger" vm workspace "$vm" "$repo" --json >"$scratch/ws.json"
    t1=$(ms)
    echo "banger vm workspace (agent stream, run $i): $((t1 - t0)) ms wall, daemon says $(tr -d ' \n' <"$scratch/ws.json")"
  done
fi
