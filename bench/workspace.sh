#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Workspace transfer into a running VM (POST /v1/vms/{name}/workspace via `banger vm
# workspace`: a tar stream of the tracked files over the agent into `tar -x` in the guest),
# MB/s and files/s, beside baselines measured in the same run:
#   - the local ceiling: the same files through `tar -c | tar -x` on the host;
#   - the tar stream alone, produced on the host (git ls-files + tar to /dev/null);
#   - the alternative of a work disk made on the host (git checkout-index + mkfs.ext4 -d),
#     attached as vdc at boot instead of streaming.
#   bench/workspace.sh [REPO] [RUNS]   (default: a fresh bench/make-repo.sh repository of
#                                       10,000 files / 100 MiB; 2 transfers)
#   BENCH_SRC=HEAD bench/workspace.sh   build the last commit instead of the working tree
set -euo pipefail
cd "$(dirname "$0")/.."
repo=${1:-}
runs=${2:-2}
source bench/lib-vm.sh

wait_for_quiet
bench_setup image
if [[ -z "$repo" ]]; then
  repo=$T/repo
  bench/make-repo.sh "$repo" 10000 100
fi
repo=$(realpath "$repo")
files=$(git -C "$repo" ls-files | wc -l)
bytes=$(git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 stat -c %s) | awk '{ s += $1 } END { print s }')
echo "repository: $files files, $bytes bytes of content"
: >"$T/load.txt"

# rate LABEL MS: "LABEL: MS ms, X MB/s, Y files/s" (MB = 10^6 bytes)
rate() {
  awk -v l="$1" -v t="$2" -v b="$bytes" -v f="$files" \
    'BEGIN { printf "%-58s %7d ms  %7.1f MB/s  %7.0f files/s\n", l ":", t, b / t / 1000, f * 1000 / t }'
}

# Host baselines (the page cache is warm for all of them: make-repo/git just wrote or read
# every file).
load1 >>"$T/load.txt"
for i in 1 2; do
  rm -rf "$T/copy" && mkdir "$T/copy"
  t0=$(ms)
  git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - | tar -C "$T/copy" -xf -
  t1=$(ms)
  rate "host baseline: git ls-files | tar -c | tar -x (run $i)" $((t1 - t0))
done
rm -rf "$T/copy"
t0=$(ms)
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - | cat >/dev/null
t1=$(ms)
rate "tar stream produced on the host (to /dev/null)" $((t1 - t0))
t0=$(ms)
git -C "$repo" checkout-index -a --prefix="$T/tree/"
tree_bytes=$(du -sb "$T/tree" | cut -f1)
truncate -s $((tree_bytes * 2 + 64 * 1024 * 1024)) "$T/work.img"
mkfs.ext4 -q -F -d "$T/tree" "$T/work.img"
t1=$(ms)
rate "work disk: checkout-index + mkfs.ext4 -d (host, pre-boot)" $((t1 - t0))
echo "  (work disk image: $(du -m "$T/work.img" | cut -f1) MiB allocated)"
rm -rf "$T/tree" "$T/work.img"

# The real transfer: a booted VM (default image: the workspace lands in the initramfs).
$BANGER vm create ws --image default >/dev/null
$BANGER vm start ws >/dev/null
for ((i = 1; i <= runs; i++)); do
  $BANGER vm exec ws -- rm -rf /root/repo
  load1 >>"$T/load.txt"
  t0=$(ms)
  $BANGER vm workspace ws "$repo" --json >"$T/ws.json"
  t1=$(ms)
  got=$($BANGER vm exec ws -- sh -c 'find /root/repo -type f | wc -l' | tr -d ' \r')
  [[ "$got" == "$files" ]] || { echo "the guest has $got files, not $files" >&2; exit 1; }
  rate "banger vm workspace, wall (run $i)" $((t1 - t0))
  echo "  daemon says: $(jq -c . "$T/ws.json")"
done
# Where the guest's time goes: the same tar stream through the agent into `cat >/dev/null`
# (transport only), and busybox `tar -x` of that stream from the guest's own memory (tar only).
load1 >>"$T/load.txt"
t0=$(ms)
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - | $BANGER vm exec -i ws -- sh -c 'cat >/dev/null'
t1=$(ms)
rate "agent transport only: tar stream | vm exec -i cat >/dev/null" $((t1 - t0))
$BANGER vm exec ws -- sh -c 'cd /root && tar -cf /tmp/ws.tar repo && rm -rf /root/repo'
t0=$(ms)
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - |
  $BANGER vm exec -i ws -- sh -c 'mkdir -p /root/repo && tar -x -C /root/repo'
t1=$(ms)
rate "host tar stream | vm exec -i tar -x (agent + guest tar, no daemon tar)" $((t1 - t0))
$BANGER vm exec ws -- rm -rf /root/repo
t0=$(ms)
$BANGER vm exec ws -- sh -c 'mkdir -p /root/repo && tar -xf /tmp/ws.tar -C /root'
t1=$(ms)
rate "guest only: busybox tar -x from the guest's /tmp" $((t1 - t0))
echo "load average (1 min) during the runs: $(sort -n "$T/load.txt" | paste -sd' ') (now $(cut -d' ' -f1-3 /proc/loadavg))"
