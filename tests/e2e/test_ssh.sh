#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ssh the way developers already work, with real VMs and the real OpenSSH client: the agent
# starts the image's sshd with host keys of each VM's own; `banger ssh-config install` adds
# one Include to ~/.ssh/config (idempotent, and uninstall restores the file byte for byte);
# `ssh NAME.vm -- true` goes through that Include and the ProxyCommand; exit codes pass
# through `ssh` and `banger vm ssh`; scp both ways; a VM made again under the same name trips
# no host-key warning, while a wrong key is still refused; the busybox image says it has no
# ssh; `banger vm forward` reaches a guest HTTP server from the host.
#
# uses: dev_image
#
# Needs: qemu-system-x86_64, the default (busybox) image (`banger image build --recipe
# minimal`), ssh and scp, and the e2e/dev_image fixture (its sshd). Exits 77 (skipped) with the
# reason when something is missing. BANGER_E2E_CACHE as in test_vm_run.sh.
source "$(dirname "$0")/../integration/lib.sh"

need_vm
command -v ssh >/dev/null && command -v scp >/dev/null || skip "ssh and scp are not installed"
RUNTIME=$XDG_RUNTIME_DIR/banger
PIDS=()

# QEMU outlives bangerd by design: on a failure halfway, end this test's VMs by their pidfiles.
teardown() {
  local rc=$? pid
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for f in "$RUNTIME"/vms/*/qemu.pid; do
    [[ -f "$f" ]] && pid=$(cat "$f") && [[ "$pid" =~ ^[0-9]+$ ]] &&
      grep -qa -- "$T" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  (exit "$rc")
  cleanup
}
trap teardown EXIT

start_daemon
t0=$SECONDS
build_default_image
use_dev_image dev
echo "images: $((SECONDS - t0)) s"

# ssh reads the ~/.ssh/config of the passwd entry, not $HOME's: point it at the test's.
SSH=(ssh -F "$HOME/.ssh/config" -o BatchMode=yes)
SCP=(scp -F "$HOME/.ssh/config" -o BatchMode=yes)

# --- ssh-config install: one Include at the top, nothing else touched, idempotent ---
mkdir -p "$HOME/.ssh"
printf 'Host example\n    HostName example.org\n    User me\n' >"$HOME/.ssh/config"
chmod 600 "$HOME/.ssh/config"
cp "$HOME/.ssh/config" "$T/config.orig"
run_cli 0 ssh-config install
banger_cfg=$XDG_CONFIG_HOME/banger/ssh/config
expect_eq "$(sed -n 2p "$HOME/.ssh/config")" "Include \"$banger_cfg\"" "the Include is at the top"
expect_eq "$(tail -n +3 "$HOME/.ssh/config")" "$(cat "$T/config.orig")" "the rest untouched"
cp "$HOME/.ssh/config" "$T/config.installed"
run_cli 0 ssh-config install
expect_contains "$OUT" "already includes" "install again says so"
cmp -s "$HOME/.ssh/config" "$T/config.installed" && pass || fail "a second install changed the file"
expect_eq "$(stat -c %a "$XDG_CONFIG_HOME/banger/ssh/id_ed25519")" 600 "the client key is 0600"

# --- ssh NAME.vm through the Include ---
t1=$SECONDS
run_cli 0 vm create s1 --image dev --start
echo "create + boot (sshd rootfs): $((SECONDS - t1)) s"
t1=$SECONDS
RC=0
"${SSH[@]}" s1.vm -- true 2>"$T/ssh.err" || RC=$?
expect_eq "$RC" 0 "ssh s1.vm -- true ($(cat "$T/ssh.err"))"
echo "first ssh: $((SECONDS - t1)) s"
RC=0
"${SSH[@]}" s1.vm -- 'exit 7' || RC=$?
expect_eq "$RC" 7 "ssh passes the exit code through"
expect_eq "$("${SSH[@]}" s1.vm -- hostname)" s1 "the guest's hostname over ssh"
run_cli 0 vm ssh s1 -- echo hi there
expect_eq "$OUT" "hi there" "banger vm ssh -- CMD"
run_cli 3 vm ssh s1 -- 'exit 3'
out=$(echo 'through stdin' | "$BANGER" vm ssh s1 -- cat)
expect_eq "$out" "through stdin" "banger vm ssh: stdin reaches the command"

# --- scp both ways, byte-exact ---
make_file "$T/up" 1024
"${SCP[@]}" -q "$T/up" s1.vm:/root/up && pass || fail "scp to the guest"
"${SCP[@]}" -q s1.vm:/root/up "$T/down" && pass || fail "scp from the guest"
cmp -s "$T/up" "$T/down" && pass || fail "scp round trip is not byte-exact"

# --- host keys: each VM its own, made at its first boot ---
run_cli 0 vm exec s1 -- cat /etc/ssh/ssh_host_ed25519_key.pub
key1=$(cut -d' ' -f1,2 <<<"$OUT")
run_cli 0 vm exec s1 -- test -f /etc/ssh/.banger-host-keys
kh=$XDG_CONFIG_HOME/banger/ssh/known_hosts
expect_eq "$(grep '^s1.vm ' "$kh" | cut -d' ' -f2,3)" "$key1" "banger's known_hosts has s1's key"
run_cli 0 vm stop s1
run_cli 0 vm start s1
run_cli 0 vm exec s1 -- cat /etc/ssh/ssh_host_ed25519_key.pub
expect_eq "$(cut -d' ' -f1,2 <<<"$OUT")" "$key1" "the host key survives a restart"

# --- the same name again: a new key, no warning; a wrong key is still refused ---
run_cli 0 vm rm --force s1
run_cli 0 vm create s1 --image dev --start
run_cli 0 vm exec s1 -- cat /etc/ssh/ssh_host_ed25519_key.pub
key2=$(cut -d' ' -f1,2 <<<"$OUT")
[[ "$key2" != "$key1" ]] && pass || fail "a new VM of the same image has the same host key"
RC=0
"${SSH[@]}" s1.vm -- true 2>"$T/ssh.err" || RC=$?
expect_eq "$RC" 0 "ssh to the new s1"
if grep -qi "identification has changed\|host key verification" "$T/ssh.err"; then
  fail "a host-key warning for the new s1: $(cat "$T/ssh.err")"
else
  pass
fi
# a proxy that does not record the key, against a known_hosts with the old one: refused
sed -i "s|^s1.vm .*|s1.vm $key1|" "$kh"
RC=0
"${SSH[@]}" -o "ProxyCommand '$BANGER' vm tunnel s1 22" s1.vm -- true 2>"$T/ssh.err" || RC=$?
expect_eq "$RC" 255 "ssh refuses a host key that does not match"
expect_contains "$(cat "$T/ssh.err")" "Host key verification failed" "host key checking stays on"

# --- the busybox image has no ssh, and says what to do ---
run_cli 0 vm create b1 --image default --start
run_cli 1 vm ssh b1 -- true
expect_contains "$ERR" "has no ssh server" "vm ssh on the busybox image"
expect_contains "$ERR" "banger image build --recipe dev" "and what to do"

# --- vm forward: a guest HTTP server from the host ---
run_cli 0 vm exec b1 -- sh -c 'mkdir -p /tmp/www && echo "hello from the guest" >/tmp/www/index.html &&
  httpd -p 127.0.0.1:8080 -h /tmp/www </dev/null >/dev/null 2>&1'
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BANGER" vm forward b1 "$hport:8080" 2>"$T/forward.err" &
FWD=$!
PIDS+=($FWD)
wait_until 20 grep -q forwarding "$T/forward.err" && pass || fail "vm forward did not start"
out=$(curl -sf "http://127.0.0.1:$hport/index.html") || true
expect_eq "$out" "hello from the guest" "the guest's HTTP server through vm forward"
out=$(curl -sf "http://127.0.0.1:$hport/index.html") || true
expect_eq "$out" "hello from the guest" "and again"
run_cli 1 vm forward b1 "$hport:8080"
expect_contains "$ERR" "is taken" "vm forward refuses a taken port"
kill -INT "$FWD"
wait "$FWD" && pass || fail "vm forward did not end cleanly on SIGINT"

# --- uninstall: the file as it was ---
run_cli 0 ssh-config uninstall
cmp -s "$HOME/.ssh/config" "$T/config.orig" && pass || fail "uninstall did not restore ~/.ssh/config"
[[ ! -e "$banger_cfg" ]] && pass || fail "uninstall left $banger_cfg"
run_cli 0 ssh-config uninstall
expect_contains "$OUT" "has no Include of banger's" "uninstall again says so"

# --- nothing left behind ---
run_cli 0 vm rm --force s1
run_cli 0 vm rm --force b1
run_cli 0 image rm dev
expect_no_vm_left
echo "total: $((SECONDS - t0)) s"

finish
