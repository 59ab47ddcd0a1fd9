/* SPDX-License-Identifier: MIT */
/* API tokens as they cross a wire: the "bgr_<id>_<secret>" format, the scopes a token holds and
 * a route needs, and the strict decoding of POST /v1/tokens bodies. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"

/* A token is "bgr_" + id + "_" + secret. id: BG_TOKEN_ID_LEN characters of RFC 4648 base32 in
 * lower case ([a-z2-7]), public (it names the token in lists and logs). secret:
 * BG_TOKEN_SECRET_BYTES random bytes in the same alphabet, unpadded, in its one canonical form
 * (the unused low bits of the last character are zero). The prefix lets scanners and log
 * filters spot a leaked token. */
#define BG_TOKEN_PREFIX "bgr_"
#define BG_TOKEN_ID_LEN 12
#define BG_TOKEN_SECRET_BYTES 32 /* 256 bits */
#define BG_TOKEN_SECRET_LEN 52   /* ceil(256 / 5) base32 characters */
#define BG_TOKEN_LEN (4 + BG_TOKEN_ID_LEN + 1 + BG_TOKEN_SECRET_LEN) /* 69 */
#define BG_TOKEN_MASKED_LEN (4 + BG_TOKEN_ID_LEN + 1 + 4)            /* "bgr_<id>_****" */
#define BG_TOKEN_EXPIRES_MIN 1                                       /* seconds */
#define BG_TOKEN_EXPIRES_MAX (10LL * 366 * 86400)                    /* about ten years */

/* What a token may do. A route needs one scope (or BG_SCOPE_ANY); a token holds a set. */
enum bg_scope {
    BG_SCOPE_READ = 1u << 0,  /* lists, shows, events, operations */
    BG_SCOPE_WRITE = 1u << 1, /* create, change, delete, start, stop */
    BG_SCOPE_EXEC = 1u << 2,  /* exec, exec streams, files into a VM */
    BG_SCOPE_ADMIN = 1u << 3, /* tokens */
};
#define BG_SCOPE_ALL 0xfu
/* A route's scope meaning "any valid token, whatever it holds" (GET /v1/system/version). Not
 * a scope a token can hold. A route's scope of 0 means "not served over TCP at all". */
#define BG_SCOPE_ANY (1u << 8)
#define BG_SCOPES_TEXT_MAX 32 /* "read, write, exec, admin" and the NUL */

/* A parsed token. */
struct bg_token {
    char id[BG_TOKEN_ID_LEN + 1];          /* NUL-terminated */
    uint8_t secret[BG_TOKEN_SECRET_BYTES]; /* decoded */
};

/* Parse the len bytes at s (not NUL-terminated; may hold any bytes) as a token. Returns 0 with
 * *ret, or -EINVAL with err saying what is wrong with its form; the message never repeats the
 * input, so it may be logged and shown. */
BG_PUBLIC int bg_token_parse(const char *s, size_t len, struct bg_token *ret, struct bg_error *err);

/* The text of t into out (BG_TOKEN_LEN + 1 bytes). t->id must be valid. Returns out. */
BG_PUBLIC char *bg_token_format(const struct bg_token *t, char out[BG_TOKEN_LEN + 1]);

/* "bgr_<id>_****", what lists show of a token, into out (BG_TOKEN_MASKED_LEN + 1 bytes). */
BG_PUBLIC char *bg_token_mask(const char *id, char out[BG_TOKEN_MASKED_LEN + 1]);

/* True when id is BG_TOKEN_ID_LEN characters of [a-z2-7] (NUL-terminated). */
BG_PUBLIC bool bg_token_id_valid(const char *id);

/* The base32 character of v (0..31). */
BG_PUBLIC char bg_token_base32_char(unsigned v);

/* The scope called name ("read", "write", "exec", "admin") into *ret. -EINVAL otherwise. */
BG_PUBLIC int bg_scope_parse(const char *name, unsigned *ret, struct bg_error *err);
/* The name of one scope bit, or "?" for anything else. */
BG_PUBLIC const char *bg_scope_name(unsigned bit);
/* The scopes in mask as "read, exec" ("none" when empty) into buf (BG_SCOPES_TEXT_MAX). */
BG_PUBLIC char *bg_scopes_format(unsigned mask, char buf[BG_SCOPES_TEXT_MAX]);
/* The scopes in mask as a JSON array of names, in the order read, write, exec, admin. */
BG_PUBLIC json_t *bg_scopes_to_json(unsigned mask);

/* A validated POST /v1/tokens body. */
struct bg_token_request {
    char name[64];      /* a DNS label, unique among tokens */
    unsigned scopes;    /* non-empty subset of BG_SCOPE_ALL */
    int64_t expires_in; /* seconds from now, BG_TOKEN_EXPIRES_MIN..MAX; 0: never expires */
};

/* Decode body strictly: {"name": DNS label, "scopes": [names, at least one, none twice],
 * "expires_in_s": optional integer}. Unknown members, wrong types and bad values are -EINVAL
 * with f naming the problem and field. */
BG_PUBLIC int bg_token_request_decode(const json_t *body, struct bg_token_request *ret,
                                      struct bg_field_error *f, struct bg_error *err);
