/* SPDX-License-Identifier: MIT */
/* banger token create|ls|rm: API tokens for remote clients. */
#pragma once

#include "args.h"
#include "banger/error.h"

/* Run the token command in a against the daemon at socket. */
int bg_cli_token_run(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
