/* SPDX-License-Identifier: MIT */
/* A repository for a remote daemon, which cannot read this host's files: its tracked files
 * (git ls-files, as they are in the work tree) as a tar made here with libarchive, sent with
 * PUT /v1/vms/{name}/files?path=DIR and unpacked in the guest. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "banger/error.h"

#define BG_CLI_UPLOAD_LIST_MAX (64u << 20) /* bytes of `git ls-files -z` output */

/* Write the tar of the tracked files of the work tree at top (its root) into f: a directory
 * entry for each directory on the way, regular files and symlinks as they are now, owned by
 * root; tracked files gone from the work tree and submodules are left out. *ret_files and
 * *ret_bytes count the files and their bytes. */
int bg_cli_upload_tar(const char *top, FILE *f, size_t *ret_files, uint64_t *ret_bytes,
                      struct bg_error *err);

/* Put the tracked files of the work tree at top into dest (an absolute directory) of vm,
 * through the endpoint in use. *ret gets {"files", "bytes", "ms"} (may be NULL). */
int bg_cli_upload_repo(const char *socket, const char *vm, const char *top, const char *dest,
                       json_t **ret, struct bg_error *err);
