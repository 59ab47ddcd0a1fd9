#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Files in and out of VMs (PUT and GET /v1/vms/{name}/files, banger vm cp) through the real
# daemon and CLI: first every refusal where no VM needs to boot (the path, the media type, no
# such VM, a VM that is not running, the CLI's arguments), then, where a VM can boot (QEMU,
# the default image), a path that is not in the guest, a directory that cannot be made, a body
# that is not an archive, and a small tree in and out with curl and the CLI. The byte-exact
# round trip of a bigger tree is tests/e2e/test_files.sh.
source "$(dirname "$0")/lib.sh"

start_daemon
make_file "$T/vmlinux" 4
import_image base "$T/vmlinux"
api POST /v1/vms '{"name":"idle","image":"base"}'
expect_status 201 "create idle"
tar -cf "$T/small.tar" -C "$T" vmlinux

# --- refusals before any guest is asked ---
tar_put() { api PUT "/v1/vms/$1/files$2" "@$T/small.tar" -H 'Content-Type: application/x-tar' "${@:3}"; }
api GET /v1/vms/idle/files
expect_problem 400 invalid_query
expect_contains "$(jq -r .detail <<<"$BODY")" "?path=/ABSOLUTE/PATH"
api GET '/v1/vms/idle/files?path=root/x'
expect_problem 400 invalid_query
expect_contains "$(jq -r .detail <<<"$BODY")" "is not absolute"
api GET '/v1/vms/idle/files?path=/root/../etc'
expect_problem 400 invalid_query
expect_contains "$(jq -r .detail <<<"$BODY")" "'..' component"
api GET '/v1/vms/idle/files?path=/'
expect_problem 400 invalid_query
expect_contains "$(jq -r .detail <<<"$BODY")" "names no file or directory"
api GET '/v1/vms/idle/files?path=/a&x=1'
expect_problem 400 invalid_query
api GET '/v1/vms/nosuch/files?path=/etc'
expect_problem 404 vm_not_found
api GET '/v1/vms/idle/files?path=/etc'
expect_problem 409 vm_not_running
api HEAD '/v1/vms/idle/files?path=/etc'
expect_status 409 "HEAD of a stopped VM"
tar_put idle '?path=relative'
expect_problem 400 invalid_query
tar_put idle '?path=/a//b'
expect_problem 400 invalid_query
tar_put idle ''
expect_problem 400 invalid_query
tar_put nosuch '?path=/root'
expect_problem 404 vm_not_found
tar_put idle '?path=/root'
expect_problem 409 vm_not_running
api PUT '/v1/vms/idle/files?path=/root' "@$T/small.tar" -H 'Content-Type: application/json'
expect_problem 415 unsupported_media_type
expect_contains "$(jq -r .detail <<<"$BODY")" "application/x-tar"
# chunked, far over the JSON body cap: refused for what it is, never for its size
head -c $((2 << 20)) /dev/zero >"$T/zeros"
api PUT '/v1/vms/idle/files?path=/root' "@$T/zeros" -H 'Content-Type: application/x-tar' \
  -H 'Transfer-Encoding: chunked'
expect_problem 409 vm_not_running

# --- the CLI ---
run_cli 2 vm cp "$T/vmlinux"
expect_contains "$ERR" "needs SRC and DST"
run_cli 1 vm cp "$T/vmlinux" "$T/other"
expect_contains "$ERR" "one of SRC and DST must be NAME:PATH"
run_cli 1 vm cp idle:/a idle:/b
expect_contains "$ERR" "only one of SRC and DST"
run_cli 1 vm cp "$T/vmlinux" idle:relative
expect_contains "$ERR" "must be absolute"
run_cli 1 vm cp "$T/vmlinux" nosuch:/root
expect_contains "$ERR" "no VM named 'nosuch'"
run_cli 1 vm cp "$T/vmlinux" idle:/root/
expect_contains "$ERR" "not running"
run_cli 1 vm cp idle:/etc/hostname "$T/out"
expect_contains "$ERR" "not running"
run_cli 1 vm cp "$T/no-such-file" idle:/root/
expect_contains "$ERR" "No such file or directory"
run_cli 1 vm cp idle:/etc/hostname "$T/no/such/dir/file"
expect_contains "$ERR" "no directory"

# --- with a running guest (needs a VM) ---
if ! why=$(need_vm); then
  echo "${why/SKIP:/SKIP (files with a running guest):}"
  finish
  exit
fi
need_vm
build_default_image
run_cli 0 vm create f1 --image default --start
api GET '/v1/vms/f1/files?path=/no/such/thing'
expect_problem 404 path_not_found
expect_contains "$(jq -r .detail <<<"$BODY")" "/no/such/thing"
api HEAD '/v1/vms/f1/files?path=/no/such/thing'
expect_status 404 "HEAD of a missing path"
api HEAD '/v1/vms/f1/files?path=/etc'
expect_status 200 "HEAD of /etc"
expect_eq "$CTYPE" application/x-tar "HEAD content type"
# a file where the directory should be
run_cli 0 vm exec f1 -- sh -c 'echo x > /root/plain'
tar_put f1 '?path=/root/plain/below'
expect_problem 500 files_failed
expect_contains "$(jq -r .detail <<<"$BODY")" "cannot make the directory"
# not an archive (zeros would be one: an empty archive)
make_file "$T/junk" 64
api PUT '/v1/vms/f1/files?path=/root/junk' "@$T/junk" -H 'Content-Type: application/x-tar'
expect_problem 500 files_failed
expect_contains "$(jq -r .detail <<<"$BODY")" "tar in the guest failed"
# a small tree in with curl (chunked), out with curl, then with the CLI
mkdir -p "$T/tree/sub"
echo one >"$T/tree/a"
chmod 640 "$T/tree/a"
ln -s a "$T/tree/link"
echo two >"$T/tree/sub/b"
tar -cf - -C "$T" tree | curl -s --unix-socket "$SOCK" -T - -H 'Content-Type: application/x-tar' \
  -o "$T/put.json" -w '%{http_code}' 'http://b/v1/vms/f1/files?path=/root/in' >"$T/code"
expect_eq "$(cat "$T/code")" 200 "chunked PUT"
expect_eq "$(jq -r .files "$T/put.json")" 5 "members unpacked"
run_cli 0 vm exec f1 -- sh -c 'cat /root/in/tree/sub/b; readlink /root/in/tree/link; stat -c %a /root/in/tree/a'
expect_eq "$OUT" "two
a
640" "tree in the guest"
curl -s --unix-socket "$SOCK" -o "$T/got.tar" 'http://b/v1/vms/f1/files?path=/root/in/tree'
expect_eq "$(tar -tf "$T/got.tar" | sort | tr '\n' ' ')" "tree/ tree/a tree/link tree/sub/ tree/sub/b " \
  "archive out of the guest"
run_cli 0 vm cp "$T/tree" f1:/root/cli/
run_cli 0 vm cp f1:/root/cli/tree "$T/back"
diff -r "$T/tree" "$T/back" >/dev/null && pass || fail "vm cp tree in and out differs"
run_cli 0 vm rm --force f1

finish
