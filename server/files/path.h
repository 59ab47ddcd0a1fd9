/* SPDX-License-Identifier: MIT */
/* The guest path of a file transfer (the ?path= of /v1/vms/{name}/files), checked once at the
 * edge into a typed value. */
#pragma once

#include <stdbool.h>

#include "banger/error.h"

#define BG_FILES_PATH_MAX 4095 /* bytes of a guest path (PATH_MAX less its NUL) */

/* A checked guest path. */
struct bg_files_path {
    char path[BG_FILES_PATH_MAX + 1];   /* absolute, no trailing '/' ("/" only for the root) */
    char parent[BG_FILES_PATH_MAX + 1]; /* the directory that holds it ("/" at the top) */
    const char *base;                   /* its last component, inside path ("" for "/") */
};

/* Check raw (NUL-terminated; intake already refused bytes that are not UTF-8 text) into *ret:
 * an absolute path of at most BG_FILES_PATH_MAX bytes whose components are not empty (one
 * trailing '/' is allowed and dropped), "." or ".."; need_base also refuses "/", which has no
 * last component to name an archive's top entry. Returns 0, or -EINVAL with err saying why
 * (the input quoted). *ret is written only on success. */
int bg_files_path_parse(const char *raw, bool need_base, struct bg_files_path *ret,
                        struct bg_error *err);
