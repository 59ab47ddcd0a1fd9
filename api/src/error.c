/* SPDX-License-Identifier: MIT */
/* struct bg_error helpers. */
#include "banger/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bg_error_set(struct bg_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int bg_error_errno(struct bg_error *err, const char *fmt, ...)
{
    int e = errno > 0 ? errno : EIO;

    if (err) {
        char head[BG_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(head, sizeof(head), fmt, ap);
        va_end(ap);
        snprintf(err->msg, sizeof(err->msg), "%s: %s", head, strerror(e));
        err->code = -e;
    }
    return -e;
}

int bg_error_prefix(struct bg_error *err, const char *fmt, ...)
{
    if (!err)
        return -EIO;

    char head[BG_ERROR_MSG_MAX];
    char old[BG_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
    return err->code;
}
