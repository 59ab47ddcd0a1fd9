/* SPDX-License-Identifier: MIT */
/* banger vm workspace: put a host git repository at /root/repo in a running VM. */
#pragma once

#include <jansson.h>

#include "args.h"
#include "banger/error.h"

/* POST /v1/vms/{vm}/workspace for repo (any path; made absolute here). mode, from, branch
 * may be NULL. *ret is the answer {"files","bytes","ms"} (may be NULL to drop it). To a remote
 * daemon (which cannot read this host's files) the tracked files go up as a tar (upload.h)
 * instead: copy mode only. */
int bg_cli_workspace_push(const char *socket, const char *vm, const char *repo, const char *mode,
                          const char *from, const char *branch, json_t **ret, struct bg_error *err);

/* The top of the git work tree that holds repo, checked on this host with
 * `git -C REPO rev-parse --show-toplevel`; -ENOTDIR with a clear message when it is not one.
 * *ret is a new string. */
int bg_cli_workspace_check(const char *repo, char **ret, struct bg_error *err);

/* `banger vm workspace NAME REPO [--mode M] [--from REF --branch NAME]`. */
int bg_cli_workspace_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err);
