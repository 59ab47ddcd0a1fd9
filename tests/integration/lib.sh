# SPDX-License-Identifier: MIT
# Shared harness for the integration tests: a real bangerd on a temporary socket with
# temporary XDG directories, driven by the real CLI and by curl. Every curl exchange is
# recorded (JSON Lines) for the contract check against openapi.yaml.
#
# Environment (set by ctest): BANGERD, BANGER (binaries), RECORDS (record file to append).
set -euo pipefail

: "${BANGERD:?path to bangerd}" "${BANGER:?path to banger}"
RECORDS=${RECORDS:-/dev/null}

T=$(mktemp -d /tmp/banger-it.XXXXXX)
export HOME=$T/home XDG_RUNTIME_DIR=$T/run XDG_STATE_HOME=$T/state XDG_CONFIG_HOME=$T/config
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$XDG_STATE_HOME" "$XDG_CONFIG_HOME"
chmod 0700 "$XDG_RUNTIME_DIR"
SOCK=$XDG_RUNTIME_DIR/banger/bangerd.sock
DAEMON_LOG=$T/bangerd.log
DAEMON_PID=
unset BANGER_SOCKET BANGERD_CONFIG BANGERD_SOCKET

failures=0
checks=0

cleanup() {
  local rc=$?
  if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 || $failures -ne 0 ]]; then
    echo "--- bangerd log ---" >&2
    tail -n 40 "$DAEMON_LOG" >&2 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

pass() { checks=$((checks + 1)); }

# Poll cmd until it succeeds or timeout seconds pass.
wait_until() {
  local timeout=$1
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

daemon_ready() { curl -sf --unix-socket "$SOCK" http://b/v1/system/version >/dev/null 2>&1; }

# Start bangerd with extra arguments; waits until it answers.
start_daemon() {
  "$BANGERD" "$@" >>"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  if ! wait_until 10 daemon_ready; then
    echo "bangerd did not come up" >&2
    cat "$DAEMON_LOG" >&2
    exit 1
  fi
}

# Stop bangerd with SIGTERM and wait for it; sets DAEMON_RC.
stop_daemon() {
  kill -TERM "$DAEMON_PID"
  DAEMON_RC=0
  wait "$DAEMON_PID" || DAEMON_RC=$?
  DAEMON_PID=
}

# api METHOD PATH [BODY] [curl args...]: one exchange over the unix socket (HEAD as curl -I,
# which reads no body). Sets STATUS, BODY, CTYPE and HEADERS_FILE, and appends the exchange to
# RECORDS (RECORDS=/dev/null api ... for one the contract cannot describe).
api() {
  local method=$1 path=$2 body=${3:-}
  shift $(($# < 3 ? $# : 3))
  local how=(-X "$method")
  [[ "$method" == HEAD ]] && how=(-I)
  local args=(-s "${how[@]}" --unix-socket "$SOCK" -D "$T/headers" -o "$T/body"
    -w '%{http_code}' "$@")
  if [[ -n "$body" ]]; then
    args+=(--data-binary "$body")
    [[ " $* " == *" -H Content-Type"* || " $* " == *"Content-Type:"* ]] ||
      args+=(-H 'Content-Type: application/json')
  fi
  # curl leaves -o's file alone when a response has no body (204, 304).
  : >"$T/body"
  STATUS=$(curl "${args[@]}" "http://banger$path")
  BODY=$(cat "$T/body")
  [[ "$method" == HEAD ]] && BODY=
  HEADERS_FILE=$T/headers
  CTYPE=$(header Content-Type)
  record
}

# Value of response header $1 from the last api call ("" when absent).
header() {
  grep -i "^$1:" "$HEADERS_FILE" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//' || true
}

record() {
  local parsed=null
  if [[ -n "$BODY" ]] && jq -e . >/dev/null 2>&1 <<<"$BODY"; then parsed=$BODY; fi
  local hdrs
  hdrs=$(tr -d '\r' <"$HEADERS_FILE" | awk -F': ' 'NR>1 && NF>1 {print tolower($1) "\t" $2}' |
    jq -Rn '[inputs | split("\t") | {(.[0]): .[1]}] | add // {}')
  jq -cn --arg m "$method" --arg p "$path" --argjson s "$STATUS" --arg ct "$CTYPE" \
    --argjson b "$parsed" --argjson h "$hdrs" \
    '{method:$m, path:$p, status:$s, content_type:$ct, headers:$h, body:$b}' >>"$RECORDS"
}

expect_status() {
  if [[ "$STATUS" == "$1" ]]; then pass; else fail "${2:-request}: status $STATUS, want $1: $BODY"; fi
}

# expect_json FILTER VALUE [what]: jq -r FILTER of the last body equals VALUE.
expect_json() {
  local got
  got=$(jq -r "$1" <<<"$BODY" 2>/dev/null || echo "<not json>")
  if [[ "$got" == "$2" ]]; then pass; else fail "${3:-$1}: got '$got', want '$2'"; fi
}

# expect_problem STATUS CODE [FIELD]: a problem+json answer.
expect_problem() {
  expect_status "$1" "problem $2"
  expect_json .code "$2"
  [[ "$CTYPE" == application/problem+json* ]] && pass || fail "$2: content type '$CTYPE'"
  if [[ -n "${3:-}" ]]; then expect_json .field "$3"; fi
}

expect_eq() {
  if [[ "$1" == "$2" ]]; then pass; else fail "${3:-value}: got '$1', want '$2'"; fi
}

expect_contains() {
  if [[ "$1" == *"$2"* ]]; then pass; else fail "${3:-output}: '$1' lacks '$2'"; fi
}

# run_cli EXPECTED_RC ARGS...: runs banger, captures OUT, ERR, RC.
run_cli() {
  local want=$1
  shift
  RC=0
  "$BANGER" "$@" >"$T/out" 2>"$T/err" || RC=$?
  OUT=$(cat "$T/out")
  ERR=$(cat "$T/err")
  if [[ "$RC" == "$want" ]]; then pass; else fail "banger $*: exit $RC, want $want; $ERR"; fi
}

# Make a file of $2 KiB of random bytes at $1.
make_file() { head -c "$(($2 * 1024))" /dev/urandom >"$1"; }

# Import an image through the API and wait for it to be ready.
import_image() {
  local name=$1 kernel=$2
  api POST /v1/images "{\"name\":\"$name\",\"kernel\":\"$kernel\"}"
  expect_status 202 "import $name"
  local id
  id=$(jq -r .id <<<"$BODY")
  api GET "/v1/operations/$id?wait=30"
  expect_json .state succeeded "import $name"
}

finish() {
  echo "$checks passed, $failures failed"
  [[ $failures -eq 0 ]]
}

# record_stream PATH FILE HEADERS: record an event stream (NDJSON lines in FILE, status and
# headers as curl -D wrote them to HEADERS) as one exchange for the contract check.
record_stream() {
  local path=$1 file=$2 hfile=$3 status hdrs
  status=$(head -n1 "$hfile" | awk '{print $2}')
  hdrs=$(tr -d '\r' <"$hfile" | awk -F': ' 'NR>1 && NF>1 {print tolower($1) "\t" $2}' |
    jq -Rn '[inputs | split("\t") | {(.[0]): .[1]}] | add // {}')
  jq -cn --arg p "$path" --argjson s "$status" --argjson h "$hdrs" \
    --arg ct "$(jq -r '."content-type" // ""' <<<"$hdrs")" \
    --slurpfile lines <(grep -v '^$' "$file") \
    '{method:"GET", path:$p, status:$s, content_type:$ct, headers:$h, body:null, ndjson:$lines}' \
    >>"$RECORDS"
}

# skip REASON: end this test as skipped (ctest SKIP_RETURN_CODE 77), saying what it lacks.
skip() {
  echo "SKIP: $*"
  exit 77
}

# need_vm: skip unless this machine can boot the default image (qemu, and Debian's cloud
# kernel package through apt), then keep the packages `banger image build` downloads between
# runs in BANGER_E2E_CACHE (default ~/.cache/banger-e2e).
need_vm() {
  command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
  local cand
  cand=$(apt-cache policy linux-image-cloud-amd64 2>/dev/null | awk '/Candidate:/ {print $2}')
  [[ -n "$cand" && "$cand" != "(none)" ]] ||
    skip "the Debian mirror has no linux-image-cloud-amd64 candidate (run apt-get update?)"
  export XDG_CACHE_HOME=${BANGER_E2E_CACHE:-$(getent passwd "$(id -u)" | cut -d: -f6)/.cache/banger-e2e}
  mkdir -p "$XDG_CACHE_HOME"
}

# raw_qemu_argv KERNEL INITRD LOG [APPEND...]: sets QEMU_ARGV to a QEMU microvm boot of KERNEL
# and INITRD with no devices and no reboot, the console to LOG. tsc_early_khz: under TCG on a
# busy host the kernel can fail to calibrate the TSC against the PIT and hang before /init.
raw_qemu_argv() {
  local kernel=$1 initrd=$2 log=$3
  shift 3
  QEMU_ARGV=(qemu-system-x86_64 -M microvm,acpi=on -m 256 -nodefaults -no-user-config
    -display none -no-reboot -kernel "$kernel" -initrd "$initrd"
    -append "console=ttyS0 quiet panic=-1 tsc_early_khz=2000000 $*" -serial "file:$log")
}

# expect_no_vm_left: no VM record, no QEMU process of this test, nothing under the runtime
# and state directories' vms/ (the directories themselves may stay).
expect_no_vm_left() {
  api GET /v1/vms
  expect_json '.vms | length' 0 "no VM records left"
  if pgrep -f "qemu-system.*$T" >/dev/null; then fail "qemu processes left: $(pgrep -af "qemu-system.*$T")"; else pass; fi
  local left
  left=$(find "$XDG_RUNTIME_DIR/banger/vms" -mindepth 1 2>/dev/null | head -5)
  expect_eq "$left" "" "runtime files left"
  left=$(find "$XDG_STATE_HOME/banger/vms" -mindepth 1 2>/dev/null | head -5)
  expect_eq "$left" "" "overlays left"
}

# build_default_image: `banger image build --recipe minimal` (the busybox image, named
# "default"); a failure ends the test with the CLI's output.
build_default_image() {
  if ! "$BANGER" image build --recipe minimal >"$T/build.out" 2>&1; then
    cat "$T/build.out" >&2
    fail "banger image build --recipe minimal"
    finish
    exit 1
  fi
  pass
}

# use_dev_image [NAME]: import the Debian 12 development image that the e2e fixture
# (tests/e2e/fixture_dev_image.sh, ctest e2e/dev_image) built into BANGER_DEV_IMAGE_DIR, as
# NAME (default "dev"), and wait until it is ready. Instant: nothing is built or downloaded. A
# test that calls it says "# uses: dev_image" on a line of its own, so ctest runs the fixture
# first. Skips (77) when the fixture left no image.
use_dev_image() {
  local name=${1:-dev} dir=${BANGER_DEV_IMAGE_DIR:-}
  [[ -n "$dir" && -f "$dir/rootfs.ext4" && -f "$dir/vmlinuz" && -f "$dir/initrd.img" ]] ||
    skip "no dev image in BANGER_DEV_IMAGE_DIR='$dir' (the e2e/dev_image fixture did not run or was skipped)"
  api POST /v1/images "{\"name\":\"$name\",\"kernel\":\"$dir/vmlinuz\",\"initrd\":\"$dir/initrd.img\",\"rootfs\":\"$dir/rootfs.ext4\"}"
  expect_status 202 "import the dev image as $name"
  local id
  id=$(jq -r .id <<<"$BODY")
  api GET "/v1/operations/$id?wait=120"
  expect_json .state succeeded "import the dev image as $name"
}
