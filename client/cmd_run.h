/* SPDX-License-Identifier: MIT */
/* banger vm run: create + start a VM, copy a repository in, run a command, optionally delete
 * the VM (also on Ctrl-C), and say where the time went. */
#pragma once

#include "args.h"
#include "banger/error.h"

#define BG_CLI_RUN_INTERRUPTED 130 /* exit code after Ctrl-C, as a shell reports SIGINT */

/* Returns the command's status (>= 0) for the process exit code, 130 when interrupted (the
 * VM then deleted with --rm), or a negative errno with err set. */
int bg_cli_run_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
