/* SPDX-License-Identifier: MIT */
/* Compiler helpers shared by every banger program: visibility, cleanup attributes. */
#pragma once

#include <stdlib.h>
#include <unistd.h>

/* Symbols exported from libbanger; everything else is hidden. */
#define BG_PUBLIC __attribute__((visibility("default")))

/* Internal functions that unit tests reach: static unless this is a test build. */
#ifdef BANGER_TESTING
#define BG_TESTABLE
#else
#define BG_TESTABLE static
#endif

#define BG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define BG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Run func(&var) when var leaves scope. */
#define bg_auto(func) __attribute__((cleanup(func)))

static inline void bg_freep(void *p)
{
    free(*(void **)p);
}

static inline void bg_closep(int *fd)
{
    if (*fd >= 0)
        (void)close(*fd);
}

#define bg_autofree bg_auto(bg_freep)
#define bg_autoclose bg_auto(bg_closep)

/* Hand ownership of *pp to the caller and disarm its cleanup. */
static inline void *bg_steal_ptr_impl(void **pp)
{
    void *p = *pp;
    *pp = NULL;
    return p;
}
#define bg_steal_ptr(pp) bg_steal_ptr_impl((void **)(pp))

static inline int bg_steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}
