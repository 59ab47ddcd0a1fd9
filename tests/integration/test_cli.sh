#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The banger CLI against a real bangerd: each command's output and --json, exit codes
# (0 done, 1 the daemon refused or is unreachable, 2 bad usage), one-line errors, --help
# everywhere, how the socket is chosen, and the bash completion script.
source "$(dirname "$0")/lib.sh"

completion=$(cd "$(dirname "$0")/../../client" && pwd)/banger.bash-completion
mkdir -p "$T/work"
kernel=$T/work/vmlinuz
make_file "$kernel" 64
kernel_abs=$(cd "$T/work" && pwd -P)/vmlinuz

# one_line TEXT: the text is exactly one line starting "banger: ".
one_line() {
  [[ "$1" == "banger: "* && "$1" != *$'\n'* ]] && pass || fail "${2:-stderr} is not one 'banger: ' line: '$1'"
}
# valid_json TEXT WHAT: TEXT parses as one JSON value.
valid_json() { jq -e . >/dev/null 2>&1 <<<"$1" && pass || fail "$2: not JSON: '${1:0:200}'"; }

# --- without a daemon
BANGER_SOCKET=$T/nothing.sock run_cli 1 vm ls
one_line "$ERR" "unreachable daemon"
expect_contains "$ERR" "cannot reach bangerd" "unreachable daemon"
expect_contains "$ERR" "start it" "unreachable daemon"
expect_contains "$ERR" "$T/nothing.sock" "unreachable daemon names the socket"
expect_eq "$OUT" "" "stdout with no daemon"
run_cli 0 --version
expect_contains "$OUT" "0." "client version without a daemon"

start_daemon

# --- version and system info
run_cli 0 version
expect_contains "$OUT" "client: " "version"
expect_contains "$OUT" "daemon: " "version"
expect_contains "$OUT" "api v1" "version"
run_cli 0 --json version
valid_json "$OUT" "--json version"
expect_eq "$(jq -r .api_version <<<"$OUT")" v1 "--json version api_version"

run_cli 0 system info
expect_contains "$OUT" "$SOCK" "system info socket"
expect_contains "$OUT" "SOURCE" "system info SOURCE column"
expect_contains "$OUT" "vm_default_vcpus" "system info config keys"
run_cli 0 system info --json
valid_json "$OUT" "system info --json"
expect_eq "$(jq -r .socket <<<"$OUT")" "$SOCK" "system info --json socket"

# --- images: a relative kernel path is made absolute; import waits
pushd "$T/work" >/dev/null || exit 1
run_cli 0 image import base --kernel vmlinuz
popd >/dev/null || exit 1
out=$OUT
expect_contains "$out" "base" "import prints the image"
expect_contains "$out" "ready" "import waits until ready"
expect_contains "$out" "$kernel_abs" "import prints the absolute kernel path"
api GET /v1/images/base
expect_json .state ready "image after the CLI import"
expect_json .kernel.path "$kernel_abs" "the relative path was made absolute"
expect_json .kernel.sha256 "$(sha256sum "$kernel" | cut -d' ' -f1)" "kernel hash"
run_cli 0 image import other --kernel "$kernel" --json
valid_json "$OUT" "image import --json"
expect_eq "$(jq -r .state <<<"$OUT")" ready "image import --json waits"

run_cli 0 image ls
expect_contains "$(head -n1 <<<"$OUT")" NAME "image ls header"
expect_contains "$OUT" base "image ls"
expect_contains "$OUT" other "image ls"
run_cli 0 --json image ls
valid_json "$OUT" "--json image ls"
expect_eq "$(jq -r '[.images[].name] | join(",")' <<<"$OUT")" base,other "--json image ls names"
run_cli 0 image show base
expect_contains "$OUT" "$kernel_abs" "image show"
expect_contains "$OUT" ready "image show"
run_cli 0 image show base --json
valid_json "$OUT" "image show --json"
expect_eq "$(jq -r .name <<<"$OUT")" base "image show --json name"

# --- VMs
run_cli 0 vm create web --image base
expect_contains "$OUT" web "vm create"
expect_contains "$OUT" "2 vcpus" "vm create prints default vcpus"
expect_contains "$OUT" "1024 MiB" "vm create prints default memory"
expect_contains "$OUT" "8192 MiB" "vm create prints default disk"
run_cli 0 vm create db --image other --vcpus 3 --memory 2048 --disk 1024 --nat --json
valid_json "$OUT" "vm create --json"
expect_eq "$(jq -r '[.vcpus,.memory_mib,.disk_mib,.nat] | map(tostring) | join(",")' <<<"$OUT")" \
  "3,2048,1024,true" "vm create with every flag"

run_cli 0 vm ls
expect_contains "$(head -n1 <<<"$OUT")" NAME "vm ls header"
expect_eq "$(tail -n +2 <<<"$OUT" | awk '{print $1}' | paste -sd,)" db,web "vm ls rows"
run_cli 0 vm ls --state created
expect_contains "$OUT" web "vm ls --state created"
run_cli 0 vm ls --state running
[[ "$OUT" != *web* ]] && pass || fail "vm ls --state running lists web: $OUT"
run_cli 0 vm ls --json
valid_json "$OUT" "vm ls --json"
expect_eq "$(jq -r '.vms | length' <<<"$OUT")" 2 "vm ls --json count"
run_cli 0 vm ls --state created --json
expect_eq "$(jq -r '.vms | length' <<<"$OUT")" 2 "vm ls --state created --json"
run_cli 0 vm show web
expect_contains "$OUT" base "vm show image"
expect_contains "$OUT" created "vm show state"
run_cli 0 --json vm show web
valid_json "$OUT" "--json vm show"
expect_eq "$(jq -r .vcpus <<<"$OUT")" 2 "vm show --json vcpus"

run_cli 0 vm set web --vcpus 4
expect_contains "$OUT" "4 vcpus" "vm set prints the change"
api GET /v1/vms/web
expect_json .vcpus 4 "vm set reached the daemon"
run_cli 0 vm set web --nat --memory 4096
api GET /v1/vms/web
expect_json '[.nat, .memory_mib] | map(tostring) | join(",")' "true,4096" "vm set --nat --memory"
run_cli 0 vm set web --no-nat
api GET /v1/vms/web
expect_json .nat false "vm set --no-nat"

# --- the daemon's refusals: exit 1, one line with its detail
run_cli 1 vm show missing
one_line "$ERR" "vm show missing"
expect_contains "$ERR" missing "vm show missing names the VM"
expect_eq "$OUT" "" "stdout of a refused command"
[[ "$ERR" != *HTTP* && "$ERR" != *"{"* ]] && pass || fail "raw HTTP or JSON in '$ERR'"
run_cli 1 vm set web --disk 600
one_line "$ERR" "disk shrink"
expect_contains "$ERR" "only grow" "disk shrink"
run_cli 1 vm create web --image base
one_line "$ERR" "duplicate VM"
run_cli 1 vm create nope --image nosuch
one_line "$ERR" "unknown image"
run_cli 1 image rm base
one_line "$ERR" "image in use"
expect_contains "$ERR" web "image in use names the VM"
run_cli 1 image import bad --kernel "$T/work/absent"
one_line "$ERR" "import of a missing file"
run_cli 1 --json vm show missing
one_line "$ERR" "--json vm show missing"

# --- bad usage: exit 2
run_cli 2 vm create web2 --image base --bogus
expect_contains "$ERR" "--bogus" "unknown flag"
run_cli 2 vm create
run_cli 2 vm show
run_cli 2 vm show a b
run_cli 2 image import x
run_cli 2 vm create web2 --image base --vcpus abc
expect_contains "$ERR" abc "--vcpus abc"
run_cli 2 vm create web2 --image base --vcpus 0
run_cli 2 vm set web --vcpus
run_cli 2 vm create Web2 --image base
expect_contains "$ERR" Web2 "invalid name"
run_cli 2 vm show a_b
run_cli 2 bogus
run_cli 2 vm bogus
run_cli 2 vm ls --state bogus
run_cli 2 --socket
api GET /v1/vms/web2
expect_problem 404 vm_not_found

# --- --help on every command and group
run_cli 0 --help
expect_contains "$OUT" Usage "banger --help"
mapfile -t commands < <(awk '/^Commands:/ {c = 1; next} c && /^$/ {c = 0} c {
  s = ""; for (i = 1; i <= NF && $i ~ /^[a-z][a-z-]*$/; i++) s = s (s ? " " : "") $i; if (s) print s }' \
  <<<"$OUT")
((${#commands[@]} >= 12)) && pass || fail "banger --help lists ${#commands[@]} commands"
declare -A groups=()
for c in "${commands[@]}"; do
  read -ra words <<<"$c"
  run_cli 0 "${words[@]}" --help
  expect_contains "$OUT" Usage "banger $c --help"
  ((${#words[@]} > 1)) && groups[${words[0]}]=1
done
for g in "${!groups[@]}"; do
  run_cli 0 "$g" --help
  expect_contains "$OUT" Usage "banger $g --help"
  expect_contains "$OUT" Commands "banger $g --help"
done
run_cli 0 help vm
expect_contains "$OUT" Usage "banger help vm"
run_cli 0 vm create -h
expect_contains "$OUT" "--vcpus" "vm create -h"

# --- events
rc=0
timeout 2 "$BANGER" --json events --since 0 >"$T/events" 2>"$T/events.err" || rc=$?
expect_eq "$rc" 124 "events follows until stopped"
expect_eq "$(grep -v '^$' "$T/events" | jq -s 'length > 0 and all(.seq > 0)')" true \
  "--json events lines are events"
expect_eq "$(grep -v '^$' "$T/events" | jq -r 'select(.type == "vm.created") | .subject' | paste -sd,)" \
  /v1/vms/web,/v1/vms/db "events shows the VM creations"

# --- delete
run_cli 0 vm rm web
expect_contains "$OUT" web "vm rm"
run_cli 1 vm show web
one_line "$ERR" "vm show after rm"
run_cli 0 vm rm db
run_cli 1 vm rm db
one_line "$ERR" "vm rm twice"
run_cli 0 image rm base
expect_contains "$OUT" base "image rm"
run_cli 0 image rm other
run_cli 0 --json image ls
expect_eq "$(jq -r '.images | length' <<<"$OUT")" 0 "images after rm"
run_cli 0 --json vm ls
expect_eq "$(jq -r '.vms | length' <<<"$OUT")" 0 "VMs after rm"

# --- bash completion
bash_out=$(bash -c 'set -u; source "$1" && type _banger >/dev/null && complete -p banger' _ "$completion" 2>&1) &&
  pass || fail "completion script does not source cleanly: $bash_out"
expect_contains "$bash_out" "_banger" "complete -p banger"
complete_words() { # completions for the words "$@" (the last one is the word being completed)
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));
    _banger 2>/dev/null; printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
got=$(complete_words banger vm "")
grep -qx create <<<"$got" && pass || fail "'banger vm ' completes to '$got', lacking create"
grep -qx ls <<<"$got" && pass || fail "'banger vm ' completion lacks ls"
got=$(complete_words banger "")
grep -qx image <<<"$got" && pass || fail "'banger ' completion lacks image: '$got'"
got=$(complete_words banger vm create --v)
expect_eq "$got" --vcpus "'banger vm create --v' completion"
run_cli 0 image import comp --kernel "$kernel"
run_cli 0 vm create comp-vm --image comp
got=$(complete_words "$BANGER" vm show "")
expect_eq "$got" comp-vm "'banger vm show ' completes VM names"
got=$(complete_words "$BANGER" vm create x --image "")
expect_eq "$got" comp "'--image ' completes image names"
stop_daemon

# --- choosing the socket: --socket beats BANGER_SOCKET, which beats the default
SOCK=$T/alt.sock
start_daemon --socket "$SOCK"
run_cli 1 vm ls
expect_contains "$ERR" "cannot reach bangerd" "default socket while the daemon is elsewhere"
run_cli 0 --socket "$SOCK" vm ls
expect_contains "$OUT" comp-vm "--socket"
run_cli 0 vm ls --socket "$SOCK"
expect_contains "$OUT" comp-vm "--socket after the command"
BANGER_SOCKET=$SOCK run_cli 0 vm ls
expect_contains "$OUT" comp-vm "BANGER_SOCKET"
BANGER_SOCKET=$T/nothing.sock run_cli 0 --socket "$SOCK" vm ls
expect_contains "$OUT" comp-vm "--socket beats BANGER_SOCKET"
BANGER_SOCKET=$SOCK run_cli 1 --socket "$T/nothing.sock" vm ls
one_line "$ERR" "--socket to nothing"
stop_daemon

finish
