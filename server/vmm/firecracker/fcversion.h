/* SPDX-License-Identifier: MIT */
/* `firecracker --version` output parsed into a semantic version. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"

#define BG_FC_VERSION_PRE_MAX 32 /* bytes of a prerelease tag, NUL included */
#define BG_FC_MIN_MINOR 10       /* oldest Firecracker 1.x this build speaks to */

/* What `firecracker --version` said. */
struct bg_fc_version {
    unsigned major, minor, patch;    /* 1.16.1 */
    char pre[BG_FC_VERSION_PRE_MAX]; /* "dev" of 1.17.0-dev, "" for a release */
};

/* Parse text, the output of `firecracker --version`: the first line must be
 * "Firecracker vMAJOR.MINOR.PATCH[-PRE][+BUILD]"; the lines after it (an empty line, log lines)
 * are ignored. Returns 0 and *ret, or -EBADMSG (err says why). */
int bg_fc_version_parse(const char *text, struct bg_fc_version *ret, struct bg_error *err);

/* "1.16.1" or "1.17.0-dev" into buf (len bytes). */
void bg_fc_version_format(const struct bg_fc_version *v, char *buf, size_t len);

/* True when this build speaks to v: 1.BG_FC_MIN_MINOR or newer within 1.x. */
bool bg_fc_version_supported(const struct bg_fc_version *v);
