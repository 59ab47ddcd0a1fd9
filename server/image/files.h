/* SPDX-License-Identifier: MIT */
/* File steps of image builds: bounded text reads, copies. */
#pragma once

#include "banger/error.h"

#define BG_IMAGEBUILD_TEXT_MAX (4u << 20) /* bytes of modules.dep or modules.builtin read */

/* A text file of at most BG_IMAGEBUILD_TEXT_MAX bytes with no NUL in it; *ret the caller's. */
int bg_imagebuild_read_text(const char *path, char **ret, struct bg_error *err);

/* Copy src to dst (created 0644, replaced) and fsync it. */
int bg_imagebuild_copy_file(const char *src, const char *dst, struct bg_error *err);

/* Copy src to dst (created 0644, replaced) keeping its holes, and fsync it. */
int bg_imagebuild_copy_sparse(const char *src, const char *dst, struct bg_error *err);
