#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The TypeScript client (clients/typescript: types generated from openapi.yaml, openapi-fetch,
# undici) against a real bangerd: its pinned packages installed with npm ci, the types
# generated and the client and its tests type-checked by tsc, then node's test runner drives
# the daemon over the unix socket and over TCP with TLS 1.3 and tokens (register an image,
# create, start, one-shot exec, events, delete, and the 401/403/404/409/400 refusals). The
# VMM is the Firecracker test double, whose guest is the real agent on this host, so no VM
# boots. The client's exchanges are recorded for the contract check like lib.sh's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_tls.sh"

command -v node >/dev/null || skip "node is not installed (scripts/bootstrap installs nodejs)"
command -v npm >/dev/null || skip "npm is not installed (scripts/bootstrap installs npm)"
BUILD=$(dirname "$BANGERD")/..
FAKE=${BANGER_FAKE_FIRECRACKER:-$BUILD/tests/fakes/fake-firecracker}
AGENT=${BANGER_AGENT:-$BUILD/agent/banger-agent}
[[ -x "$FAKE" ]] || skip "the Firecracker test double is not built ($FAKE)"
[[ -x "$AGENT" ]] || skip "banger-agent is not built ($AGENT)"
CLIENT=$(cd "$(dirname "$0")/../../clients/typescript" && pwd)

# npm ci when node_modules is older than the lockfile; serialised like tests/contract/run.sh.
install_client() {
  local stamp=$CLIENT/node_modules/.package-lock.json
  if [[ -f "$stamp" && ! "$CLIENT/package-lock.json" -nt "$stamp" && ! "$CLIENT/package.json" -nt "$stamp" ]]; then
    return 0
  fi
  (cd "$CLIENT" && npm ci --no-audit --no-fund --loglevel=error)
}
exec 9>"${TMPDIR:-/tmp}/banger-ts-client-npm-$(id -u).lock"
flock 9
if install_client >"$T/npm.out" 2>&1 && (cd "$CLIENT" && npm run build) >>"$T/npm.out" 2>&1; then
  pass
else
  cat "$T/npm.out" >&2
  fail "npm ci and the build (openapi-typescript, tsc) of clients/typescript"
  finish
  exit 1
fi
flock -u 9
exec 9>&-

export BANGER_AGENT=$AGENT
printf '#!/bin/sh\nexec %q --fake-agent %q --fake-mode none "$@"\n' "$FAKE" "$AGENT" >"$T/fc"
chmod +x "$T/fc"
printf '\177ELF\002\001\001' >"$T/vmlinux"
head -c 4096 /dev/zero >>"$T/vmlinux"
BANGERD_VMM=firecracker BANGERD_FIRECRACKER_PATH=$T/fc BANGERD_FIRECRACKER_KVM_CHECK=false \
  tls_start_daemon

if BANGER_SOCKET=$SOCK BANGER_TCP_URL="https://$TLS_ADDR" BANGER_CERT=$TLS_CERT BANGER_FP=$TLS_FP \
  BANGER_KERNEL=$T/vmlinux BANGER_RECORDS=$RECORDS \
  node --test --test-reporter=tap "$CLIENT/dist/test/client.test.js" >"$T/node.out" 2>&1; then
  pass
else
  fail "node --test clients/typescript/dist/test/client.test.js"
fi
cat "$T/node.out"
for want in '# fail 0' 'ok 1 - over the unix socket' 'ok 2 - over TCP with TLS 1.3 and a token'; do
  expect_contains "$(cat "$T/node.out")" "$want" "node's test report"
done
expect_no_vm_left
stop_daemon
expect_eq "$DAEMON_RC" 0 "bangerd exits cleanly after the client's tests"
finish
