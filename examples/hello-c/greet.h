/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Write "hello, NAME!" into buf (size bytes, NUL-terminated, cut to fit); returns the length
 * the whole greeting has, as snprintf does. */
int greet(char *buf, size_t size, const char *name);
