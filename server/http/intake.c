/* SPDX-License-Identifier: MIT */
/* Request intake as text: the target, the query and the headers, before routing. */
#include "http/intake.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "banger/utf8.h"

BG_PRINTF(3, 4)
static int refuse(struct bg_http_refusal *ref, enum bg_problem p, const char *fmt, ...)
{
    va_list ap;

    ref->problem = p;
    va_start(ap, fmt);
    (void)bg_utf8_vformat(ref->msg, sizeof(ref->msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t bg_http_unescape(char *s, bool *ret_nul)
{
    char *w = s;

    for (const char *r = s; *r;) {
        int hi = r[0] == '%' ? hex_value(r[1]) : -1;
        int lo = hi >= 0 ? hex_value(r[2]) : -1;
        if (lo < 0) {
            *w++ = *r++;
            continue;
        }
        if (hi == 0 && lo == 0) {
            *ret_nul = true;
            memmove(w, r, 3);
            w += 3;
        } else {
            *w++ = (char)(hi << 4 | lo);
        }
        r += 3;
    }
    *w = '\0';
    return (size_t)(w - s);
}

int bg_http_check_target(const char *raw, size_t len, struct bg_http_refusal *ref)
{
    if (len > BG_HTTP_TARGET_MAX)
        return refuse(ref, BG_PROBLEM_URI_TOO_LONG,
                      "the request target is %zu bytes long; the limit is %d", len,
                      BG_HTTP_TARGET_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c <= 0x20 || c == 0x7f)
            return refuse(ref, BG_PROBLEM_INVALID_PATH,
                          "the request target holds byte 0x%02x at offset %zu; send spaces and "
                          "control characters percent-encoded",
                          c, i);
    }
    return 0;
}

/* What is wrong with s as text: NULL when it is valid UTF-8 without control characters
 * (tab allowed when tab_ok). */
static const char *text_problem(const char *s, bool tab_ok)
{
    if (!bg_utf8_valid(s, strlen(s)))
        return "is not valid UTF-8";
    for (const char *p = s; *p; p++)
        if (((unsigned char)*p < 0x20 && !(tab_ok && *p == '\t')) || *p == 0x7f)
            return "holds a control character";
    return NULL;
}

int bg_http_check_path(const char *path, struct bg_http_refusal *ref)
{
    const char *why = text_problem(path, false);

    if (why)
        return refuse(ref, BG_PROBLEM_INVALID_PATH, "the path '%s' %s", BG_QUOTE(path), why);
    return 0;
}

int bg_http_check_query_text(const struct bg_http_arg *args, size_t n, struct bg_http_refusal *ref)
{
    if (n > BG_HTTP_QUERY_MAX)
        return refuse(ref, BG_PROBLEM_INVALID_QUERY, "the query has more than %d parameters",
                      BG_HTTP_QUERY_MAX);
    for (size_t i = 0; i < n; i++) {
        const char *why = text_problem(args[i].key, false);
        if (why)
            return refuse(ref, BG_PROBLEM_INVALID_QUERY, "query parameter '%s' %s",
                          BG_QUOTE(args[i].key), why);
        if (args[i].value && (why = text_problem(args[i].value, false)))
            return refuse(ref, BG_PROBLEM_INVALID_QUERY, "the value of query parameter '%s' %s",
                          BG_QUOTE(args[i].key), why);
    }
    return 0;
}

static bool key_allowed(const char *key, const char *const *allowed)
{
    for (size_t i = 0; allowed && allowed[i]; i++)
        if (!strcmp(key, allowed[i]))
            return true;
    return false;
}

int bg_http_check_query_keys(const struct bg_http_arg *args, size_t n, const char *const *allowed,
                             struct bg_http_refusal *ref)
{
    for (size_t i = 0; i < n; i++) {
        if (!key_allowed(args[i].key, allowed))
            return refuse(ref, BG_PROBLEM_INVALID_QUERY, "unknown query parameter '%s'",
                          BG_QUOTE(args[i].key));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(args[i].key, args[j].key))
                return refuse(ref, BG_PROBLEM_INVALID_QUERY,
                              "query parameter '%s' is given more than once",
                              BG_QUOTE(args[i].key));
    }
    return 0;
}

int bg_http_check_header(const char *name, const char *value, struct bg_http_refusal *ref)
{
    const char *why = text_problem(name, false);

    if (why)
        return refuse(ref, BG_PROBLEM_INVALID_HEADER, "the name of header '%s' %s", BG_QUOTE(name),
                      why);
    if ((why = text_problem(value ? value : "", true)))
        return refuse(ref, BG_PROBLEM_INVALID_HEADER, "the value of header '%s' %s", BG_QUOTE(name),
                      why);
    return 0;
}
