#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# banger end to end with real VMs: vm run (output, exit codes, --rm), vm exec (stdin, 10 MiB
# byte-exact both ways), workspace (refusals, no repository commands, a client that leaves,
# stale clones swept), four runs at once, bangerd killed with SIGKILL and
# restarted under a running VM, and nothing left behind at the end.
#
# Needs: qemu-system-x86_64, and the image from `banger image build` (Debian's
# linux-image-cloud-amd64 through apt). Exits 77 (skipped) with the reason when missing.
# BANGER_E2E_CACHE keeps downloaded packages between runs (default ~/.cache/banger-e2e).
source "$(dirname "$0")/../integration/lib.sh"

need_vm
start_daemon

# --- the image ---
build_default_image

# --- vm run: output, exit status ---
run_cli 0 vm run --rm -- echo ok
expect_eq "$OUT" ok "vm run --rm -- echo ok"
run_cli 7 vm run --rm -- sh -c 'exit 7'
run_cli 0 vm run --rm --timings -- true
expect_contains "$ERR" "timings (ms): create" "--timings"
api GET /v1/vms
expect_json '.vms | length' 0 "vm run --rm leaves no VM"

# --- a long-lived VM: exec ---
run_cli 0 vm create e1 --image default --start
out=$(echo hi | "$BANGER" vm exec -i e1 -- cat)
expect_eq "$out" hi "stdin through cat"
out=$(true | timeout 20 "$BANGER" vm exec -i e1 -- cat; echo "rc=$?")
expect_eq "$out" "rc=0" "empty stdin ends cat at once"
run_cli 143 vm exec e1 -- sh -c 'kill -TERM $$'
run_cli 0 vm exec e1 --env GREETING=hey --cwd /tmp -- sh -c 'echo $GREETING $(pwd)'
expect_eq "$OUT" "hey /tmp" "env and cwd"

# 10 MiB out of the guest, byte-exact: compare with a checksum computed in the guest.
run_cli 0 vm exec e1 -- sh -c 'head -c 10485760 /dev/urandom >/tmp/big && sha256sum /tmp/big'
want=${OUT%% *}
got=$("$BANGER" vm exec e1 -- cat /tmp/big | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$want" "10 MiB stdout byte-exact"
# 10 MiB into the guest.
head -c 10485760 /dev/urandom >"$T/in"
want=$(sha256sum <"$T/in" | cut -d' ' -f1)
got=$("$BANGER" vm exec -i e1 -- sha256sum <"$T/in" | cut -d' ' -f1)
expect_eq "$got" "$want" "10 MiB stdin byte-exact"

# one-shot exec (no Upgrade) and the exec record
api POST /v1/vms/e1/exec '{"cmd":["sh","-c","echo out; echo err >&2; exit 3"]}'
expect_status 200 "one-shot exec"
expect_json .exit_code 3
expect_json .stdout out
id=$(jq -r .id <<<"$BODY")
api GET "/v1/execs/$id"
expect_json .state exited
expect_json .exit_code 3
api POST /v1/vms/e1/exec '{"cmd":["no-such-program"]}'
expect_problem 422 exec_failed
expect_contains "$(jq -r .detail <<<"$BODY")" "no-such-program"

# --- workspace ---
repo=$T/repo
mkdir -p "$repo/src"
git -C "$repo" init -q
echo "hello from the host" >"$repo/src/hello.txt"
git -C "$repo" add -A
git -C "$repo" -c user.name=t -c user.email=t@t commit -qm one
echo "changed, not committed" >>"$repo/src/hello.txt"
run_cli 0 vm workspace e1 "$repo"
run_cli 0 vm exec e1 -- cat /root/repo/src/hello.txt
expect_eq "$OUT" "$(cat "$repo/src/hello.txt")" "workspace file read back"
run_cli 0 vm run --rm "$repo" -- cat src/hello.txt
expect_eq "$OUT" "$(cat "$repo/src/hello.txt")" "vm run REPO"

# a guest that cannot take the files: /root/repo is a plain file
run_cli 0 vm exec e1 -- sh -c 'rm -rf /root/repo && touch /root/repo'
api POST /v1/vms/e1/workspace "{\"path\":\"$repo\"}"
expect_problem 500 workspace_failed

# a full clone with history, REF checked out on a new branch
git -C "$repo" tag v1
git -C "$repo" -c user.name=t -c user.email=t@t commit -qam two
run_cli 0 vm exec e1 -- rm -rf /root/repo
run_cli 0 vm workspace e1 "$repo" --mode clone --from v1 --branch feature
run_cli 0 vm exec e1 -- cat /root/repo/.git/HEAD /root/repo/src/hello.txt
expect_eq "$OUT" "ref: refs/heads/feature
hello from the host" "clone --from v1 --branch feature"

# a tracked directory swapped for a symlink out of the tree is refused, never followed
swap=$T/swap
mkdir -p "$swap/conf"
git -C "$swap" init -q
echo mine >"$swap/conf/passwd"
git -C "$swap" add -A
git -C "$swap" -c user.name=t -c user.email=t@t commit -qm one
rm -r "$swap/conf"
ln -s /etc "$swap/conf"
api POST /v1/vms/e1/workspace "{\"path\":\"$swap\"}"
expect_problem 400 invalid_field path
expect_contains "$(jq -r .detail <<<"$BODY")" "is a symlink" "symlinked directory refused"

# git never runs what the repository's configuration names (fsmonitor, hooks)
git -C "$repo" config core.fsmonitor "touch $T/fsmonitor-ran; false"
printf '#!/bin/sh\ntouch %s\n' "$T/hook-ran" >"$repo/.git/hooks/post-checkout"
chmod +x "$repo/.git/hooks/post-checkout"
run_cli 0 vm workspace e1 "$repo"
run_cli 0 vm workspace e1 "$repo" --mode clone --from v1 --branch hooked
if [[ -e "$T/fsmonitor-ran" || -e "$T/hook-ran" ]]; then fail "a repository command ran"; else pass; fi
git -C "$repo" config --unset core.fsmonitor
rm "$repo/.git/hooks/post-checkout"

# a clone 1,000 directories deep is refused with a reason, and bangerd lives on
deep=$T/deep
d=$deep
for _ in $(seq 1000); do d=$d/d; done
mkdir -p "$d"
echo bottom >"$d/f"
git -C "$deep" init -q
git -C "$deep" add -A
git -C "$deep" -c user.name=t -c user.email=t@t commit -qm deep
api POST /v1/vms/e1/workspace "{\"path\":\"$deep\",\"mode\":\"clone\"}"
expect_problem 400 invalid_field path
expect_contains "$(jq -r .detail <<<"$BODY")" "directories deep" "deep clone refused"
api GET /v1/system/version
expect_status 200 "bangerd alive after the deep clone"
left=$(find "$XDG_STATE_HOME/banger/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | head -3)
expect_eq "$left" "" "clones removed after the push"

# a push whose client goes away stops, and the guest's tar is killed
big=$T/big
mkdir -p "$big"
git -C "$big" init -q
head -c $((64 << 20)) /dev/urandom >"$big/blob"
git -C "$big" add -A
git -C "$big" -c user.name=t -c user.email=t@t commit -qm big
curl -s --unix-socket "$SOCK" -H 'Content-Type: application/json' \
  -d "{\"path\":\"$big\"}" http://b/v1/vms/e1/workspace >/dev/null 2>&1 &
push_pid=$!
guest_tar() { "$BANGER" vm exec e1 -- sh -c 'ps | grep -q "[t]ar -x -C /root/repo"' 2>/dev/null; }
wait_until 120 guest_tar || fail "the guest tar of the big push never ran"
kill "$push_pid"
wait "$push_pid" 2>/dev/null || true
no_guest_tar() { ! guest_tar; }
wait_until 60 no_guest_tar && pass || fail "the guest tar still runs after the client left"
wait_until 60 grep -q "workspace: the client went away" "$DAEMON_LOG" && pass ||
  fail "bangerd did not stop the push of a client that left"

# --- four at once ---
pids=()
for i in 1 2 3 4; do
  "$BANGER" vm run --rm -- sh -c "echo run$i" >"$T/par$i" 2>"$T/par$i.err" &
  pids+=($!)
done
for i in 1 2 3 4; do
  rc=0
  wait "${pids[$((i - 1))]}" || rc=$?
  expect_eq "$rc" 0 "parallel run $i exit ($(cat "$T/par$i.err"))"
  expect_eq "$(cat "$T/par$i")" "run$i" "parallel run $i output"
done

# --- bangerd dies hard under a running VM ---
# a clone left behind as a crash would leave it; the next start removes it
mkdir -p "$XDG_STATE_HOME/banger/tmp/clone-stale1/.git"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
start_daemon
if [[ -e "$XDG_STATE_HOME/banger/tmp/clone-stale1" ]]; then fail "stale clone kept"; else pass; fi
run_cli 0 vm exec e1 -- echo alive
expect_eq "$OUT" alive "exec after bangerd SIGKILL and restart"

# --- Ctrl-C during vm run --rm tears the VM down ---
"$BANGER" vm run --rm --name ctrlc -- sleep 600 >"$T/ctrlc.out" 2>&1 &
cpid=$!
wait_until 300 bash -c "curl -sf --unix-socket '$SOCK' http://b/v1/vms/ctrlc | grep -q '\"running\"'" ||
  fail "ctrlc VM never ran"
sleeping() { "$BANGER" vm exec ctrlc -- sh -c 'ps | grep -q "[s]leep 600"' 2>/dev/null; }
wait_until 60 sleeping || fail "the command never started in ctrlc"
kill -INT "$cpid"
rc=0
wait "$cpid" || rc=$?
expect_eq "$rc" 130 "vm run --rm after SIGINT"

# --- nothing left behind ---
run_cli 0 vm rm --force e1
expect_no_vm_left

finish
