#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# banger doctor through the real daemon and CLI: GET /v1/system/doctor over a fake host tree
# (doctor_root), its rows and fixes, the install hint of a distribution doctor does not know,
# kvm_pvm, user mode's single WARN, banger doctor's table and --json, and its exit code.
source "$(dirname "$0")/lib.sh"

: "${FAKE_FC:?path to fake-firecracker}"

# A host tree: /dev nodes are links to /dev/null (a character device anyone opens).
root=$T/root
mkdir -p "$root/etc" "$root/dev/net" "$root/proc/sys/net/ipv4" "$root/sys/fs/cgroup" \
  "$root/sys/module/kvm_pvm"
printf 'NAME="Fedora Linux"\nID=fedora\n' >"$root/etc/os-release"
ln -s /dev/null "$root/dev/kvm"
ln -s /dev/null "$root/dev/net/tun"
ln -s /dev/null "$root/dev/vhost-vsock"
echo 0 >"$root/proc/sys/net/ipv4/ip_forward"
echo "cpu memory pids" >"$root/sys/fs/cgroup/cgroup.controllers"

# row NAME FIELD: one field of the check NAME in the last body
row() { jq -r --arg n "$1" ".checks[] | select(.name == \$n) | .$2" <<<"$BODY"; }

# --- a host without Firecracker, on a distribution doctor has no command for
BANGERD_DOCTOR_ROOT=$root BANGERD_FIRECRACKER_PATH=$T/no/firecracker start_daemon
api GET /v1/system/doctor
expect_status 200 "doctor"
expect_json '.checks | length > 10' true "one row per check"
expect_json '[.checks[] | select(.status == "FAIL" and (.fix | not))] | length' 0 \
  "every FAIL has a fix"
expect_json '.summary.fail == ([.checks[] | select(.status == "FAIL")] | length)' true \
  "summary counts the FAILs"
expect_eq "$(row firecracker status)" FAIL "missing firecracker"
expect_eq "$(row firecracker fix)" "see https://github.com/firecracker-microvm/firecracker/releases" \
  "fedora gets only the upstream URL"
expect_eq "$(row kvm status)" WARN "kvm_pvm with accel auto"
expect_contains "$(row kvm detail)" "kvm_pvm, which boots only PVM guest kernels" "kvm_pvm named"
expect_eq "$(row tun status)" PASS "tun"
expect_eq "$(row ip_forward status)" WARN "forwarding off in user mode"
expect_contains "$(row ip_forward fix)" "net.ipv4.ip_forward=1" "forwarding fix"
expect_eq "$(row store status)" PASS "no database under the root"
expect_contains "$(row store detail)" "will be created on first start" "store detail"
expect_eq "$(row privileges status)" WARN "user mode"
expect_contains "$(row privileges detail)" "docs/privileges.md" "user mode points at the docs"
expect_contains "$(row vm_defaults detail)" "2 vCPUs (default)" "defaults with provenance"
json_fails=$(jq .summary.fail <<<"$BODY")
api HEAD /v1/system/doctor
expect_status 200 "HEAD doctor"

run_cli 1 doctor
expect_contains "$OUT" "FAIL  firecracker" "the table's FAIL row"
expect_contains "$OUT" "fix:                 see https://github.com/firecracker-microvm" \
  "the fix under it"
expect_contains "$OUT" "WARN  privileges" "the user-mode row"
expect_contains "$OUT" "$json_fails failed" "the summary line"
run_cli 1 doctor --json
expect_eq "$(jq -r '.checks[] | select(.name == "firecracker") | .status' <<<"$OUT")" FAIL \
  "--json row"
expect_eq "$(jq .summary.fail <<<"$OUT")" "$json_fails" "--json summary"
stop_daemon

# --- the Firecracker the test double pins, on Debian, with forwarding on and hardware KVM:
# the rows this tree decides pass, and the exit code follows the FAILs (programs such as
# qemu and nft are the real host's)
printf 'ID=debian\n' >"$root/etc/os-release"
echo 1 >"$root/proc/sys/net/ipv4/ip_forward"
mkdir -p "$root/sys/module/kvm_intel"
BANGERD_DOCTOR_ROOT=$root BANGERD_FIRECRACKER_PATH=$FAKE_FC start_daemon
api GET /v1/system/doctor
expect_status 200 "doctor, second host"
fc_status=$(row firecracker status)
[[ "$fc_status" == PASS || "$fc_status" == WARN ]] && pass ||
  fail "the double's version is supported: $fc_status $(row firecracker detail)"
expect_eq "$(row kvm status)" PASS "hardware KVM next to kvm_pvm"
expect_eq "$(row ip_forward status)" PASS "forwarding on"
expect_eq "$(row cgroup status)" PASS "cgroup v2 with its controllers"
fails=$(jq .summary.fail <<<"$BODY")
run_cli "$((fails > 0 ? 1 : 0))" doctor
expect_contains "$OUT" "PASS  ip_forward" "the table's PASS row"
stop_daemon

finish
