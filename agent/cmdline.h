/* SPDX-License-Identifier: MIT */
/* Words of the kernel command line that the agent reads (banger.root=, banger.agent=, ...). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The value of the last word `key=VALUE` of cmdline (words are split at spaces, tabs and
 * newlines, as the kernel splits them) copied into buf, size bytes, truncated and NUL
 * terminated; "" and false when no such word is there. */
bool bg_cmdline_value(const char *cmdline, const char *key, char *buf, size_t size);
