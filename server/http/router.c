/* SPDX-License-Identifier: MIT */
/* Segment-wise matching of request paths against route templates, and the check of each
 * typed path parameter before any handler sees it. */
#include "http/router.h"

#include <errno.h>
#include <string.h>

#include "banger/exec.h"
#include "banger/macro.h"
#include "banger/operation.h"
#include "banger/token.h"
#include "banger/utf8.h"
#include "banger/validate.h"

static int check_name(const char *value, struct bg_error *err)
{
    return bg_name_validate(value, err);
}

static int check_exec_id(const char *value, struct bg_error *err)
{
    if (bg_exec_id_valid(value))
        return 0;
    return bg_error_set(err, -EINVAL, "'%s' is not 'exec-' and 16 lowercase hex digits",
                        BG_QUOTE(value));
}

static int check_operation_id(const char *value, struct bg_error *err)
{
    if (bg_operation_id_validate(value))
        return 0;
    return bg_error_set(err, -EINVAL, "'%s' is not 'op-' and 16 lowercase hex digits",
                        BG_QUOTE(value));
}

static int check_token_id(const char *value, struct bg_error *err)
{
    if (bg_token_id_valid(value))
        return 0;
    return bg_error_set(err, -EINVAL, "'%s' is not a token id (%d characters of a-z and 2-7)",
                        BG_QUOTE(value), BG_TOKEN_ID_LEN);
}

/* The parameter types a template may name. */
static const struct param_type {
    const char *name; /* as written after the ':' */
    const char *what; /* for messages */
    int (*check)(const char *value, struct bg_error *err);
} param_types[] = {
    {"vm", "VM name", check_name},         {"image", "image name", check_name},
    {"exec", "exec id", check_exec_id},    {"operation", "operation id", check_operation_id},
    {"token", "token id", check_token_id},
};

/* A template parameter segment "{name:type}" of length len, split; false when seg is not a
 * well-formed one (a literal segment, or a parameter without a name or a known type). */
static bool param_parse(const char *seg, size_t len, const char **ret_name, size_t *ret_name_len,
                        const struct param_type **ret_type)
{
    if (len < 2 || seg[0] != '{' || seg[len - 1] != '}')
        return false;
    const char *colon = memchr(seg, ':', len);
    if (!colon || colon == seg + 1 || (size_t)(colon - seg - 1) >= BG_ROUTE_PARAM_NAME_MAX)
        return false;
    size_t tlen = (size_t)(seg + len - 1 - colon - 1);
    for (size_t i = 0; i < BG_ARRAY_SIZE(param_types); i++) {
        if (strlen(param_types[i].name) == tlen && !memcmp(colon + 1, param_types[i].name, tlen)) {
            *ret_name = seg + 1;
            *ret_name_len = (size_t)(colon - seg - 1);
            *ret_type = &param_types[i];
            return true;
        }
    }
    return false;
}

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

/* Whether the template matches the segments structurally (literals equal, one segment per
 * parameter); parameters go to params in order. */
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

/* Check each parameter of a matched route against its type; on the first failure fill m. */
static bool params_valid(const struct bg_route *route, const char *const params[],
                         struct bg_route_match *m)
{
    int np = 0;

    for (const char *t = route->path + 1; *t;) {
        const char *e = strchrnul(t, '/');
        const char *name;
        size_t name_len;
        const struct param_type *type;

        if (param_parse(t, (size_t)(e - t), &name, &name_len, &type)) {
            const char *value = params[np++];
            struct bg_error why;
            if (type->check(value, &why) < 0) {
                memcpy(m->param, name, name_len);
                m->param[name_len] = '\0';
                bg_error_set(&m->why, -EINVAL, "path parameter '%s' is not a valid %s: %s",
                             m->param, type->what, why.msg);
                return false;
            }
        }
        t = *e ? e + 1 : e;
    }
    return true;
}

/* Append method to the Allow list; what does not fit is left out. */
static void allow_add(char *allow, size_t *used, const char *method)
{
    size_t mlen = strlen(method);

    if (*used + mlen + 3 > BG_ROUTE_ALLOW_MAX)
        return;
    if (*used) {
        memcpy(allow + *used, ", ", 2);
        *used += 2;
    }
    memcpy(allow + *used, method, mlen + 1);
    *used += mlen;
}

const char *bg_route_public_path(const struct bg_route *route, char *buf, size_t size)
{
    size_t n = 0;
    bool in_type = false;

    for (const char *p = route->path; *p && n + 1 < size; p++) {
        if (*p == ':' && !in_type)
            in_type = true;
        else if (*p == '}')
            in_type = false;
        if (!in_type)
            buf[n++] = *p;
    }
    buf[n] = '\0';
    return buf;
}

bool bg_route_serves_head(const struct bg_route *route)
{
    return !strcmp(route->method, "GET");
}

void bg_router_match(const struct bg_route *table, size_t n, const char *method, const char *path,
                     char *scratch, struct bg_route_match *m)
{
    char *segs[BG_ROUTE_SEGMENTS_MAX];
    size_t used = 0;
    bool head = !strcmp(method, "HEAD"), head_listed = false;

    memset(m, 0, sizeof(*m));
    m->result = BG_ROUTE_NO_PATH;
    strcpy(scratch, path);
    int nsegs = split(scratch, segs);
    if (nsegs < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *p[BG_ROUTE_PARAMS_MAX] = {0};
        if (!template_match(table[i].path, segs, nsegs, p))
            continue;
        if (!strcmp(table[i].method, method) || (head && bg_route_serves_head(&table[i]))) {
            m->route = &table[i];
            if (!params_valid(&table[i], p, m)) {
                m->result = BG_ROUTE_BAD_PARAM;
                return;
            }
            memcpy(m->params, p, sizeof(p));
            m->result = BG_ROUTE_MATCHED;
            return;
        }
        allow_add(m->allow, &used, table[i].method);
        if (bg_route_serves_head(&table[i]) && !head_listed) {
            allow_add(m->allow, &used, "HEAD");
            head_listed = true;
        }
        m->result = BG_ROUTE_NO_METHOD;
    }
}

/* One template's shape: its parameters' count and types, checked. */
static int template_check(const struct bg_route *r, struct bg_error *err)
{
    int segs = 0, params = 0;

    if (!r->path || r->path[0] != '/' || !r->handler || !r->method || !r->method[0])
        return bg_error_set(err, -EINVAL, "route %s %s: incomplete", r->method ? r->method : "?",
                            r->path ? r->path : "?");
    for (const char *t = r->path + 1;; segs++) {
        const char *e = strchrnul(t, '/');
        const char *name;
        size_t name_len;
        const struct param_type *type;

        if (e == t)
            return bg_error_set(err, -EINVAL, "route %s %s: empty segment", r->method, r->path);
        if (t[0] == '{' || memchr(t, '{', (size_t)(e - t)) || memchr(t, '}', (size_t)(e - t))) {
            if (!param_parse(t, (size_t)(e - t), &name, &name_len, &type))
                return bg_error_set(err, -EINVAL,
                                    "route %s %s: segment %d is not {name:type} with a known "
                                    "type",
                                    r->method, r->path, segs + 1);
            params++;
        }
        if (!*e)
            break;
        t = e + 1;
    }
    if (segs + 1 > BG_ROUTE_SEGMENTS_MAX || params > BG_ROUTE_PARAMS_MAX)
        return bg_error_set(err, -EINVAL, "route %s %s: more than %d segments or %d parameters",
                            r->method, r->path, BG_ROUTE_SEGMENTS_MAX, BG_ROUTE_PARAMS_MAX);
    return 0;
}

/* Whether two templates have the same shape: equal literals, parameters in the same places. */
static bool same_shape(const char *a, const char *b)
{
    for (;;) {
        const char *ea = strchrnul(a + 1, '/'), *eb = strchrnul(b + 1, '/');
        bool pa = a[1] == '{', pb = b[1] == '{';
        if (pa != pb || (!pa && (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0)))
            return false;
        if (!*ea || !*eb)
            return !*ea && !*eb;
        a = ea;
        b = eb;
    }
}

int bg_router_check(const struct bg_route *table, size_t n, struct bg_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = template_check(&table[i], err);
        if (r < 0)
            return r;
        if (!strcmp(table[i].method, "HEAD"))
            return bg_error_set(err, -EINVAL, "route HEAD %s: HEAD is served by the GET route",
                                table[i].path);
        if ((table[i].flags & BG_ROUTE_STREAM) && (table[i].flags & BG_ROUTE_BODY))
            return bg_error_set(err, -EINVAL, "route %s %s: a streamed body is not a JSON body",
                                table[i].method, table[i].path);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(table[i].method, table[j].method) &&
                same_shape(table[i].path, table[j].path))
                return bg_error_set(err, -EINVAL, "route %s %s: the same as %s", table[i].method,
                                    table[i].path, table[j].path);
    }
    return 0;
}
