#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `banger vm run --rm -- true` wall time beside the ceiling: QEMU launched directly with the
# argv bangerd uses (same kernel, same combined initrd, same machine/accel/cpu/memory flags
# and devices), timed from launch to the agent's HELLO and to QEMU's exit after POWEROFF
# (bench/rawboot.c, a tiny client speaking the agent protocol on the chardev socket).
# Runs alternate (raw, banger, raw, banger, ...) so both see the same host load.
#   bench/vm-run.sh [N]        (default 5 runs of each)
#   BENCH_SRC=HEAD bench/vm-run.sh   build the last commit instead of the working tree
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
source bench/lib-vm.sh

wait_for_quiet
bench_setup image
cc -std=gnu17 -O2 -Iapi/include -o "$T/rawboot" bench/rawboot.c api/src/agentproto.c \
  api/src/error.c

# One VM started by bangerd gives the exact QEMU argv and the combined initrd it boots.
$BANGER vm create ref --image default >/dev/null
$BANGER vm start ref >/dev/null
run_dir=$T/run/banger/vms/ref
qpid=$(cat "$run_dir/qemu.pid")
mapfile -d '' ref_argv <"/proc/$qpid/cmdline"
overlay=$T/state/banger/vms/ref/overlay.img
$BANGER vm stop ref >/dev/null
mkdir -p "$T/raw"
cp --sparse=always "$overlay" "$T/raw/overlay.img"
raw_argv=()
for ((i = 0; i < ${#ref_argv[@]}; i++)); do
  a=${ref_argv[i]//$overlay/$T/raw/overlay.img}
  a=${a//$run_dir/$T/raw}
  if [[ "${ref_argv[i - 1]:-}" == -initrd ]]; then
    cp "$a" "$T/raw/initrd.img" && a=$T/raw/initrd.img
  fi
  raw_argv+=("$a")
done
$BANGER vm rm ref >/dev/null
printf '%s\n' "${raw_argv[@]}" >"$T/raw/argv.txt"
echo "qemu argv (bangerd's, from VM 'ref', paths moved to the raw run's dir):"
sed "s|$T|\$T|g; s/.* .*/'&'/" "$T/raw/argv.txt" | paste -sd' '
echo "initrd: $(stat -c %s "$T/raw/initrd.img") bytes (image initrd + agent archive)"

: >"$T/raw.txt" >"$T/banger.txt" >"$T/timings.txt" >"$T/raw-ready.txt" >"$T/load.txt"
raw_once() {
  out=$("$T/rawboot" "$T/raw/agent.sock" -- "${raw_argv[@]}")
  read -r _ ready _ exit_ms <<<"$out"
  echo "$exit_ms" >>"$T/raw.txt"
  echo "$ready" >>"$T/raw-ready.txt"
}
banger_once() {
  t0=$(ms)
  $BANGER vm run --rm --timings -- true 2>"$T/run.err" >/dev/null ||
    { cat "$T/run.err" >&2; exit 1; }
  t1=$(ms)
  echo $((t1 - t0)) >>"$T/banger.txt"
  grep '^timings' "$T/run.err" >>"$T/timings.txt"
}
for ((i = 1; i <= n; i++)); do
  load1 >>"$T/load.txt"
  if ((i % 2)); then raw_once; banger_once; else banger_once; raw_once; fi
  echo "run $i: raw qemu ${exit_ms} ms (agent HELLO at ${ready} ms), banger vm run $((t1 - t0)) ms, load $(tail -1 "$T/load.txt")"
done

raw_med=$(median_min <"$T/raw.txt")
b_med=$(median_min <"$T/banger.txt")
echo
echo "raw qemu, launch -> agent HELLO:        $(median_min <"$T/raw-ready.txt") ms"
echo "raw qemu, launch -> exit after POWEROFF: $raw_med ms"
echo "banger vm run --rm -- true (wall):      $b_med ms"
awk -v r="${raw_med#median }" -v b="${b_med#median }" 'BEGIN {
  split(r, rr, " "); split(b, bb, " ");
  printf "banger adds %d ms on the median (ratio %.2f), %d ms on the min (ratio %.2f)\n",
         bb[1] - rr[1], bb[1] / rr[1], bb[3] - rr[3], bb[3] / rr[3] }'
echo "banger --timings, median of each step (ms):"
for step in create disks 'vmm start' 'boot to agent' exec teardown total; do
  printf '  %-14s %s\n' "$step" "$(sed -E "s/.*[ :]$step ([0-9-]+).*/\1/" "$T/timings.txt" | median_min)"
done
sed -E 's/.*boot to agent ([0-9]+).*total ([0-9]+).*/\1 \2/' "$T/timings.txt" |
  awk '{ print $2 - $1 }' >"$T/nonboot.txt"
echo "banger's time outside the boot (total - boot to agent): $(median_min <"$T/nonboot.txt") ms"
echo "load average (1 min) before each pair: $(sort -n "$T/load.txt" | paste -sd' ') (now $(cut -d' ' -f1-3 /proc/loadavg))"
