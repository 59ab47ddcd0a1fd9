/* SPDX-License-Identifier: MIT */
/* The checks a request passes before routing: its target, query and headers as text. Pure
 * functions on what libmicrohttpd parsed, so that they are unit-tested and fuzzed alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"
#include "banger/problem.h"

#define BG_HTTP_TARGET_MAX 8192 /* request target bytes as sent (path and query, encoded) */
#define BG_HTTP_QUERY_MAX 16    /* query parameters in one request */

/* Why a request is refused before any handler runs. */
struct bg_http_refusal {
    enum bg_problem problem;    /* INVALID_PATH, INVALID_QUERY, INVALID_HEADER, URI_TOO_LONG */
    char msg[BG_ERROR_MSG_MAX]; /* for the problem's detail; valid UTF-8, input quoted */
};

/* One query parameter as libmicrohttpd decoded it. value is NULL for "?key" without '='. */
struct bg_http_arg {
    const char *key;
    const char *value;
};

/* Percent-decode the C string s in place, as libmicrohttpd's unescape callback must: "%XX"
 * with two hex digits becomes its byte, except "%00", which stays as the three characters
 * and sets *ret_nul (so no NUL byte ever enters a decoded string); a '%' without two hex
 * digits after it stays. Returns the decoded length. */
size_t bg_http_unescape(char *s, bool *ret_nul);

/* The request target as received (len bytes at raw, before any decoding): at most
 * BG_HTTP_TARGET_MAX bytes (else URI_TOO_LONG), and no byte below 0x21 or 0x7f (a control
 * character or a space, which a client must percent-encode; else INVALID_PATH). Returns 0,
 * or -EINVAL with ref set. */
int bg_http_check_target(const char *raw, size_t len, struct bg_http_refusal *ref);

/* The decoded path: valid UTF-8 without control characters. Returns 0 or -EINVAL. */
int bg_http_check_path(const char *path, struct bg_http_refusal *ref);

/* Decoded query parameters (n of them; a caller that collects them may stop at one past
 * the limit): each key and value valid UTF-8 without control characters, at most
 * BG_HTTP_QUERY_MAX of them. Routing comes after this. Returns 0 or
 * -EINVAL with ref set (INVALID_QUERY). */
int bg_http_check_query_text(const struct bg_http_arg *args, size_t n, struct bg_http_refusal *ref);

/* Query parameters against a route's allowed keys (NULL-terminated; NULL allows none): each
 * key known, none given twice. Returns 0 or -EINVAL with ref set (INVALID_QUERY). */
int bg_http_check_query_keys(const struct bg_http_arg *args, size_t n, const char *const *allowed,
                             struct bg_http_refusal *ref);

/* One request header: the name valid UTF-8 without control characters, the value valid
 * UTF-8 without control characters other than tab. Returns 0 or -EINVAL (INVALID_HEADER). */
int bg_http_check_header(const char *name, const char *value, struct bg_http_refusal *ref);
