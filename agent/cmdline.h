/* SPDX-License-Identifier: MIT */
/* Words of the kernel command line that the agent reads (banger.root=, banger.agent=, ...): one
 * iterator over its words, under every reader of it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The next word of a command line. Start with *cursor at the command line (a C string); each
 * call moves it past the word it returns. Returns true with the word at *ret_word, *ret_len
 * bytes (not NUL-terminated, never empty), or false once no word is left. Words are split at
 * spaces, tabs and newlines, as the kernel splits them. */
bool bg_cmdline_next(const char **cursor, const char **ret_word, size_t *ret_len);

/* True when word (len bytes) is `key=VALUE`: *ret_value points at VALUE, *ret_value_len bytes
 * (0 for `key=`). A look-alike such as `xkey=` or a bare `key` is not a match. */
bool bg_cmdline_match(const char *word, size_t len, const char *key, const char **ret_value,
                      size_t *ret_value_len);

/* The value of the last word `key=VALUE` of cmdline, copied into buf (size >= 1 bytes) and NUL
 * terminated. Returns 1 when found, 0 when no such word is there, -ENAMETOOLONG when the value
 * does not fit in size - 1 bytes: a value is never cut, since a cut device name or channel
 * would name something else. buf is "" unless 1 is returned. */
int bg_cmdline_value(const char *cmdline, const char *key, char *buf, size_t size);
