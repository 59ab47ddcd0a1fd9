# SPDX-License-Identifier: MIT
# Shared by the benchmarks that boot real VMs (vm-run.sh, vm-create.sh, workspace.sh):
# a Release build, a bangerd of their own in a temp dir (TCG forced), the default image,
# and a cleanup that leaves no QEMU behind. Source it from the repository root.
#   bench_setup [image]   build, start the daemon; with "image", also `banger image build
#                         --recipe minimal` (the busybox image, as the figures in RESULTS.md)
# Sets T (temp dir), sock, BUILD, BANGER (the CLI with --socket), BANGERD_BIN.

# Downloads of `banger image build` are cached here across runs (<cache_dir>/debs).
BENCH_CACHE=${BENCH_CACHE:-$HOME/.cache/banger-bench}

# BENCH_SRC=HEAD builds the last commit (exported with git archive under $BENCH_CACHE)
# instead of the working tree, which others may be editing mid-change.
bench_build() {
  scripts/bootstrap --bench
  local src=.
  if [[ "${BENCH_SRC:-}" == HEAD ]]; then
    src=$BENCH_CACHE/src-$(git rev-parse --short HEAD)
    if [[ ! -f "$src/CMakeLists.txt" ]]; then
      mkdir -p "$src" && git archive HEAD | tar -x -C "$src"
    fi
  fi
  BUILD=$src/build/bench
  cmake -S "$src" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBANGER_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target bangerd banger banger-agent >/dev/null 2>&1 ||
    cmake --build "$BUILD" -j"$(nproc)" --target bangerd banger banger-agent
  echo "built $(git -C "$src" rev-parse --short HEAD 2>/dev/null || git rev-parse --short HEAD)$([[ $src == . ]] && ! git diff --quiet HEAD -- . ':!bench' && echo ' + working-tree changes') in $BUILD"
}

# ms since the epoch
ms() { date +%s%3N; }

# median and min of the numbers on stdin, one a line: "median M min N"
median_min() {
  sort -n | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
    printf "median %d min %d", m, v[1] }'
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# Wait (up to 90 s) for the 1-minute load average to drop under 1.5; say what it is.
wait_for_quiet() {
  local until=$((SECONDS + 90))
  while awk '{ exit !($1 >= 1.5) }' /proc/loadavg && ((SECONDS < until)); do sleep 10; done
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_cleanup() {
  set +e
  if [[ -n "${sock:-}" && -S "$sock" ]]; then
    for vm in $(curl -s --unix-socket "$sock" http://b/v1/vms | jq -r '.vms[].name' 2>/dev/null); do
      curl -s -o /dev/null --max-time 30 --unix-socket "$sock" -X DELETE "http://b/v1/vms/$vm?force=true"
    done
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  # QEMU outlives bangerd by design: kill any VM of this run that is still there, by pid.
  for f in "$T"/run/banger/vms/*/qemu.pid "$T"/raw/qemu.pid; do
    [[ -f "$f" ]] || continue
    p=$(cat "$f")
    grep -qa "$T" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"
  done
  rm -rf "$T"
}

bench_setup() {
  bench_build
  T=$(mktemp -d /tmp/banger-bench.XXXXXX)
  pids=()
  trap bench_cleanup EXIT
  export XDG_RUNTIME_DIR=$T/run XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
  export XDG_CACHE_HOME=$BENCH_CACHE
  # No usable KVM on the standard machine (its /dev/kvm is kvm_pvm, which opens but cannot
  # boot a normal kernel): force TCG rather than let auto pick KVM.
  export BANGERD_ACCEL=${BANGERD_ACCEL:-tcg}
  mkdir -p "$XDG_RUNTIME_DIR" "$XDG_CACHE_HOME" && chmod 700 "$XDG_RUNTIME_DIR"
  sock=$XDG_RUNTIME_DIR/banger/bangerd.sock
  BANGERD_BIN=$BUILD/server/bangerd
  BANGER="$BUILD/client/banger --socket $sock"
  "$BANGERD_BIN" --log-level warn 2>"$T/bangerd.log" &
  pids+=("$!")
  local deadline=$((SECONDS + 10))
  until curl -sf --unix-socket "$sock" http://b/v1/system/version >/dev/null; do
    ((SECONDS < deadline)) || { echo "bangerd did not start" >&2; cat "$T/bangerd.log" >&2; exit 1; }
    sleep 0.05
  done
  if [[ "${1:-}" == image ]]; then
    $BANGER image build --recipe minimal >"$T/image-build.out" ||
      { cat "$T/image-build.out" "$T/bangerd.log" >&2; exit 1; }
  fi
}

# curl to the daemon: api METHOD PATH [JSON]
api() {
  local m=$1 p=$2
  shift 2
  curl -sS --fail-with-body --unix-socket "$sock" -X "$m" -H 'Content-Type: application/json' \
    ${1:+-d "$1"} "http://b$p"
}
