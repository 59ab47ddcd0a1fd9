/* SPDX-License-Identifier: MIT */
/* If-None-Match parsing: a comma-separated list of entity tags, weak comparison. */
#include "http/etag.h"

#include <string.h>

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool bg_http_etag_match(const char *if_none_match, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = skip_ows(if_none_match);

    if (p[0] == '*' && *skip_ows(p + 1) == '\0')
        return true;
    while (*p) {
        if (!strncmp(p, "W/", 2))
            p += 2;
        if (*p != '"')
            return false;
        const char *end = strchr(p + 1, '"');
        if (!end)
            return false;
        if ((size_t)(end + 1 - p) == elen && !memcmp(p, etag, elen))
            return true;
        p = skip_ows(end + 1);
        if (*p == ',')
            p = skip_ows(p + 1);
        else if (*p)
            return false;
    }
    return false;
}
