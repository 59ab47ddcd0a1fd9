/* SPDX-License-Identifier: MIT */
/* git, run by the CLI on the user's repository: its output read whole. */
#pragma once

#include <stddef.h>

#include "banger/error.h"

/* Run `git -C dir -c core.fsmonitor=false ARGS...` (args NULL-terminated), stderr to
 * /dev/null. Its stdout, NUL-terminated, goes into *ret (caller frees) and its length into
 * *ret_len; *ret_status is git's exit code (128 when it did not exit). Fails with -E2BIG when
 * git writes more than max bytes, or with git's spawn error. */
int bg_cli_git(const char *dir, const char *const *args, size_t max, char **ret, size_t *ret_len,
               int *ret_status, struct bg_error *err);
