/* SPDX-License-Identifier: MIT */
/* banger's configuration file format, a small subset of TOML, one setting per line:
 *
 *     # a comment; blank lines are fine too
 *     state_dir = "/srv/banger"        # double-quoted string; escapes \" and \\ only
 *     shutdown_timeout_s = 30          # decimal integer (checked by bg_parse_u64)
 *     firecracker_kvm_check = false    # true or false
 *
 * Sections, arrays, tables, other escapes, NUL bytes and lines over BG_KV_LINE_MAX bytes are
 * refused. The reader of each file (bangerd's config, install.toml) knows its keys and says
 * file:line in every refusal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "banger/error.h"
#include "banger/macro.h"

#define BG_KV_LINE_MAX 1024          /* bytes in one line, newline excluded */
#define BG_KV_FILE_MAX (1024 * 1024) /* bytes of a file */
#define BG_KV_KEY_MAX 64             /* bytes of a key */

enum bg_kv_type { BG_KV_STRING, BG_KV_INTEGER, BG_KV_BOOL };

/* One line taken apart. */
struct bg_kv_line {
    bool empty;                  /* blank or comment only: nothing else is set */
    char key[BG_KV_KEY_MAX + 1]; /* [A-Za-z0-9_-]+ */
    enum bg_kv_type type;        /* what the value was written as */
    char *text;                  /* owned: the unescaped string, the digits, "true"/"false" */
};

/* "a string", "an integer", "a boolean". */
BG_PUBLIC const char *bg_kv_type_name(enum bg_kv_type t);

/* Open path for reading without blocking (a FIFO in its place cannot hang the reader): only
 * a regular file of at most BG_KV_FILE_MAX bytes. -ENOENT when it does not exist, -EINVAL for
 * another kind of file, -errno. */
BG_PUBLIC int bg_kv_file_open(const char *path, FILE **ret, struct bg_error *err);

/* Read one line without its newline (and a trailing '\r') into buf (size > BG_KV_LINE_MAX).
 * Returns 1, 0 at end of file, -E2BIG for an over-long line, -EINVAL for a NUL byte, -errno. */
BG_PUBLIC int bg_kv_line_read(FILE *f, char *buf, size_t size, struct bg_error *err);

/* Take line apart: blank, comment, or key = value (with an optional trailing comment). On
 * success ret->text is the caller's (free) unless ret->empty. -EINVAL with err saying what is
 * wrong, without the file:line the caller adds. */
BG_PUBLIC int bg_kv_line_parse(const char *line, struct bg_kv_line *ret, struct bg_error *err);

/* Free what l owns (its text); for bg_auto on a line that bg_kv_line_parse may have filled.
 * Accepts a zeroed line. */
BG_PUBLIC void bg_kv_line_done(struct bg_kv_line *l);
