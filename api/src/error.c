/* SPDX-License-Identifier: MIT */
/* struct bg_error helpers: messages are always well-formed UTF-8. */
#include "banger/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "banger/utf8.h"

bool bg_error_is_problem(int code, enum bg_problem *ret_problem)
{
    int p = -code - BG_ERR_BASE;

    if (p < 0 || p >= BG_PROBLEM_COUNT_)
        return false;
    if (ret_problem)
        *ret_problem = (enum bg_problem)p;
    return true;
}

int bg_error_set(struct bg_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        (void)bg_utf8_vformat(err->msg, sizeof(err->msg), fmt, ap);
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
        (void)bg_utf8_vformat(head, sizeof(head), fmt, ap);
        va_end(ap);
        (void)bg_utf8_format(err->msg, sizeof(err->msg), "%s: %s", head, strerror(e));
        err->code = -e;
    }
    return -e;
}

int bg_error_prefix(struct bg_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;

    char head[BG_ERROR_MSG_MAX];
    char old[BG_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)bg_utf8_vformat(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    (void)bg_utf8_format(err->msg, sizeof(err->msg), "%s: %s", head, old);
    err->code = code;
    return code;
}
