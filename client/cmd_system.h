/* SPDX-License-Identifier: MIT */
/* `banger version` and `banger system info`. */
#pragma once

#include "args.h"
#include "banger/error.h"

/* Print the client version, then the daemon's (GET /v1/system/version). The client version
 * is printed even when the daemon cannot be reached; the error is then returned. */
int bg_cli_system_version(const char *socket, const struct bg_cli_args *a, struct bg_error *err);

/* Print GET /v1/system/info: key facts, then a KEY VALUE SOURCE table of the config. */
int bg_cli_system_info(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
