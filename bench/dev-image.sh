#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The development image (`image build --recipe dev`, Debian 12 from mmdebstrap) beside the
# minimal one (`--recipe minimal`, busybox in the initramfs), in the same run: build time cold
# (an empty cache directory: every package downloaded from the host's mirror) and cached (the
# same build again, nothing changed), the image's size, and `banger vm run --rm -- true` (wall
# and --timings' boot to agent), the two images alternating so both see the same host load.
#   bench/dev-image.sh [N]        (default 3 boots of each)
#   BENCH_SRC=HEAD bench/dev-image.sh   build the last commit instead of the working tree
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
source bench/lib-vm.sh

wait_for_quiet
bench_build
T=$(mktemp -d /tmp/banger-bench.XXXXXX)
pids=()
trap bench_cleanup EXIT
export XDG_RUNTIME_DIR=$T/run XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
export BANGERD_ACCEL=${BANGERD_ACCEL:-tcg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
sock=$XDG_RUNTIME_DIR/banger/bangerd.sock
BANGER="$BUILD/client/banger --socket $sock"
# daemon CACHE_DIR: (re)start bangerd on this run's state with that cache directory
daemon() {
  if ((${#pids[@]})); then kill "${pids[0]}" && wait "${pids[0]}" || true; fi
  "$BUILD/server/bangerd" --log-level info --cache-dir "$1" 2>>"$T/bangerd.log" &
  pids=("$!")
  local deadline=$((SECONDS + 10))
  until curl -sf --unix-socket "$sock" http://b/v1/system/version >/dev/null; do
    ((SECONDS < deadline)) || { echo "bangerd did not start" >&2; cat "$T/bangerd.log" >&2; exit 1; }
    sleep 0.05
  done
}

# build RECIPE NAME: prints the wall time in ms
build() {
  local t0
  t0=$(ms)
  $BANGER image build --recipe "$1" "$2" >"$T/build-$2.out" 2>&1 ||
    { cat "$T/build-$2.out" "$T/bangerd.log" >&2; exit 1; }
  echo $(($(ms) - t0))
}
# Each recipe's first build gets a cache directory of its own, empty: both are cold.
daemon "$T/cache-minimal"
min_cold=$(build minimal minimal)
echo "minimal build, cold: $min_cold ms (load $(load1))"
min_cached=$(build minimal minimal2)
echo "minimal build, cached: $min_cached ms (load $(load1))"
daemon "$T/cache-dev"
dev_cold=$(build dev dev)
echo "dev build, cold: $dev_cold ms (load $(load1))"
dev_cached=$(build dev dev2)
echo "dev build, cached: $dev_cached ms (load $(load1))"
grep -q "build image 'dev2': rootfs .* from the cache" "$T/bangerd.log" ||
  { echo "the second dev build did not find its rootfs in the cache" >&2; exit 1; }
cmp -s "$T/state/banger/images/dev/rootfs.ext4" "$T/state/banger/images/dev2/rootfs.ext4" ||
  { echo "the cached dev build gave other bytes" >&2; exit 1; }
downloaded=$(sed -n "s/.*build image 'dev': mmdebstrap done, \([0-9]*\) bytes downloaded.*/\1/p" \
  "$T/bangerd.log")

img=$T/state/banger/images
size() { stat -c %s "$1"; }
alloc() { du -B1 "$1" | cut -f1; }
echo
echo "sizes (bytes; allocated on disk in brackets):"
for f in rootfs.ext4 initrd.img vmlinuz; do
  printf '  dev %-12s %s [%s]\n' "$f" "$(size "$img/dev/$f")" "$(alloc "$img/dev/$f")"
done
for f in initrd.img vmlinuz; do
  printf '  minimal %-8s %s [%s]\n' "$f" "$(size "$img/minimal/$f")" "$(alloc "$img/minimal/$f")"
done
echo "  dev packages installed: $(wc -l <"$img/dev/packages.txt"); mmdebstrap downloaded ${downloaded:-?} bytes"
echo "  cache directories: minimal $(du -sB1 "$T/cache-minimal" | cut -f1), dev $(du -sB1 "$T/cache-dev" | cut -f1) bytes"

: >"$T/wall-dev.txt" >"$T/wall-minimal.txt" >"$T/boot-dev.txt" >"$T/boot-minimal.txt"
run_once() {
  local t0 t1
  t0=$(ms)
  $BANGER vm run --rm --timings --image "$1" -- true 2>"$T/run.err" >/dev/null ||
    { cat "$T/run.err" >&2; exit 1; }
  t1=$(ms)
  echo $((t1 - t0)) >>"$T/wall-$1.txt"
  sed -En 's/.*boot to agent ([0-9]+).*/\1/p' "$T/run.err" >>"$T/boot-$1.txt"
  printf ' %s %d ms (boot to agent %s ms)' "$1" $((t1 - t0)) "$(tail -1 "$T/boot-$1.txt")"
}
echo
for ((i = 1; i <= n; i++)); do
  printf 'run %d (load %s):' "$i" "$(load1)"
  if ((i % 2)); then run_once dev; run_once minimal; else run_once minimal; run_once dev; fi
  echo
done
echo
echo "vm run --rm -- true, wall (ms):     dev $(median_min <"$T/wall-dev.txt"), minimal $(median_min <"$T/wall-minimal.txt")"
echo "vm run --timings boot to agent (ms): dev $(median_min <"$T/boot-dev.txt"), minimal $(median_min <"$T/boot-minimal.txt")"
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
