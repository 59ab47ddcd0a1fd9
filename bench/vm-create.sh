#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM create (POST /v1/vms, no start) from an image whose rootfs is 1 GiB beside one whose
# rootfs is 16 MiB: the time should not depend on the rootfs size. Then VM start's "disks"
# step (from the start response's timings) for a few VMs of each image.
#   bench/vm-create.sh [CREATES] [STARTS]   (default 50 creates and 3 starts per image)
#   BENCH_SRC=HEAD bench/vm-create.sh        build the last commit instead of the working tree
set -euo pipefail
cd "$(dirname "$0")/.."
creates=${1:-50}
starts=${2:-3}
source bench/lib-vm.sh

wait_for_quiet
bench_setup image
img=$T/state/banger/images/default

# Root filesystems: sparse, ext4, with the mount points the agent moves its mounts into.
mkdir -p "$T/skel"/{dev,proc,sys,run,tmp,mnt,root}
for size in 1024 16; do
  truncate -s ${size}M "$T/rootfs-$size.img"
  mkfs.ext4 -F -q -d "$T/skel" "$T/rootfs-$size.img"
  $BANGER image import "r$size" --kernel "$img/vmlinuz" --initrd "$img/initrd.img" \
    --rootfs "$T/rootfs-$size.img" >/dev/null
  echo "image r$size: rootfs $(stat -c %s "$T/rootfs-$size.img") bytes apparent, $(du -k "$T/rootfs-$size.img" | cut -f1) KiB allocated"
done

: >"$T/load.txt"
# Alternate the two images so both see the same load.
for ((i = 1; i <= creates; i++)); do
  ((i % 10 == 1)) && load1 >>"$T/load.txt"
  for size in 1024 16; do
    curl -sS --fail-with-body -o /dev/null -w '%{time_total}\n' --unix-socket "$sock" \
      -H 'Content-Type: application/json' -d "{\"name\":\"c$size-$i\",\"image\":\"r$size\"}" \
      http://b/v1/vms >>"$T/create-$size.txt"
  done
done
for size in 1024 16; do
  awk '{ printf "%d\n", $1 * 1000000 }' "$T/create-$size.txt" | median_min |
    awk -v s=$size -v n="$creates" '{ printf "create (rootfs %5s MiB), %d creates: median %.2f ms, min %.2f ms\n", s, n, $2 / 1000, $4 / 1000 }'
done

# Start: the "disks" step makes the VM's overlay (sparse file + mkfs.ext4) on its first
# start; the rootfs is attached read-only as it is. Each VM is deleted after its start.
for ((i = 1; i <= starts; i++)); do
  for size in 1024 16; do
    load1 >>"$T/load.txt"
    api POST "/v1/vms/c$size-$i/start" '{}' >"$T/start.json" ||
      { cat "$T/start.json" >&2; exit 1; }
    jq -r '.timings | "\(.disks_ms) \(.vmm_start_ms) \(.boot_ms)"' "$T/start.json" >>"$T/start-$size.txt"
    api DELETE "/v1/vms/c$size-$i?force=true" >/dev/null
    echo "start (rootfs $size MiB) #$i: disks/vmm start/boot to agent ms: $(tail -1 "$T/start-$size.txt")"
  done
done
for size in 1024 16; do
  echo "start's disks step (rootfs $size MiB): $(cut -d' ' -f1 "$T/start-$size.txt" | median_min) ms"
done
echo "load average (1 min) during the runs: $(sort -n "$T/load.txt" | paste -sd' ') (now $(cut -d' ' -f1-3 /proc/loadavg))"
