/* SPDX-License-Identifier: MIT */
/* banger ci gitlab config|prepare|run SCRIPT STAGE|cleanup: a GitLab Runner custom executor
 * driver. The runner calls one stage per process with the job's variables as CUSTOM_ENV_*;
 * every stage derives the same VM name from them, so no state is kept between stages. */
#pragma once

#include <stddef.h>

#include "args.h"
#include "banger/error.h"
#include "banger/validate.h"

/* The stages of the custom executor contract. */
enum bg_cli_ci_stage {
    BG_CLI_CI_CONFIG,
    BG_CLI_CI_PREPARE,
    BG_CLI_CI_RUN,
    BG_CLI_CI_CLEANUP,
};

#define BG_CLI_CI_SUBSTAGE_MAX 64   /* bytes of a run sub-stage name ("step_script") */
#define BG_CLI_CI_BUILD_FALLBACK 1  /* exit code of a failed script without the runner's */
#define BG_CLI_CI_SYSTEM_FALLBACK 2 /* exit code of a banger failure without the runner's */

/* Check the words after `ci gitlab`: STAGE, and for run SCRIPT and SUBSTAGE (NULL when not
 * given); given says whether prepare's flags (--image, sizes, --nat) came. Returns 0 with
 * *ret_stage, or -EINVAL with a usage message. */
int bg_cli_ci_args_check(const char *stage, const char *script, const char *substage, bool given,
                         enum bg_cli_ci_stage *ret_stage, struct bg_error *err);

/* A run sub-stage name as the runner passes it: 1..BG_CLI_CI_SUBSTAGE_MAX bytes of [a-z0-9_]
 * (it names the script's file in the guest). Returns 0 or -EINVAL. */
int bg_cli_ci_substage_validate(const char *name, struct bg_error *err);

/* The VM name of a job: "ci-JOB", with "-rRUNNER" and "-pPROJECT" when the runner's ID and
 * the concurrent project ID are given (non-NULL, non-empty), so concurrent jobs of runners
 * sharing a daemon do not collide. Each ID is decimal digits (a u64). Into buf. Returns 0;
 * -EINVAL naming the variable (a missing or malformed ID); -ENAMETOOLONG past BG_NAME_MAX. */
int bg_cli_ci_vm_name(const char *job_id, const char *runner_id, const char *project_id,
                      char buf[BG_NAME_MAX + 1], struct bg_error *err);

/* An exit code the runner gives in variable var (BUILD_FAILURE_EXIT_CODE...): value NULL or
 * empty gives fallback; otherwise 1..255 in decimal. Returns 0 with *ret, or -EINVAL (and
 * *ret = fallback) with err naming var. */
int bg_cli_ci_exit_code(const char *var, const char *value, int fallback, int *ret,
                        struct bg_error *err);

/* `banger ci gitlab ...`: the stage's exit code for the runner: 0, the build failure code
 * (run: the script failed), or the system failure code (banger, the daemon or the VM failed;
 * the message is on stderr); negative only for a line bg_cli_args_parse refuses. */
int bg_cli_ci_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
