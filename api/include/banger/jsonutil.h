/* SPDX-License-Identifier: MIT */
/* Strict decoding helpers for JSON request bodies (jansson). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"

#define BG_JSON_DEPTH_MAX 16

/* Parse body (len bytes, not NUL-terminated) as one JSON object, rejecting nesting deeper
 * than BG_JSON_DEPTH_MAX. Returns 0 and *ret (owned), or -EINVAL with f = invalid_json. */
BG_PUBLIC int bg_json_parse_object(const char *body, size_t len, json_t **ret,
                                   struct bg_field_error *f, struct bg_error *err);

/* The first member of obj (in jansson's order) whose key is not in allowed (NULL-terminated),
 * or NULL when every member is allowed. The one allow-list check: every strict decoder of
 * JSON objects (request bodies, agent frames) refuses unknown members through it. The key is
 * borrowed from obj. */
BG_PUBLIC const char *bg_json_unknown_member(const json_t *obj, const char *const allowed[]);

/* Refuse any member of obj not in allowed (NULL-terminated). -EINVAL, f = unknown_field. */
BG_PUBLIC int bg_json_check_members(const json_t *obj, const char *const allowed[],
                                    struct bg_field_error *f, struct bg_error *err);

/* Fetch obj[key] as a string that passes bg_name_validate; copies into buf (>= 64 bytes).
 * required=false and absent: returns 0 and leaves buf alone; returns 1 when present. */
BG_PUBLIC int bg_json_get_name(const json_t *obj, const char *key, bool required, char *buf,
                               struct bg_field_error *f, struct bg_error *err);
/* obj[key] as an absolute normalised path (bg_path_validate); *ret is a new string. */
BG_PUBLIC int bg_json_get_path(const json_t *obj, const char *key, bool required, char **ret,
                               struct bg_field_error *f, struct bg_error *err);
/* obj[key] as an integer in [min, max]; returns 1 when present, 0 when absent. */
BG_PUBLIC int bg_json_get_uint(const json_t *obj, const char *key, bool required, uint64_t min,
                               uint64_t max, uint64_t *ret, struct bg_field_error *f,
                               struct bg_error *err);
/* obj[key] as a boolean; returns 1 when present, 0 when absent. */
BG_PUBLIC int bg_json_get_bool(const json_t *obj, const char *key, bool required, bool *ret,
                               struct bg_field_error *f, struct bg_error *err);
