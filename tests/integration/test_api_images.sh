#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Images and operations through the API: import as a 202 operation that hashes the files,
# which VMMs an image suits, listing and deleting, every refusal of an import request
# (status, code and field), and the operations resource with ?wait.
source "$(dirname "$0")/lib.sh"

kernel=$T/vmlinuz
make_file "$kernel" 256
elf=$T/vmlinux
printf '\x7fELF' >"$elf"
head -c 8192 /dev/urandom >>"$elf"
rootfs=$T/rootfs.ext4
make_file "$rootfs" 512
initrd=$T/initrd.img
make_file "$initrd" 32
sha() { sha256sum "$1" | cut -d' ' -f1; }

start_daemon

# --- an import is an operation
api POST /v1/images "{\"name\":\"plain\",\"kernel\":\"$kernel\"}"
expect_status 202 "import plain"
op=$(jq -r .id <<<"$BODY")
[[ "$op" =~ ^op-[0-9a-f]{16}$ ]] && pass || fail "operation id '$op'"
expect_eq "$(header Location)" "/v1/operations/$op" "Location of the import"
expect_json .kind image_import
expect_json .target /v1/images/plain
expect_json '.state | IN("running","succeeded")' true "operation state at once"
expect_json .progress.unit bytes
expect_json .progress.total $((256 * 1024)) "progress total is the file size"
expect_json '.error' null "no error at once"
expect_json '.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' true "operation created_at"
expect_json '.updated_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' true "operation updated_at"

# The image exists at once, importing or (when hashing was quick) ready.
api GET /v1/images/plain
expect_status 200 "image right after the 202"
expect_json '.state | IN("importing","ready")' true "image state right after the 202"

api GET "/v1/operations/$op?wait=30"
expect_status 200 "wait for the import"
expect_json .state succeeded "import outcome"
expect_json .progress.done $((256 * 1024)) "progress done"
expect_json .result.name plain "operation result is the image"
expect_json .result.state ready "result image state"
expect_json .result.kernel.sha256 "$(sha "$kernel")" "kernel sha256 in the result"

api GET /v1/images/plain
expect_status 200 "get plain"
expect_json .state ready
expect_json .arch x86_64
expect_json .source import
expect_json .error null
expect_json .kernel.path "$kernel"
expect_json .kernel.size_bytes $((256 * 1024))
expect_json .kernel.sha256 "$(sha "$kernel")" "kernel sha256 equals sha256sum"
expect_json .rootfs null
expect_json .initrd null
expect_json .vmlinux null
expect_json '.vmms | join(",")' qemu "vmms of random bytes"

# An ELF kernel can boot under Firecracker as well.
import_image elfy "$elf"
api GET /v1/images/elfy
expect_json '.vmms | join(",")' firecracker,qemu "vmms of an ELF kernel"
expect_json '.vmms_unproven | length' 0 "an imported image marks nothing unproven"
expect_json .kernel.sha256 "$(sha "$elf")" "ELF kernel sha256"

# A bzImage for QEMU with an ELF vmlinux beside it for Firecracker: both hashed.
api POST /v1/images "{\"name\":\"pair\",\"kernel\":\"$kernel\",\"vmlinux\":\"$elf\"}"
expect_status 202 "import pair"
api GET "/v1/operations/$(jq -r .id <<<"$BODY")?wait=30"
expect_json .state succeeded "import pair"
expect_json .progress.total $((256 * 1024 + $(stat -c %s "$elf"))) "progress total of kernel and vmlinux"
api GET /v1/images/pair
expect_json '.vmms | join(",")' firecracker,qemu "vmms with a vmlinux"
expect_json .kernel.path "$kernel"
expect_json .vmlinux.path "$elf"
expect_json .vmlinux.sha256 "$(sha "$elf")" "vmlinux sha256"
run_cli 0 image show pair
expect_contains "$OUT" "vmlinux:" "image show prints the vmlinux"

# --- rootfs and initrd are hashed too
api POST /v1/images "{\"name\":\"full\",\"kernel\":\"$kernel\",\"rootfs\":\"$rootfs\",\"initrd\":\"$initrd\"}"
expect_status 202 "import full"
full_op=$(jq -r .id <<<"$BODY")
expect_json .progress.total $(((256 + 512 + 32) * 1024)) "progress total of three files"
api GET "/v1/operations/$full_op?wait=30"
expect_json .state succeeded "import full"
api GET /v1/images/full
expect_json .state ready
expect_json .rootfs.path "$rootfs"
expect_json .rootfs.size_bytes $((512 * 1024))
expect_json .rootfs.sha256 "$(sha "$rootfs")" "rootfs sha256"
expect_json .initrd.path "$initrd"
expect_json .initrd.size_bytes $((32 * 1024))
expect_json .initrd.sha256 "$(sha "$initrd")" "initrd sha256"

# --- list, sorted by name whatever the import order
import_image aaa "$kernel"
api GET /v1/images
expect_status 200 "list images"
expect_json '[.images[].name] | join(",")' "aaa,elfy,full,pair,plain" "images sorted by name"
expect_json '[.images[].state] | unique | join(",")' ready "every listed image is ready"

# --- refusals of an import request
refuse() { # BODY STATUS CODE [FIELD] [curl args...]
  local body=$1 status=$2 code=$3 field=${4:-}
  shift $(($# < 4 ? $# : 4))
  api POST /v1/images "$body" "$@"
  expect_problem "$status" "$code" "$field"
  expect_json .instance /v1/images "instance of $code"
  expect_json '.detail | length > 0' true "detail of $code"
}
mkdir -p "$T/adir"
: >"$T/empty"
refuse '{"name":"x"}' 400 missing_field kernel
refuse '{"kernel":"'"$kernel"'"}' 400 missing_field name
refuse '{"name":"x","kernel":"'"$T"'/absent"}' 400 invalid_field kernel
expect_contains "$(jq -r .detail <<<"$BODY")" "$T/absent" "detail names the missing file"
refuse '{"name":"x","kernel":"'"$T"'/adir"}' 400 invalid_field kernel
refuse '{"name":"x","kernel":"'"$T"'/empty"}' 400 invalid_field kernel
refuse '{"name":"x","kernel":"vmlinuz"}' 400 invalid_field kernel
refuse '{"name":"x","kernel":"'"$T"'/../'"${T##*/}"'/vmlinuz"}' 400 invalid_field kernel
# A FIFO is refused, not waited on: bangerd opens without waiting for a writer (none ever
# comes, so a blocking open would hang this request) and checks what it opened.
mkfifo "$T/fifo"
refuse '{"name":"x","kernel":"'"$T"'/fifo"}' 400 invalid_field kernel
expect_contains "$(jq -r .detail <<<"$BODY")" "is not a regular file" "a FIFO is not a regular file"
refuse '{"name":"x","kernel":"'"$kernel"'","rootfs":"'"$T"'/fifo"}' 400 invalid_field rootfs
# A symbolic link is refused: the image records the path of the file bangerd hashed.
ln -s "$kernel" "$T/link"
refuse '{"name":"x","kernel":"'"$T"'/link"}' 400 invalid_field kernel
expect_contains "$(jq -r .detail <<<"$BODY")" "is a symbolic link; give the path of the file itself" \
  "a symlink says what to pass instead"
refuse '{"name":"x","kernel":"'"$kernel"'","rootfs":"'"$T"'/absent"}' 400 invalid_field rootfs
refuse '{"name":"x","kernel":"'"$kernel"'","initrd":"'"$T"'/adir"}' 400 invalid_field initrd
refuse '{"name":"x","kernel":"'"$kernel"'","vmlinux":"'"$kernel"'"}' 400 invalid_field vmlinux
expect_contains "$(jq -r .detail <<<"$BODY")" "not an uncompressed ELF kernel" "a non-ELF vmlinux says why"
refuse '{"name":"x","kernel":"'"$kernel"'","cmdline":"quiet"}' 400 unknown_field cmdline
refuse '{"name":"Upper","kernel":"'"$kernel"'"}' 400 invalid_name name
refuse '{"name":"'"$(printf 'a%.0s' {1..64})"'","kernel":"'"$kernel"'"}' 400 invalid_name name
refuse '{"name":"x","kernel":5}' 400 invalid_field kernel
refuse '{"name":7,"kernel":"'"$kernel"'"}' 400 invalid_field name
refuse '{"name":"plain","kernel":"'"$kernel"'"}' 409 image_exists
refuse '{"name":"x","kernel":"'"$kernel"'"}' 415 unsupported_media_type "" -H 'Content-Type: text/plain'
refuse '{"name":"x","kernel":"'"$kernel"'"}' 415 unsupported_media_type "" -H 'Content-Type:'
head -c 70000 /dev/zero | tr '\0' a | sed 's/^/{"name":"x","kernel":"/; s/$/"}/' >"$T/big.json"
refuse "" 413 payload_too_large "" --data-binary @"$T/big.json" -H 'Content-Type: application/json'
refuse '{"name":"x",' 400 invalid_json
refuse '[{"name":"x"}]' 400 invalid_json
refuse '"just a string"' 400 invalid_json
if [[ $(id -u) -eq 0 ]]; then
  echo "skip: root reads everything (unreadable kernel check needs a non-root user)"
else
  cp "$kernel" "$T/secret"
  chmod 000 "$T/secret"
  refuse '{"name":"x","kernel":"'"$T"'/secret"}' 400 invalid_field kernel
fi
# None of the refusals left a record behind.
api GET /v1/images/x
expect_problem 404 image_not_found
api GET /v1/images
expect_json '.images | length' 5 "image count after the refusals"

# --- delete
api POST /v1/vms '{"name":"user1","image":"full"}'
expect_status 201 "VM on full"
api DELETE /v1/images/full
expect_problem 409 image_in_use
expect_contains "$(jq -r .detail <<<"$BODY")" user1 "image_in_use detail names the VM"
api GET /v1/images/full
expect_status 200 "image in use is kept"
api DELETE /v1/vms/user1
expect_status 204 "delete the VM"
api DELETE /v1/images/full
expect_status 204 "delete full"
expect_eq "$BODY" "" "204 body"
api GET /v1/images/full
expect_problem 404 image_not_found
api DELETE /v1/images/full
expect_problem 404 image_not_found
api DELETE /v1/images/never-was
expect_problem 404 image_not_found
api GET /v1/images/never-was
expect_problem 404 image_not_found
[[ -f "$kernel" && -f "$rootfs" ]] && pass || fail "deleting an image removed the user's files"

# --- operations
api GET /v1/operations
expect_status 200 "list operations"
expect_json "[.operations[].id] | index(\"$op\") != null" true "the import is listed"
expect_json '.operations | length' 5 "one operation per import"
expect_json '[.operations[].created_at] == ([.operations[].created_at] | sort | reverse)' true \
  "operations newest first"
api GET /v1/operations/op-0000000000000000
expect_problem 404 operation_not_found
api GET /v1/operations/bogus
expect_problem 400 invalid_path
api GET "/v1/operations/$op?wait=abc"
expect_problem 400 invalid_query
api GET "/v1/operations/$op?wait=301"
expect_problem 400 invalid_query
api GET "/v1/operations/$op?wait=-1"
expect_problem 400 invalid_query
api GET "/v1/operations/$op?wait=300"
expect_status 200 "wait=300 on a finished operation"
api GET "/v1/operations/$op?foo=1"
expect_problem 400 invalid_query

# ?wait=0 answers at once, whatever the operation's state.
make_file "$T/bigger" 4096
api POST /v1/images "{\"name\":\"bigger\",\"kernel\":\"$T/bigger\"}"
expect_status 202 "import bigger"
big_op=$(jq -r .id <<<"$BODY")
start=$(date +%s%N)
api GET "/v1/operations/$big_op?wait=0"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
expect_status 200 "wait=0"
expect_json '.state | IN("running","succeeded")' true "state with wait=0"
((elapsed_ms < 2000)) && pass || fail "wait=0 took ${elapsed_ms} ms"
api GET "/v1/operations/$big_op?wait=30"
expect_json .state succeeded "bigger import"
expect_json .result.kernel.sha256 "$(sha "$T/bigger")" "bigger sha256"

stop_daemon
finish
