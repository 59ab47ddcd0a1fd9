/* SPDX-License-Identifier: MIT */
/* Strict JSON member access: types, bounds and allow-lists checked in one place. */
#include "banger/jsonutil.h"

#include <errno.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "banger/validate.h"

static int depth_of(const json_t *v, int limit)
{
    int deepest = 0;
    const char *k;
    json_t *child;
    size_t i;

    if (limit < 0)
        return 1;
    if (json_is_object(v)) {
        json_object_foreach ((json_t *)v, k, child) {
            int d = depth_of(child, limit - 1);
            deepest = d > deepest ? d : deepest;
        }
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, child) {
            int d = depth_of(child, limit - 1);
            deepest = d > deepest ? d : deepest;
        }
    } else {
        return 0;
    }
    return deepest + 1;
}

int bg_json_parse_object(const char *body, size_t len, json_t **ret, struct bg_field_error *f,
                         struct bg_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

    if (!v) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_JSON, NULL);
        return bg_error_set(err, -EINVAL, "request body is not valid JSON: %s (line %d, column %d)",
                            jerr.text, jerr.line, jerr.column);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        bg_field_error_set(f, BG_PROBLEM_INVALID_JSON, NULL);
        return bg_error_set(err, -EINVAL, "request body must be a JSON object");
    }
    if (depth_of(v, BG_JSON_DEPTH_MAX) > BG_JSON_DEPTH_MAX) {
        json_decref(v);
        bg_field_error_set(f, BG_PROBLEM_INVALID_JSON, NULL);
        return bg_error_set(err, -EINVAL, "request body nests deeper than %d levels",
                            BG_JSON_DEPTH_MAX);
    }
    *ret = v;
    return 0;
}

const char *bg_json_unknown_member(const json_t *obj, const char *const allowed[])
{
    const char *key;
    json_t *v = NULL;

    json_object_foreach ((json_t *)obj, key, v) {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = !strcmp(key, allowed[i]);
        if (!known)
            return key;
    }
    return NULL;
}

int bg_json_check_members(const json_t *obj, const char *const allowed[], struct bg_field_error *f,
                          struct bg_error *err)
{
    const char *key = bg_json_unknown_member(obj, allowed);

    if (!key)
        return 0;
    bg_field_error_set(f, BG_PROBLEM_UNKNOWN_FIELD, key);
    return bg_error_set(err, -EINVAL, "unknown field '%s'", BG_QUOTE(key));
}

/* Look up key (null counts as present, so its type check refuses it);
 * 0 absent-and-optional, 1 present, -EINVAL missing-and-required. */
static int lookup(const json_t *obj, const char *key, bool required, json_t **ret,
                  struct bg_field_error *f, struct bg_error *err)
{
    json_t *v = json_object_get(obj, key);

    if (!v) {
        if (!required)
            return 0;
        bg_field_error_set(f, BG_PROBLEM_MISSING_FIELD, key);
        return bg_error_set(err, -EINVAL, "field '%s' is required", key);
    }
    *ret = v;
    return 1;
}

static int invalid(struct bg_field_error *f, struct bg_error *err, enum bg_problem p,
                   const char *key, const char *what)
{
    bg_field_error_set(f, p, key);
    return bg_error_set(err, -EINVAL, "field '%s': %s", key, what);
}

int bg_json_get_name(const json_t *obj, const char *key, bool required, char *buf,
                     struct bg_field_error *f, struct bg_error *err)
{
    json_t *v = NULL;
    int r = lookup(obj, key, required, &v, f, err);
    if (r <= 0)
        return r;
    if (!json_is_string(v))
        return invalid(f, err, BG_PROBLEM_INVALID_FIELD, key, "must be a string");

    struct bg_error e;
    if (strlen(json_string_value(v)) != json_string_length(v))
        return invalid(f, err, BG_PROBLEM_INVALID_NAME, key, "contains a NUL byte");
    if (bg_name_validate(json_string_value(v), &e) < 0)
        return invalid(f, err, BG_PROBLEM_INVALID_NAME, key, e.msg);
    strcpy(buf, json_string_value(v));
    return 1;
}

int bg_json_get_path(const json_t *obj, const char *key, bool required, char **ret,
                     struct bg_field_error *f, struct bg_error *err)
{
    json_t *v = NULL;
    int r = lookup(obj, key, required, &v, f, err);
    if (r <= 0)
        return r;
    if (!json_is_string(v))
        return invalid(f, err, BG_PROBLEM_INVALID_FIELD, key, "must be a string");
    if (strlen(json_string_value(v)) != json_string_length(v))
        return invalid(f, err, BG_PROBLEM_INVALID_FIELD, key, "contains a NUL byte");

    struct bg_error e;
    if (bg_path_validate(json_string_value(v), &e) < 0)
        return invalid(f, err, BG_PROBLEM_INVALID_FIELD, key, e.msg);
    *ret = bg_strdup(json_string_value(v));
    return 1;
}

int bg_json_get_uint(const json_t *obj, const char *key, bool required, uint64_t min, uint64_t max,
                     uint64_t *ret, struct bg_field_error *f, struct bg_error *err)
{
    json_t *v = NULL;
    int r = lookup(obj, key, required, &v, f, err);
    if (r <= 0)
        return r;
    if (!json_is_integer(v))
        return invalid(f, err, BG_PROBLEM_INVALID_FIELD, key, "must be an integer");

    json_int_t n = json_integer_value(v);
    if (n < 0 || (uint64_t)n < min || (uint64_t)n > max) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL, "field '%s': %lld is outside %llu..%llu", key,
                            (long long)n, (unsigned long long)min, (unsigned long long)max);
    }
    *ret = (uint64_t)n;
    return 1;
}

int bg_json_get_bool(const json_t *obj, const char *key, bool required, bool *ret,
                     struct bg_field_error *f, struct bg_error *err)
{
    json_t *v = NULL;
    int r = lookup(obj, key, required, &v, f, err);
    if (r <= 0)
        return r;
    if (!json_is_boolean(v))
        return invalid(f, err, BG_PROBLEM_INVALID_FIELD, key, "must be true or false");
    *ret = json_is_true(v);
    return 1;
}
