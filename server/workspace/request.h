/* SPDX-License-Identifier: MIT */
/* The body of POST /v1/vms/{name}/workspace, decoded once at the edge into a typed request. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "banger/error.h"
#include "banger/problem.h"

#define BG_WORKSPACE_REF_MAX 255 /* bytes of "from" and "branch" */

/* A validated request; strings owned. */
struct bg_workspace_request {
    char *path;   /* absolute path of the repository (or a directory inside it) */
    bool clone;   /* mode "clone": full history; "copy" (default): tracked files as they are */
    char *from;   /* clone only: the commit-ish to branch from, or NULL */
    char *branch; /* clone only: the branch to create at from (HEAD without from), or NULL */
};

/* Decode body strictly into *ret (the caller's on success, release with
 * bg_workspace_request_done). Refusals, all -EINVAL with f and err set: an unknown member, a
 * missing or relative path, a mode other than "copy"/"clone", "from" without "branch" (field
 * "branch"), a "from" that is not a plain revision (letters, digits, ".", "_", "/", "-", "~",
 * "^", "@"), a "branch" that git would not take as a branch name, and from/branch in copy
 * mode. Nothing the input holds reaches a message unquoted. */
int bg_workspace_request_decode(const json_t *body, struct bg_workspace_request *ret,
                                struct bg_field_error *f, struct bg_error *err);

/* Free what r owns and zero it; accepts a zeroed r. */
void bg_workspace_request_done(struct bg_workspace_request *r);
