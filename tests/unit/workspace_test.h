/* SPDX-License-Identifier: MIT */
/* Helpers of the workspace tests: shell lines for setting up repositories and listing
 * archives (the tests' own tooling, not banger's), and a sink into a file. Needs <cmocka.h>. */
#pragma once

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/error.h"

#define WS_SH_OUT_MAX (1 << 20)

/* Run a shell line and return its stdout (free()); fails the test when it fails. */
static inline BG_PRINTF(1, 2) char *ws_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = bg_calloc(1, WS_SH_OUT_MAX);
    size_t n = fread(out, 1, WS_SH_OUT_MAX - 1, p);
    out[n] = '\0';
    if (pclose(p) != 0)
        fail_msg("'%s' failed: %s", cmd, out);
    return out;
}

/* ws_sh for a line whose output does not matter. */
#define WS_RUN(...) free(ws_sh(__VA_ARGS__))

static inline bool ws_have_git(void)
{
    return system("git --version >/dev/null 2>&1") == 0;
}

/* A sink into the fd that cls points to. */
static inline int ws_sink_fd(void *cls, const void *buf, size_t len, struct bg_error *err)
{
    int fd = *(int *)cls;

    if (write(fd, buf, len) != (ssize_t)len)
        return bg_error_errno(err, "write");
    return 0;
}

/* git commit with an identity, in repo. */
#define WS_GIT_COMMIT "git -c user.name=t -c user.email=t@t commit -qm"
