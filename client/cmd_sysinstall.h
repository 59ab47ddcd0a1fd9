/* SPDX-License-Identifier: MIT */
/* `banger system install` and `banger system uninstall`: apply the plan (sysplan.h) to / or
 * to a --root tree, or print it (--dry-run). */
#pragma once

#include "args.h"
#include "banger/error.h"

/* Print what changed, what was already so and what could not be done, on stdout. -EPERM when
 * not root without --root or --dry-run, -EINVAL for an unknown owner or a bad --root, or the
 * -errno of the first file that could not be written. */
int bg_cli_system_install(const struct bg_cli_args *a, struct bg_error *err);
int bg_cli_system_uninstall(const struct bg_cli_args *a, struct bg_error *err);
