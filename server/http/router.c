/* SPDX-License-Identifier: MIT */
/* Segment-wise matching of request paths against route templates. */
#include "http/router.h"

#include <stdbool.h>
#include <string.h>

/* Split s in place on '/' into segs; returns the count or -1 when there are too many or a
 * segment is empty (so "//" and a trailing "/" never match). */
static int split(char *s, char *segs[BG_ROUTE_SEGMENTS_MAX])
{
    int n = 0;

    if (*s != '/')
        return -1;
    for (char *p = s + 1;;) {
        char *e = strchrnul(p, '/');
        if (e == p || n == BG_ROUTE_SEGMENTS_MAX)
            return -1;
        segs[n++] = p;
        if (!*e)
            return n;
        *e = '\0';
        p = e + 1;
    }
}

static bool template_match(const char *tmpl, char *const segs[], int nsegs,
                           const char *params[BG_ROUTE_PARAMS_MAX])
{
    int i = 0, np = 0;

    for (const char *t = tmpl + 1; *t; i++) {
        const char *e = strchrnul(t, '/');
        size_t len = (size_t)(e - t);
        if (i >= nsegs)
            return false;
        if (t[0] == '{') {
            if (np == BG_ROUTE_PARAMS_MAX)
                return false;
            params[np++] = segs[i];
        } else if (strlen(segs[i]) != len || strncmp(segs[i], t, len) != 0) {
            return false;
        }
        t = *e ? e + 1 : e;
    }
    return i == nsegs;
}

const struct bg_route *bg_router_match(const struct bg_route *table, size_t n, const char *method,
                                       const char *path, char *scratch,
                                       const char *params[BG_ROUTE_PARAMS_MAX], char *allow,
                                       size_t allow_len)
{
    char *segs[BG_ROUTE_SEGMENTS_MAX];
    size_t used = 0;

    allow[0] = '\0';
    strcpy(scratch, path);
    int nsegs = split(scratch, segs);
    if (nsegs < 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *p[BG_ROUTE_PARAMS_MAX] = {0};
        if (!template_match(table[i].path, segs, nsegs, p))
            continue;
        if (!strcmp(table[i].method, method)) {
            memcpy(params, p, sizeof(p));
            return &table[i];
        }
        size_t mlen = strlen(table[i].method);
        if (used + mlen + 3 < allow_len) {
            if (used) {
                memcpy(allow + used, ", ", 2);
                used += 2;
            }
            memcpy(allow + used, table[i].method, mlen + 1);
            used += mlen;
        }
    }
    return NULL;
}
