/* SPDX-License-Identifier: MIT */
/* Small text files the CLI keeps for the user (ssh config, known_hosts): bounded reads and
 * replacement through a temporary file and rename. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"

/* All of path (at most max bytes) into a new NUL-terminated buffer *ret of *ret_len bytes.
 * -ENOENT when it does not exist, -EFBIG when it is longer than max. */
int bg_cli_file_read(const char *path, size_t max, char **ret, size_t *ret_len,
                     struct bg_error *err);

/* Replace path with len bytes of data, atomically: written to a temporary file beside it,
 * synced, given mode, renamed over it. A symbolic link at path is followed, so the file it
 * points to is replaced and the link stays. 0 or <0 with err. */
int bg_cli_file_replace(const char *path, const char *data, size_t len, mode_t mode,
                        struct bg_error *err);
