/* SPDX-License-Identifier: MIT */
/* Pure checks on untrusted strings, shared by bangerd (friendly errors) and the helper. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"

#define BG_NAME_MAX 63    /* a DNS label */
#define BG_PATH_MAX 4095  /* PATH_MAX less the terminator */
#define BG_PACKAGE_MAX 64 /* bytes of a Debian package name banger takes */

/* A VM or image name: a DNS label [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?.
 * Returns 0 or -EINVAL with a message that says what is wrong. */
BG_PUBLIC int bg_name_validate(const char *name, struct bg_error *err);

/* An absolute, normalised path: starts with '/', no "." or ".." components, no "//",
 * no control characters, valid UTF-8, at most BG_PATH_MAX bytes. Returns 0 or -EINVAL. */
BG_PUBLIC int bg_path_validate(const char *path, struct bg_error *err);

/* A Debian package name as banger takes one: [a-z0-9][a-z0-9+.-]+, at most BG_PACKAGE_MAX
 * bytes (Debian policy 5.6.1, no version or architecture qualifier). Returns 0 or -EINVAL. */
BG_PUBLIC int bg_package_validate(const char *name, struct bg_error *err);
