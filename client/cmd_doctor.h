/* SPDX-License-Identifier: MIT */
/* banger doctor: the daemon's checks of its host, one row each. */
#pragma once

#include "args.h"
#include "banger/error.h"

/* GET /v1/system/doctor, printed (or its JSON with --json). Returns 0, 1 when a check FAILed
 * (the exit status), or -errno with err when the daemon could not be asked. */
int bg_cli_doctor_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
