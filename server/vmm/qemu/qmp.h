/* SPDX-License-Identifier: MIT */
/* A minimal QMP client: connect, negotiate capabilities, run one command without arguments. */
#pragma once

#include "banger/error.h"

/* Replies longer than this are refused (QMP answers here are small). */
#define BG_QMP_LINE_MAX 65536

/* Connect to the QMP socket at path, read the greeting and leave capabilities negotiation
 * done, all within timeout_ms. *ret_fd is the connection (O_CLOEXEC). Returns 0 or -errno. */
int bg_qmp_connect(const char *path, int timeout_ms, int *ret_fd, struct bg_error *err);

/* Send {"execute":command} on fd and wait up to timeout_ms for its "return" (events are
 * skipped). An "error" answer is -EIO with its description; for "quit" the connection
 * closing counts as success. */
int bg_qmp_execute(int fd, const char *command, int timeout_ms, struct bg_error *err);
