#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Commands in a VM through a remote daemon, the CLI over TLS with a token: vm run --rm,
# vm exec (the upgraded frame stream through TLS, with stdin, exit codes and signals), vm exec
# -it on a terminal (tmux), a token without exec refused, and a repository put into the VM by
# upload (the remote cannot read this host's files). The VMM is the Firecracker test double,
# whose guest is the real agent on this host, so no VM boots.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_tls.sh"

BUILD=$(dirname "$BANGERD")/..
FAKE=${BANGER_FAKE_FIRECRACKER:-$BUILD/tests/fakes/fake-firecracker}
AGENT=${BANGER_AGENT:-$BUILD/agent/banger-agent}
[[ -x "$FAKE" ]] || skip "the Firecracker test double is not built ($FAKE)"
[[ -x "$AGENT" ]] || skip "banger-agent is not built ($AGENT)"
command -v git >/dev/null || skip "git is not installed"
export BANGER_AGENT=$AGENT
printf '#!/bin/sh\nexec %q --fake-agent %q --fake-mode none "$@"\n' "$FAKE" "$AGENT" >"$T/fc"
chmod +x "$T/fc"
printf '\177ELF\002\001\001' >"$T/vmlinux"
head -c 4096 /dev/zero >>"$T/vmlinux"

BANGERD_VMM=firecracker BANGERD_FIRECRACKER_PATH=$T/fc BANGERD_FIRECRACKER_KVM_CHECK=false \
  tls_start_daemon
import_image fc "$T/vmlinux"
new_token runner read,write,exec >"$T/runner.token"
new_token watcher read >"$T/watcher.token"
run_cli 0 remote add far "https://$TLS_ADDR" --token-file "$T/runner.token" --fingerprint "$TLS_FP"
run_cli 0 remote add eyes "https://$TLS_ADDR" --token-file "$T/watcher.token" --fingerprint "$TLS_FP"

# vm run --rm: create, start, exec (a stream), delete, all over TLS
run_cli 0 --remote far vm run --rm --image fc -- echo remote-ok
expect_eq "$OUT" "remote-ok" "vm run --rm through the remote"
api GET /v1/vms
expect_json '.vms | length' 0 "vm run --rm deleted its VM"

# a long-lived VM: exec's exit code, stdin and stderr through the TLS stream
run_cli 0 --remote far vm create r1 --image fc --start
run_cli 3 --remote far vm exec r1 -- sh -c 'echo out; echo err >&2; exit 3'
expect_eq "$OUT" "out" "stdout over the stream"
expect_eq "$ERR" "err" "stderr over the stream"
printf 'line one\nline two\n' >"$T/in"
"$BANGER" --remote far vm exec -i r1 -- cat <"$T/in" >"$T/cat.out" 2>"$T/cat.err" && pass ||
  fail "exec -i cat: $(cat "$T/cat.err")"
expect_eq "$(cat "$T/cat.out")" "$(cat "$T/in")" "stdin through the stream and back"
head -c 3000000 /dev/urandom | base64 -w 0 >"$T/big.in"
"$BANGER" --remote far vm exec -i r1 -- sh -c 'wc -c' <"$T/big.in" >"$T/big.out" 2>&1 && pass ||
  fail "exec -i of 4 MB: $(cat "$T/big.out")"
expect_eq "$(tr -d ' ' <"$T/big.out")" "$(wc -c <"$T/big.in" | tr -d ' ')" \
  "4 MB of stdin through TLS with credit flow control"
"$BANGER" --remote far vm exec r1 -- sh -c 'head -c 2000000 /dev/zero' | wc -c >"$T/many" &&
  pass || fail "exec of 2 MB of output"
expect_eq "$(tr -d ' ' <"$T/many")" 2000000 "2 MB of output through TLS"

# a token without the exec scope
run_cli 1 --remote eyes vm exec r1 -- true
expect_contains "$ERR" "needs a token with the 'exec' scope" "exec refused without the scope"
run_cli 0 --remote eyes vm ls
expect_contains "$OUT" "r1" "the read token lists"
run_cli 1 --remote eyes vm stop r1
expect_contains "$ERR" "'write' scope"

# events through the remote with a read token: replayed, then followed until stopped
"$BANGER" --remote eyes --json events --since 0 >"$T/events" 2>"$T/events.err" &
events_pid=$!
r1_created() {
  grep -v '^$' "$T/events" | jq -es 'any(.[]; .type == "vm.created" and .subject == "/v1/vms/r1")' \
    >/dev/null 2>&1
}
wait_until 20 r1_created && pass || fail "no event of r1 through the remote: $(cat "$T/events.err")"
kill -0 "$events_pid" && pass || fail "events through the remote did not follow"
kill "$events_pid"
wait "$events_pid" 2>/dev/null || true
expect_eq "$(grep -v '^$' "$T/events" | jq -s 'all(.seq > 0)')" true "events through the remote are events"

# vm exec -it: a terminal in the guest, through TLS
if command -v tmux >/dev/null; then
  tm() { tmux -L "banger-remote-$$" "$@"; }
  screen() { tm capture-pane -p -t t; }
  shows() { screen | grep -q -- "$1"; }
  trap 'tm kill-server 2>/dev/null || true; cleanup' EXIT
  tm new-session -d -s t -x 90 -y 25 \
    "env -i PATH=$PATH TERM=xterm HOME=$HOME XDG_CONFIG_HOME=$XDG_CONFIG_HOME PS1='host\$ ' bash --norc"
  wait_until 10 shows 'host\$' || fail "local shell never came up"
  tm send-keys -t t "$BANGER --remote far vm exec -it r1 -- sh" Enter
  # keys typed before the guest's shell prompts would be echoed before it, out of order
  wait_until 30 shows '^# *$' || fail "no prompt of the guest's shell: $(screen)"
  tm send-keys -t t "tty; stty size; echo remote-tty-ready" Enter
  wait_until 30 shows '^remote-tty-ready' && pass || fail "no shell through the remote: $(screen)"
  shows '^/dev/pts/' && pass || fail "no PTY through the remote: $(screen)"
  shows '^25 90$' && pass || fail "window size not sent through the remote: $(screen)"
  tm send-keys -t t "exit 4" Enter
  wait_until 20 shows '^host\$ *$' || fail "vm exec -it did not return: $(screen)"
  tm send-keys -t t 'echo "rc=$?"' Enter
  wait_until 10 shows '^rc=4$' && pass || fail "exit code of -it: $(screen)"
else
  echo "note: tmux is not installed; vm exec -it through the remote not checked"
fi

# a repository: tracked files go up as a tar (PUT /v1/vms/{name}/files), as they are in the
# work tree, untracked ones stay here
git init -q "$T/repo"
mkdir -p "$T/repo/src/deep"
echo 'hello' >"$T/repo/README"
echo 'int main;' >"$T/repo/src/deep/main.c"
ln -s README "$T/repo/link"
git -C "$T/repo" add README src link
git -C "$T/repo" -c user.name=t -c user.email=t@t commit -qm init
echo 'changed' >"$T/repo/README"
echo 'local only' >"$T/repo/untracked"
# The PUT route is issue 9's (w2-cp): until it is merged, a remote upload is refused by the
# daemon with 404 not_found, and this checks that refusal; once it is, the files must arrive.
RECORDS=/dev/null api PUT /v1/vms/r1/files?path=/root/repo "" -H 'Content-Type: application/x-tar'
if [[ "$STATUS" == 404 && "$(jq -r .code <<<"$BODY")" == not_found ]]; then
  run_cli 1 --remote far vm workspace r1 "$T/repo"
  expect_contains "$ERR" "upload $T/repo to vm 'r1':/root/repo" "the upload is attempted"
  echo "note: PUT /v1/vms/{name}/files is not served yet; the remote repository upload is not checked end to end"
else
  run_cli 0 --remote far vm workspace r1 "$T/repo"
  expect_contains "$OUT" "copied 3 files" "three tracked files"
  run_cli 0 --remote far vm exec r1 -- sh -c 'cat /root/repo/README /root/repo/src/deep/main.c; readlink /root/repo/link; test -e /root/repo/untracked || echo no-untracked'
  expect_eq "$OUT" $'changed\nint main;\nREADME\nno-untracked' "the work tree's tracked files in the guest"
  run_cli 0 --remote far vm run --rm --image fc "$T/repo" -- cat README
  expect_eq "$OUT" "changed" "vm run with a repository through the remote"
fi
run_cli 1 --remote far vm workspace r1 "$T/repo" --mode clone
expect_contains "$ERR" "a remote daemon takes --mode copy" "clone mode needs the daemon's host"

run_cli 0 --remote far vm rm --force r1
finish
