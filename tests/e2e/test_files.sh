#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# banger vm cp with a real VM: a directory tree (modes, symlinks, an empty directory, names with
# spaces and UTF-8, a deep path, 24 MiB of random data) goes into the guest and comes back
# byte-exact, checked on the host and in the guest; a file copied under a new name both ways;
# tar archives on stdin and stdout ('-'); a copy into a directory that does not exist yet.
#
# Needs: qemu-system-x86_64 and the image from `banger image build` (as test_vm_run.sh).
source "$(dirname "$0")/../integration/lib.sh"

need_vm
start_daemon
build_default_image
run_cli 0 vm create cp1 --image default --start

# --- the tree ---
src=$T/src/tree
mkdir -p "$src/a/b/c/d/e/f" "$src/empty" "$src/with space" "$src/ünïcödé"
head -c $((24 << 20)) /dev/urandom >"$src/big.bin"
for i in $(seq 1 40); do head -c $((RANDOM * 3)) /dev/urandom >"$src/a/file$i"; done
echo deep >"$src/a/b/c/d/e/f/leaf"
echo spaced >"$src/with space/name with space.txt"
echo utf8 >"$src/ünïcödé/fïlé"
printf '#!/bin/sh\necho run\n' >"$src/run.sh"
chmod 755 "$src/run.sh"
chmod 600 "$src/a/file1"
chmod 640 "$src/a/file2"
chmod 444 "$src/a/file3"
chmod 711 "$src/a/b"
chmod 775 "$src/empty"
ln -s a/b/c/d/e/f/leaf "$src/leaf-link"
ln -s /nowhere/at/all "$src/dangling"
ln -s .. "$src/a/up"
# names, types, modes and link targets, then the contents
listing() { (cd "$1" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
want=$(listing "$src")

run_cli 0 vm cp "$src" cp1:/root/in/
# (busybox's stat quotes the names of links only)
run_cli 0 vm exec cp1 -- sh -c 'cd /root/in/tree && sha256sum big.bin a/file7 && stat -c "%a %N" run.sh leaf-link a/file1 empty'
expect_contains "$OUT" "$(cd "$src" && sha256sum big.bin a/file7 | head -n1)" "big.bin in the guest"
expect_contains "$OUT" "755 run.sh" "mode 755 in the guest"
expect_contains "$OUT" "'leaf-link' -> 'a/b/c/d/e/f/leaf'" "symlink in the guest"
expect_contains "$OUT" "600 a/file1" "mode 600 in the guest"
expect_contains "$OUT" "775 empty" "empty directory's mode in the guest"

run_cli 0 vm cp cp1:/root/in/tree "$T/back"
got=$(listing "$T/back")
if [[ "$got" == "$want" ]]; then pass; else
  fail "the tree came back different: $(diff <(echo "$want") <(echo "$got") | head -20)"
fi

# --- new names: a destination that does not exist is the copy's name ---
run_cli 0 vm cp "$src/a/file2" cp1:/root/renamed.txt
run_cli 0 vm exec cp1 -- stat -c '%a %s' /root/renamed.txt
expect_eq "$OUT" "640 $(stat -c %s "$src/a/file2")" "file uploaded under a new name"
run_cli 0 vm cp cp1:/root/renamed.txt "$T/down.txt"
cmp -s "$T/down.txt" "$src/a/file2" && pass || fail "file downloaded under a new name differs"
run_cli 0 vm cp cp1:/root/in/tree/a/b "$T/newdir/"
[[ -f "$T/newdir/b/c/d/e/f/leaf" ]] && pass || fail "copy into a directory made for it"

# --- tar on stdin and stdout ---
tar -cf - -C "$T/src" tree | "$BANGER" vm cp - cp1:/root/piped >"$T/piped.out" 2>&1 && pass ||
  fail "vm cp - NAME:DIR: $(cat "$T/piped.out")"
"$BANGER" vm cp cp1:/root/piped/tree - >"$T/out.tar" && pass || fail "vm cp NAME:PATH -"
mkdir -p "$T/untar"
tar -xf "$T/out.tar" -C "$T/untar"
got=$(listing "$T/untar/tree")
[[ "$got" == "$want" ]] && pass || fail "the tree through stdin and stdout differs"

# --- what is not there ---
run_cli 1 vm cp cp1:/root/nothing "$T/x"
expect_contains "$ERR" "no file or directory '/root/nothing' in the guest"

run_cli 0 vm rm --force cp1
expect_no_vm_left
finish
