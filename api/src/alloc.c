/* SPDX-License-Identifier: MIT */
/* Allocation wrappers that abort on out-of-memory. */
#include "banger/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void oom(void)
{
    static const char msg[] = "banger: out of memory\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    abort();
}

void *bg_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *bg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *bg_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        oom();
    return q;
}

char *bg_strdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        oom();
    return p;
}

char *bg_strndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        oom();
    return p;
}

char *bg_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *p = NULL;

    va_start(ap, fmt);
    int r = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    return p;
}

void bg_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}
