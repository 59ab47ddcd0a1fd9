/* SPDX-License-Identifier: MIT */
/* Reading a whole host file into memory. */
#pragma once

#include <stddef.h>

#include "banger/error.h"

/* The whole regular file at path, at most max bytes, with a NUL appended (so text can be
 * parsed in place); *ret_len excludes the NUL, *ret is the caller's. -EFBIG when the file is
 * not regular or larger than max, -EIO when it shrank while read, else -errno from open/read. */
int bg_file_read(const char *path, size_t max, char **ret, size_t *ret_len, struct bg_error *err);
