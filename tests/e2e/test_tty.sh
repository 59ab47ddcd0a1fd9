#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `banger vm exec -it` behaves like `ssh -t`: a PTY in the guest, the local terminal in raw
# mode, the window size sent at start and followed on resize, the exit code returned, and
# the local terminal restored afterwards. Driven through tmux (send-keys, capture-pane).
source "$(dirname "$0")/../integration/lib.sh"
command -v tmux >/dev/null || skip "tmux is not installed"
need_vm
start_daemon
build_default_image
run_cli 0 vm create tty1 --image default --start

tm() { tmux -L "banger-tty-$$" "$@"; }
screen() { tm capture-pane -p -t t; }
shows() { screen | grep -q -- "$1"; }
cleanup_tmux() { tm kill-server 2>/dev/null || true; }
trap 'cleanup_tmux; cleanup' EXIT

tm new-session -d -s t -x 100 -y 30 "env -i PATH=$PATH TERM=xterm HOME=$HOME PS1='host\$ ' bash --norc"
wait_until 10 shows 'host\$' || fail "local shell never came up"
tm send-keys -t t "BANGER_SOCKET=$SOCK $BANGER vm exec -it tty1 -- sh" Enter
tm send-keys -t t "echo banger-tty-ready" Enter
wait_until 60 shows '^banger-tty-ready' || fail "guest shell never answered: $(screen)"

tm send-keys -t t "tty; stty size" Enter
wait_until 20 shows '^/dev/pts/' && pass || fail "no PTY in the guest: $(screen)"
wait_until 20 shows '^30 100$' && pass || fail "initial window size not sent: $(screen)"

tm resize-window -t t -x 120 -y 40
tm send-keys -t t "stty size" Enter
wait_until 20 shows '^40 120$' && pass || fail "window size not followed: $(screen)"

tm send-keys -t t "exit 5" Enter
wait_until 30 shows '^host\$ *$' || fail "vm exec -t did not return: $(screen)"
tm send-keys -t t 'echo "rc=$?"; stty -a | grep -o -- " -\?icanon" | tr -d " "' Enter
wait_until 10 shows '^rc=5$' && pass || fail "exit code not returned: $(screen)"
wait_until 10 shows '^icanon$' && pass || fail "local terminal left in raw mode: $(screen)"

run_cli 0 vm rm --force tty1
finish
