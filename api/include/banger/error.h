/* SPDX-License-Identifier: MIT */
/* One error pattern everywhere: negative errno returned, a human message alongside. */
#pragma once

#include "banger/macro.h"

#define BG_ERROR_MSG_MAX 512

/* Filled only on failure. code equals the negative errno the function returned. */
struct bg_error {
    int code;                   /* negative errno */
    char msg[BG_ERROR_MSG_MAX]; /* human-readable, no trailing newline */
};

/* Record code (a negative errno) and a message; returns code. err may be NULL. */
BG_PUBLIC int bg_error_set(struct bg_error *err, int code, const char *fmt, ...) BG_PRINTF(3, 4);
/* Like bg_error_set with code = -errno and ": strerror" appended; returns -errno. */
BG_PUBLIC int bg_error_errno(struct bg_error *err, const char *fmt, ...) BG_PRINTF(2, 3);
/* Prepend "context: " to the message; returns err->code (or -EIO if err is NULL). */
BG_PUBLIC int bg_error_prefix(struct bg_error *err, const char *fmt, ...) BG_PRINTF(2, 3);
