/* SPDX-License-Identifier: MIT */
/* banger remote add|ls|rm: the remote daemons this CLI talks to. */
#pragma once

#include "args.h"
#include "banger/error.h"

/* Run the remote command in a (it talks to no daemon but the one it adds). */
int bg_cli_remote_run(const struct bg_cli_args *a, struct bg_error *err);
