/* SPDX-License-Identifier: MIT */
/* Allocation that aborts on exhaustion, so out-of-memory is never an error path. */
#pragma once

#include <stddef.h>

#include "banger/macro.h"

/* malloc/calloc/realloc/strdup that abort the process when memory runs out. */
BG_PUBLIC void *bg_malloc(size_t size);
BG_PUBLIC void *bg_calloc(size_t n, size_t size);
BG_PUBLIC void *bg_realloc(void *p, size_t size);
BG_PUBLIC char *bg_strdup(const char *s);
BG_PUBLIC char *bg_strndup(const char *s, size_t n);
/* printf into a new string; aborts on exhaustion. */
BG_PUBLIC char *bg_asprintf(const char *fmt, ...) BG_PRINTF(1, 2);
/* Free a NULL-terminated array of strings and each of them (argv, envp). Accepts NULL. */
BG_PUBLIC void bg_strv_free(char **v);
