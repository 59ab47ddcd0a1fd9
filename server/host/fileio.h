/* SPDX-License-Identifier: MIT */
/* Host files and directories: whole-file reads, the printable tail of a log, mkdir -p, and
 * removing a tree. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"

/* The whole regular file at path, at most max bytes, with a NUL appended (so text can be
 * parsed in place); *ret_len excludes the NUL, *ret is the caller's. -EFBIG when the file is
 * not regular or larger than max, -EIO when it shrank while read, else -errno from open/read. */
int bg_file_read(const char *path, size_t max, char **ret, size_t *ret_len, struct bg_error *err);

/* Write len bytes of data to path as a new file with mode: into a temporary file beside it
 * (created exclusively, so no one else's file is reused), flushed to disk, then renamed over
 * path, so a crash leaves the old file or the new one, never half of it. -errno on failure,
 * with the temporary file removed. */
int bg_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct bg_error *err);

/* The last len - 1 bytes of path into buf, NUL terminated, with every byte that is not
 * printable ASCII or a newline replaced (tab and CR by a space, others by '?'), so the text
 * fits a log line or a JSON string; "" when path cannot be read. */
void bg_file_tail_text(const char *path, char *buf, size_t len);

/* mkdir -p: create path and its missing parents with mode (existing ones are kept).
 * -ENOTDIR when path exists and is not a directory. */
int bg_mkdir_p(const char *path, mode_t mode, struct bg_error *err);

/* Remove path and everything below it, staying on its filesystem (a mount point below it is
 * -EXDEV), following no symlink; an absent path is fine. Iterative, one directory open at a
 * time, so any depth works on any stack. Stops at the first failure (-errno), or 0. */
int bg_rm_tree(const char *path, struct bg_error *err);
