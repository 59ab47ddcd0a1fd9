#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The VM lifecycle with real QEMU boots (KVM when usable, else TCG): create
# --start, console, refusals while running, stop (no process left, overlay kept), start again,
# bangerd killed with SIGKILL and restarted (the VM is adopted, its agent reconnected, and it
# stops cleanly), force delete of a running VM (nothing left), and a start that fails.
# The runtime dir has a comma in its name: QEMU parses commas in -chardev and -drive values, so
# each path put there must be escaped exactly there (and the console still lands in it).
#
# Needs qemu-system-x86_64, the banger-agent binary of this build, and the default image from
# `banger image build` (Debian packages through apt). Exits 77 (skipped) saying what is missing.
# BANGER_E2E_CACHE keeps downloaded packages between runs (default ~/.cache/banger-e2e).
source "$(dirname "$0")/lib.sh"

need_vm
AGENT=${BANGER_AGENT:-$(dirname "$BANGERD")/../agent/banger-agent}
[[ -x "$AGENT" ]] || skip "banger-agent is not built ($AGENT)"
export BANGER_AGENT=$AGENT

export BANGERD_RUNTIME_DIR="$T/run,dir" BANGERD_SOCKET=$SOCK
RUN=$BANGERD_RUNTIME_DIR/vms
DISKS=$XDG_STATE_HOME/banger/vms
start_daemon

api GET /v1/system/info
expect_json .vmm.selected qemu "selected vmm"
expect_contains " kvm tcg " " $(jq -r .vmm.accel <<<"$BODY") " "accel"
"$BANGER" image --help | grep -q "image build" ||
  skip "this build has no image build (banger image build)"
build_default_image

# No VMM process of this test's VMs may remain; pgrep -f matches their run dirs.
vmm_procs() { pgrep -f -- "$RUN/$1/" || true; }

# --- boot 1: create --start, what a running VM looks like, refusals ---
t0=$SECONDS
run_cli 0 vm create web1 --image default --disk 512 --memory 256 --vcpus 2 --start
echo "boot 1: $((SECONDS - t0)) s; $ERR"
expect_contains "$ERR" "agent ready in" "start progress on stderr"
api GET /v1/vms/web1
expect_json .state running
expect_json .vmm qemu
expect_json '.error' null
expect_json '.started_at | type' string
[[ -n "$(vmm_procs web1)" ]] && pass || fail "no qemu process for web1"
[[ -S "$RUN/web1/agent.sock" && -S "$RUN/web1/qmp.sock" ]] && pass || fail "sockets of web1"
[[ -s "$RUN/web1/console.log" && ! -e "$T/run,,dir" ]] && pass ||
  fail "console of web1 not in its run dir"
api GET /v1/vms/web1/console
expect_status 200 console
expect_contains "$CTYPE" text/plain "console content type"
expect_contains "$BODY" "Linux version" "console shows the kernel"
api GET "/v1/vms/web1/console?tail=16"
expect_eq "$(wc -c <"$T/body")" 16 "console tail length"
api GET "/v1/vms/web1/console?tail=0"
expect_problem 400 invalid_query
api PATCH /v1/vms/web1 '{"vcpus":1}'
expect_problem 409 vm_running
api DELETE /v1/vms/web1
expect_problem 409 vm_running
api POST /v1/vms/web1/start
expect_problem 409 vm_running
inode=$(stat -c %i "$DISKS/web1/overlay.img")

# --- stop: graceful, nothing running left, the overlay kept ---
t0=$SECONDS
api POST "/v1/vms/web1/stop?timeout=60"
echo "stop: $((SECONDS - t0)) s"
expect_status 200 stop
expect_json .state stopped
expect_eq "$(vmm_procs web1)" "" "no qemu after stop"
[[ ! -e "$RUN/web1/agent.sock" && ! -e "$RUN/web1/qmp.sock" ]] && pass || fail "sockets left"
expect_eq "$(stat -c %i "$DISKS/web1/overlay.img")" "$inode" "overlay kept"
api POST /v1/vms/web1/stop
expect_json .state stopped "stop of a stopped VM"

# --- boot 2, then bangerd dies: the VM is adopted and still stops cleanly ---
t0=$SECONDS
run_cli 0 vm start web1
echo "boot 2: $((SECONDS - t0)) s; $ERR"
pid=$(vmm_procs web1)
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
expect_eq "$(vmm_procs web1)" "$pid" "qemu survives bangerd"
start_daemon
api GET /v1/vms/web1
expect_json .state running "adopted after restart"
grep -q "reconcile vm 'web1': adopted pid $pid" "$DAEMON_LOG" && pass ||
  fail "the agent of web1 was not reconnected"
run_cli 0 vm stop web1 --timeout 60
expect_eq "$OUT" "vm 'web1' is stopped" "stop after adoption"
expect_eq "$(vmm_procs web1)" "" "no qemu after stop (adopted)"

# --- boot 3, then force delete: nothing left ---
run_cli 0 vm start web1
run_cli 0 vm rm web1 --force
expect_eq "$(vmm_procs web1)" "" "no qemu after force delete"
[[ ! -e "$RUN/web1" && ! -e "$DISKS/web1" ]] && pass || fail "files left after force delete"
api GET /v1/vms/web1
expect_problem 404 vm_not_found

# --- a start that fails: reported with the reason, recorded, nothing left running ---
make_file "$T/bad-kernel" 64
import_image broken "$T/bad-kernel"
api POST /v1/vms '{"name":"bad1","image":"broken","memory_mib":256,"disk_mib":512,"start":true}'
expect_problem 500 vm_start_failed
api GET /v1/vms/bad1
expect_json .state failed
expect_json '.error | length > 0' true "error recorded"
echo "failed start: $(jq -r .error <<<"$BODY" | head -c 600)"
expect_eq "$(vmm_procs bad1)" "" "no qemu after a failed start"
run_cli 0 vm rm bad1

# --- nothing of this test keeps running; bangerd stops cleanly ---
stop_daemon
expect_eq "$DAEMON_RC" 0 "bangerd exit status"
expect_eq "$(pgrep -f -- "$T/" || true)" "" "no process left"
finish
