/* SPDX-License-Identifier: MIT */
/* The bytes of a JSON reply: an encoder that never aborts, with a fixed problem to fall back
 * on when a body does not encode. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A reply body ready to send. */
struct bg_http_text {
    const char *text; /* the bytes (owned, or the built-in fallback) */
    size_t len;       /* their length */
    bool fallback;    /* the body did not encode: text is a 500 internal problem instead */
    char *owned;      /* what bg_http_text_done frees, or NULL */
};

/* Encode body (stolen; NULL counts as one that does not encode) as compact JSON into *ret.
 * When it does not encode (a string or object key that is not valid UTF-8), *ret is the 500
 * internal problem about instance (any bytes; may be NULL) and ret->fallback is set: the
 * caller must then send status 500 and application/problem+json, and log. Never fails. */
void bg_http_encode(json_t *body, const char *instance, struct bg_http_text *ret);

/* Release what bg_http_encode gave. Accepts a zeroed struct. */
void bg_http_text_done(struct bg_http_text *t);
