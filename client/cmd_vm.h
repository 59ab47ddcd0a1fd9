/* SPDX-License-Identifier: MIT */
/* `banger vm ls|create|show|set|rm`. */
#pragma once

#include "args.h"
#include "banger/error.h"

/* Run the parsed VM command a against the daemon at socket; prints to stdout.
 * Returns 0, or a negative errno with err set (the caller prints it). */
int bg_cli_vm_run(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
