#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Exec, execs and workspace through the real daemon and CLI: first where no VM needs to boot,
# every refusal (bad bodies, unknown and stopped VMs, unknown execs, not a repository) and
# the CLI's checks before anything is created; then, where a VM can boot (QEMU, the default
# image), a one-shot exec whose client goes away: the command must end in the guest too.
# Running commands at large is tests/e2e/test_vm_run.sh.
source "$(dirname "$0")/lib.sh"

start_daemon
make_file "$T/vmlinux" 4
import_image base "$T/vmlinux"
api POST /v1/vms '{"name":"idle","image":"base"}'
expect_status 201 "create idle"

# --- exec refusals ---
api POST /v1/vms/nosuch/exec '{"cmd":["true"]}'
expect_problem 404 vm_not_found
api POST /v1/vms/idle/exec '{"cmd":["true"]}'
expect_problem 409 vm_not_running
api POST /v1/vms/idle/exec '{"cmd":[]}'
expect_problem 400 invalid_field cmd
api POST /v1/vms/idle/exec '{}'
expect_problem 400 missing_field cmd
api POST /v1/vms/idle/exec '{"cmd":["ls"],"env":{"1X":"y"}}'
expect_problem 400 invalid_field env
api POST /v1/vms/idle/exec '{"cmd":["ls"],"cwd":"relative"}'
expect_problem 400 invalid_field cwd
api POST /v1/vms/idle/exec '{"cmd":["ls"],"timeout_s":90000}'
expect_problem 400 invalid_field timeout_s
api POST /v1/vms/idle/exec '{"cmd":["ls"],"stdin":true}'
expect_problem 400 invalid_field stdin
api POST /v1/vms/idle/exec '{"cmd":["ls"],"user":"root"}'
expect_problem 400 unknown_field user
# the upgraded form is refused the same way, before any protocol switch
api POST /v1/vms/idle/exec '{"cmd":["true"]}' -H 'Upgrade: banger-exec/1' -H 'Connection: Upgrade'
expect_problem 409 vm_not_running

# --- execs ---
api GET /v1/execs/exec-0123456789abcdef
expect_problem 404 exec_not_found
api GET /v1/execs/not-an-id
expect_problem 400 invalid_path

# --- workspace refusals ---
api POST /v1/vms/idle/workspace "{\"path\":\"$T\",\"mode\":\"rsync\"}"
expect_problem 400 invalid_field mode
api POST /v1/vms/idle/workspace "{\"path\":\"$T\",\"mode\":\"clone\",\"from\":\"main\"}"
expect_problem 400 invalid_field branch
api POST /v1/vms/idle/workspace '{"path":"relative"}'
expect_problem 400 invalid_field path
api POST /v1/vms/nosuch/workspace "{\"path\":\"$T\"}"
expect_problem 404 vm_not_found
api POST /v1/vms/idle/workspace "{\"path\":\"$T\"}"
expect_problem 409 vm_not_running

# --- CLI ---
run_cli 1 vm exec nosuch -- true
expect_contains "$ERR" "'nosuch'"
run_cli 1 vm exec idle -- true
expect_contains "$ERR" "not running"
run_cli 2 vm exec idle
expect_contains "$ERR" "needs a command"
run_cli 1 vm workspace idle "$T"
expect_contains "$ERR" "not running"
# vm run refuses a path that is not a repository before creating anything
mkdir -p "$T/plain"
run_cli 1 vm run --rm "$T/plain" -- true
expect_contains "$ERR" "is not a git work tree"
api GET /v1/vms
expect_json '.vms | length' 1 "no VM created by a refused vm run"
# without a terminal and without a command, vm run asks for one
run_cli 1 vm run </dev/null
expect_contains "$ERR" "give the command after '--'"
run_cli 1 vm run --rm --image nosuch -- true
expect_contains "$ERR" "nosuch"

# --- a one-shot exec whose client leaves (needs a VM) ---
# need_vm ends the test as skipped; asked in a subshell first, it only skips this part.
if ! why=$(need_vm); then
  echo "${why/SKIP:/SKIP (one-shot exec whose client leaves):}"
  finish
  exit
fi
need_vm
build_default_image
run_cli 0 vm create oneshot --image default --start
# `sleep 30` in one-shot mode, with a client that gives up after 2 s (curl exits 28)
rc=0
curl -s -m 2 -o /dev/null --unix-socket "$SOCK" -H 'Content-Type: application/json' \
  -d '{"cmd":["sleep","30"]}' http://banger/v1/vms/oneshot/exec || rc=$?
expect_eq "$rc" 28 "curl gave up"
gone_line() { grep -o "exec 'exec-[0-9a-f]*' in vm 'oneshot': the client went away" "$DAEMON_LOG"; }
wait_until 10 gone_line >/dev/null && pass || fail "bangerd did not notice the client leave"
id=$(gone_line | grep -o 'exec-[0-9a-f]*' | head -n1)
exec_ended() {
  api GET "/v1/execs/$id"
  [[ "$(jq -r .state <<<"$BODY")" == exited ]]
}
wait_until 10 exec_ended && pass || fail "exec $id did not end: $BODY"
expect_json .signal 9 "killed"
expect_json .exit_code null
# no `sleep 30` is left in the guest (ps of busybox may lack -o, so read /proc)
api POST /v1/vms/oneshot/exec \
  '{"cmd":["sh","-c","for p in /proc/[0-9]*; do tr \"\\\\0\" \" \" <$p/cmdline 2>/dev/null; echo; done | grep -c \"^sleep 30 $\""]}'
expect_status 200 "ps in the guest"
expect_json .stdout "0" "sleep 30 processes left in the guest"
run_cli 0 vm rm --force oneshot

finish
