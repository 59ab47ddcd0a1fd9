#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# banger ci gitlab, driven the way GitLab Runner's custom executor drives a driver (its
# documented contract): every stage is its own process with the job's variables as
# CUSTOM_ENV_*, BUILD_FAILURE_EXIT_CODE and SYSTEM_FAILURE_EXIT_CODE set; config, prepare,
# then run SCRIPT SUB_STAGE once per sub-stage with a script the runner wrote on the host,
# then cleanup (also after a failure or a cancel). First what needs no VM (refusals, config,
# cleanup of a VM that is not there); then, where a VM can boot, four VMs: a passing job, a
# failing job whose prepare is retried, and a cancelled job (SIGTERM, then SIGTERM ignored and
# SIGKILL). No gitlab-runner binary is used: this is the contract as its docs state it.
source "$(dirname "$0")/lib.sh"

start_daemon
export BUILD_FAILURE_EXIT_CODE=41 SYSTEM_FAILURE_EXIT_CODE=42
unset CUSTOM_ENV_BANGER_IMAGE CUSTOM_ENV_CI_JOB_ID CUSTOM_ENV_CI_RUNNER_ID \
  CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID
mkdir -p "$T/scripts"

# ci EXPECTED_RC STAGE ARGS...: one stage, as the runner runs it
ci() {
  local want=$1
  shift
  run_cli "$want" ci gitlab "$@"
}

# script NAME BODY: a script as the runner writes one (bash, errexit, the job's variables)
script() {
  {
    echo '#!/usr/bin/env bash'
    echo 'set -eo pipefail'
    echo "export CI_JOB_ID=$CUSTOM_ENV_CI_JOB_ID CI_PROJECT_DIR=/builds/group/project"
    printf '%s\n' "$2"
  } >"$T/scripts/$1"
  echo "$T/scripts/$1"
}

# --- without a VM ---
ci 42 config
expect_contains "$ERR" "CUSTOM_ENV_CI_JOB_ID is not set"
CUSTOM_ENV_CI_JOB_ID=12x ci 42 prepare
expect_contains "$ERR" "CUSTOM_ENV_CI_JOB_ID '12x'"
CUSTOM_ENV_CI_JOB_ID=5 CUSTOM_ENV_CI_RUNNER_ID=r1 ci 42 cleanup
expect_contains "$ERR" "CUSTOM_ENV_CI_RUNNER_ID 'r1'"
# a malformed failure code is said, and the fallback (2) used
CUSTOM_ENV_CI_JOB_ID=5 SYSTEM_FAILURE_EXIT_CODE=300 ci 2 run /nonexistent step_script
expect_contains "$ERR" "SYSTEM_FAILURE_EXIT_CODE '300'"
ci 2 run /tmp/x "../etc"
expect_contains "$ERR" "only hold letters"
ci 2 cleanup --image default
expect_contains "$ERR" "only go with 'prepare'"

# bash completion knows the stages and prepare's flags
completion=$(cd "$(dirname "$0")/../../client" && pwd)/banger.bash-completion
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));
    _banger 2>/dev/null; printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
expect_eq "$(complete_words banger ci "")" $'gitlab\n--help' "'banger ci ' completion"
expect_eq "$(complete_words banger ci gitlab "" | tr '\n' ' ')" "config prepare run cleanup " \
  "'banger ci gitlab ' completion"
expect_eq "$(complete_words banger ci gitlab prepare --im)" --image "'--im' completion"

export CUSTOM_ENV_CI_RUNNER_ID=7 CUSTOM_ENV_CI_CONCURRENT_PROJECT_ID=0 CUSTOM_ENV_CI_JOB_ID=1001
ci 0 config
expect_json_text() { expect_eq "$(jq -r "$1" <<<"$OUT")" "$2" "config $1"; }
expect_json_text .builds_dir /builds
expect_json_text .cache_dir /cache
expect_json_text .builds_dir_is_shared false
expect_json_text .hostname ci-1001-r7-p0
expect_json_text .driver.name banger
expect_json_text '.driver.version | length > 0' true
expect_json_text .job_env.BANGER_CI_VM ci-1001-r7-p0
# the cleanup of a VM that is not there does not fail the job
ci 0 cleanup
expect_contains "$OUT" "vm 'ci-1001-r7-p0' was already gone"
# run without a VM: banger's failure, not the script's
ci 42 run "$(script s0 'true')" step_script
expect_contains "$ERR" "ci-1001-r7-p0"
CUSTOM_ENV_BANGER_IMAGE=nosuch ci 42 prepare
expect_contains "$ERR" "nosuch"
CUSTOM_ENV_BANGER_IMAGE='Bad!' ci 42 prepare
expect_contains "$ERR" "CUSTOM_ENV_BANGER_IMAGE 'Bad!'"
api GET /v1/vms
expect_json '.vms | length' 0 "no VM from the refused prepares"

if ! why=$(need_vm); then
  echo "${why/SKIP:/SKIP (the jobs that boot VMs):}"
  finish
  exit
fi
need_vm
build_default_image

# guest_count VM CMDLINE: how many processes in VM run exactly CMDLINE (from /proc: busybox's
# ps may lack -o)
guest_count() {
  local sh="for p in /proc/[0-9]*; do tr '\\0' ' ' <\$p/cmdline 2>/dev/null; echo; done | grep -c '^$2 \$' || true"
  api POST "/v1/vms/$1/exec" "$(jq -cn --arg sh "$sh" '{cmd: ["sh", "-c", $sh]}')"
  jq -r .stdout <<<"$BODY"
}
no_guest_process() { [[ "$(guest_count "$1" "$2")" == 0 ]]; }

# --- job 1001: passes ---
VM=ci-1001-r7-p0
ci 0 prepare
expect_contains "$OUT" "vm '$VM' is running (image default)"
api GET "/v1/vms/$VM"
expect_json .auto_remove false "cleanup owns the VM"
ci 0 run "$(script prepare 'echo "Running on $(hostname)"; command -v bash || echo no-bash')" \
  prepare_script
if [[ "$OUT" == *no-bash* ]]; then
  echo "note: the minimal image has no bash; the scripts ran with sh"
  expect_contains "$ERR" "no bash in this image"
fi
ci 0 run "$(script sources 'mkdir -p "$CI_PROJECT_DIR"; echo hello >"$CI_PROJECT_DIR/README"')" \
  get_sources
ci 0 run "$(script step 'cd "$CI_PROJECT_DIR"; cat README; echo "to stderr" >&2
echo "job $CI_JOB_ID ok"')" step_script
expect_contains "$OUT" "hello"
expect_contains "$OUT" "job 1001 ok"
expect_contains "$ERR" "to stderr"
ci 0 run "$(script after 'echo after-ran')" after_script
expect_contains "$OUT" "after-ran"
ci 0 run "$(script cleanvars 'rm -rf "$CI_PROJECT_DIR.tmp"')" cleanup_file_variables
ci 0 cleanup
expect_contains "$OUT" "deleted vm '$VM'"
api GET "/v1/vms/$VM"
expect_problem 404 vm_not_found

# --- job 1002: prepare retried, then the script fails ---
export CUSTOM_ENV_CI_JOB_ID=1002
VM=ci-1002-r7-p0
ci 0 prepare
ci 0 run "$(script mark 'mkdir -p /builds; touch /builds/marker')" prepare_script
# the runner retries prepare (or an earlier attempt was killed): the VM is replaced
ci 0 prepare
expect_contains "$OUT" "removed vm '$VM' left by an earlier attempt"
ci 0 run "$(script fresh 'test ! -e /builds/marker')" prepare_script
ci 41 run "$(script fail 'echo failing; exit 3; echo not-reached')" step_script
expect_contains "$OUT" "failing"
if [[ "$OUT" == *not-reached* ]]; then fail "the script went on after exit 3"; else pass; fi
# after_script runs after a failure, and the job's cleanup still happens
ci 0 run "$(script after2 'echo after-failure')" after_script
expect_contains "$OUT" "after-failure"
ci 0 cleanup

# --- job 1003: cancelled ---
export CUSTOM_ENV_CI_JOB_ID=1003
VM=ci-1003-r7-p0
ci 0 prepare
started() { grep -qs started "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
# SIGTERM: the script's process group in the guest ends, and so does run
"$BANGER" ci gitlab run "$(script long 'echo started; sleep 4242; echo never')" step_script \
  >"$T/run1.out" 2>"$T/run1.err" &
pid=$!
wait_until 60 started "$T/run1.out" && pass || fail "the script did not start: $(cat "$T/run1.err")"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
expect_eq "$rc" 41 "run after SIGTERM: the script was ended (build failure)"
if grep -q never "$T/run1.out"; then fail "the script went on after SIGTERM"; else pass; fi
wait_until 20 no_guest_process "$VM" "sleep 4242" && pass || fail "sleep 4242 left in the guest"
# a script that ignores SIGTERM: the runner sends SIGKILL after its graceful_kill_timeout; the
# daemon then ends the command, since its connection closed
"$BANGER" ci gitlab run "$(script stubborn "trap '' TERM; echo started; sleep 4343")" \
  step_script >"$T/run2.out" 2>"$T/run2.err" &
pid=$!
wait_until 60 started "$T/run2.out" && pass || fail "the script did not start: $(cat "$T/run2.err")"
kill -TERM "$pid"
if wait_until 3 gone "$pid"; then fail "run ended on SIGTERM though the script ignores it"; else pass; fi
kill -KILL "$pid"
wait "$pid" || true
wait_until 20 no_guest_process "$VM" "sleep 4343" && pass || fail "sleep 4343 left in the guest"
ci 0 cleanup
expect_contains "$OUT" "deleted vm '$VM'"
expect_no_vm_left

finish
