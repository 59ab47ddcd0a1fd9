/* SPDX-License-Identifier: MIT */
/* The sha256 of a file, the one hashing loop of bangerd (libsodium). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"

#define BG_SHA256_HEX_MAX 65 /* 64 lowercase hex digits and the NUL */

/* Called as the hash advances: bytes hashed so far. */
typedef void (*bg_sha256_progress_fn)(void *cls, uint64_t done);

/* How to hash. Everything may be NULL/zero. */
struct bg_sha256_opts {
    bg_sha256_progress_fn progress; /* after each chunk */
    bool (*cancelled)(void *cls);   /* polled between chunks: true stops with -ECANCELED */
    void *cls;                      /* for both */
};

/* Hash what remains of fd (borrowed, read to its end) into hex (lowercase), its byte count into
 * *ret_size (may be NULL). Returns 0, -ECANCELED, or -errno from read with err naming what. */
int bg_sha256_fd(int fd, const char *what, const struct bg_sha256_opts *o,
                 char hex[BG_SHA256_HEX_MAX], uint64_t *ret_size, struct bg_error *err);

/* bg_sha256_fd of the file at path, opened read-only. */
int bg_sha256_file(const char *path, char hex[BG_SHA256_HEX_MAX], uint64_t *ret_size,
                   struct bg_error *err);
