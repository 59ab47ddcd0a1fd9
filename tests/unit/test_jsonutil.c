/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/jsonutil.c: body parsing, member allow-lists and typed getters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/jsonutil.h"
#include "banger/utf8.h"
#include "banger/validate.h"

/* Assert a decode failure: -EINVAL returned and recorded, f names problem and field, and
 * the message contains fragment. */
static void assert_refused(int r, const struct bg_error *err, const struct bg_field_error *f,
                           enum bg_problem problem, const char *field, const char *fragment)
{
    assert_int_equal(r, -EINVAL);
    assert_int_equal(err->code, -EINVAL);
    if (f->problem != problem)
        fail_msg("problem %s, want %s (%s)", bg_problem_code(f->problem), bg_problem_code(problem),
                 err->msg);
    assert_string_equal(f->field, field);
    if (!strstr(err->msg, fragment))
        fail_msg("message '%s' lacks '%s'", err->msg, fragment);
}

/* Parse a NUL-terminated literal. */
static int parse(const char *s, json_t **ret, struct bg_field_error *f, struct bg_error *err)
{
    return bg_json_parse_object(s, strlen(s), ret, f, err);
}

/* An object nested depth levels deep: {"a":{"a":...{}...}}. Caller frees. */
static char *nested_objects(int depth)
{
    char *s = bg_malloc((size_t)depth * 6 + 1);
    char *p = s;
    for (int i = 0; i < depth - 1; i++)
        p = stpcpy(p, "{\"a\":");
    p = stpcpy(p, "{}");
    for (int i = 0; i < depth - 1; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

/* {"a":[[..inner..]]} with depth levels in all (the object counts as one). Caller frees. */
static char *nested_arrays_around(int depth, const char *inner)
{
    char *s = bg_malloc((size_t)depth * 2 + strlen(inner) + 8);
    char *p = stpcpy(s, "{\"a\":");
    for (int i = 0; i < depth - 1; i++)
        *p++ = '[';
    p = stpcpy(p, inner);
    for (int i = 0; i < depth - 1; i++)
        *p++ = ']';
    stpcpy(p, "}");
    return s;
}

static char *nested_arrays(int depth)
{
    return nested_arrays_around(depth, "");
}

static void test_parse_object_good(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct bg_field_error f = {.problem = BG_PROBLEM_INTERNAL, .field = "untouched"};
    struct bg_error err = {0};

    assert_int_equal(parse("{\"name\":\"web\",\"vcpus\":2}", &v, &f, &err), 0);
    assert_true(json_is_object(v));
    assert_string_equal(json_string_value(json_object_get(v, "name")), "web");
    assert_int_equal(json_integer_value(json_object_get(v, "vcpus")), 2);
    json_decref(v);
    /* f is written only on failure */
    assert_int_equal(f.problem, BG_PROBLEM_INTERNAL);
    assert_string_equal(f.field, "untouched");

    assert_int_equal(parse(" \n{}\n ", &v, &f, &err), 0);
    assert_int_equal(json_object_size(v), 0);
    json_decref(v);

    /* len bounds the body: what follows is not read */
    const char buf[] = "{\"a\":1}trailing garbage";
    assert_int_equal(bg_json_parse_object(buf, 7, &v, &f, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
}

static void test_parse_object_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *fragment;
    } bad[] = {
        {"", "not valid JSON"},
        {"   ", "not valid JSON"},
        {"{", "not valid JSON"},
        {"}", "not valid JSON"},
        {"{\"a\":1,}", "not valid JSON"},
        {"{\"a\" 1}", "not valid JSON"},
        {"{'a':1}", "not valid JSON"},
        {"{a:1}", "not valid JSON"},
        {"{\"a\":01}", "not valid JSON"},
        {"{\"a\":NaN}", "not valid JSON"},
        {"{\"a\":\"\\x41\"}", "not valid JSON"},
        {"{\"a\":\"\xff\"}", "not valid JSON"},
        {"{} {}", "not valid JSON"},
        {"{}x", "not valid JSON"},
        {"{\"a\":\"\\u0000\"}", "not valid JSON"}, /* NUL inside a string */
        {"{\"a\":99999999999999999999}", "not valid JSON"},
        {"{\"a\":1,\"a\":2}", "duplicate"},
        {"[]", "must be a JSON object"},
        {"[{\"name\":\"web\"}]", "must be a JSON object"},
        /* top-level scalars are refused by jansson itself, before the object check */
        {"1", "not valid JSON"},
        {"\"str\"", "not valid JSON"},
        {"null", "not valid JSON"},
        {"true", "not valid JSON"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = (json_t *)0x1; /* must stay untouched */
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        int r = parse(bad[i].body, &v, &f, &err);
        if (r != -EINVAL)
            fail_msg("'%s': returned %d", bad[i].body, r);
        assert_ptr_equal(v, (json_t *)0x1);
        assert_refused(r, &err, &f, BG_PROBLEM_INVALID_JSON, "", bad[i].fragment);
    }
}

static void test_parse_object_raw_nul(void **state)
{
    (void)state;
    const char body[] = "{\"a\":\"x\0y\"}";
    json_t *v = NULL;
    struct bg_field_error f = {0};
    struct bg_error err = {0};

    int r = bg_json_parse_object(body, sizeof(body) - 1, &v, &f, &err);
    assert_refused(r, &err, &f, BG_PROBLEM_INVALID_JSON, "", "not valid JSON");
    assert_null(v);
}

static void test_parse_object_position_in_message(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct bg_field_error f = {0};
    struct bg_error err = {0};

    int r = parse("{\n\"a\": tru}", &v, &f, &err);
    assert_refused(r, &err, &f, BG_PROBLEM_INVALID_JSON, "", "line 2");
}

static void test_parse_object_depth(void **state)
{
    (void)state;
    json_t *v = NULL;
    struct bg_field_error f = {0};
    struct bg_error err = {0};

    bg_autofree char *ok_obj = nested_objects(BG_JSON_DEPTH_MAX);
    assert_int_equal(parse(ok_obj, &v, &f, &err), 0);
    json_decref(v);

    bg_autofree char *ok_arr = nested_arrays(BG_JSON_DEPTH_MAX);
    assert_int_equal(parse(ok_arr, &v, &f, &err), 0);
    json_decref(v);

    /* a scalar inside the deepest container is not one more level */
    bg_autofree char *ok_scalar = nested_arrays_around(BG_JSON_DEPTH_MAX, "1, \"s\", null");
    assert_int_equal(parse(ok_scalar, &v, &f, &err), 0);
    json_decref(v);

    const int too_deep[] = {BG_JSON_DEPTH_MAX + 1, BG_JSON_DEPTH_MAX + 2, 200};
    for (size_t i = 0; i < sizeof(too_deep) / sizeof(too_deep[0]); i++) {
        bg_autofree char *objs = nested_objects(too_deep[i]);
        bg_autofree char *arrs = nested_arrays(too_deep[i]);
        v = NULL;
        assert_refused(parse(objs, &v, &f, &err), &err, &f, BG_PROBLEM_INVALID_JSON, "",
                       "nests deeper than 16 levels");
        assert_null(v);
        assert_refused(parse(arrs, &v, &f, &err), &err, &f, BG_PROBLEM_INVALID_JSON, "",
                       "nests deeper than 16 levels");
        assert_null(v);
    }
}

static void test_parse_object_null_errs(void **state)
{
    (void)state;
    json_t *v = NULL;

    assert_int_equal(parse("[", &v, NULL, NULL), -EINVAL);
    assert_int_equal(parse("[]", &v, NULL, NULL), -EINVAL);
    assert_int_equal(parse("{}", &v, NULL, NULL), 0);
    json_decref(v);
}

static const char *const allowed[] = {"name", "image", "vcpus", NULL};

static void test_check_members(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    json_t *ok = json_pack("{s:s, s:s, s:i}", "name", "a", "image", "b", "vcpus", 1);
    json_t *empty = json_object();
    json_t *bad = json_pack("{s:s, s:s}", "name", "a", "colour", "red");
    json_t *case_ = json_pack("{s:s}", "Name", "a");

    assert_int_equal(bg_json_check_members(ok, allowed, &f, &err), 0);
    assert_int_equal(bg_json_check_members(empty, allowed, &f, &err), 0);
    assert_refused(bg_json_check_members(bad, allowed, &f, &err), &err, &f,
                   BG_PROBLEM_UNKNOWN_FIELD, "colour", "unknown field 'colour'");
    assert_refused(bg_json_check_members(case_, allowed, &f, &err), &err, &f,
                   BG_PROBLEM_UNKNOWN_FIELD, "Name", "unknown field 'Name'");

    /* members are checked in document order, so the first one is reported */
    static const char *const none[] = {NULL};
    assert_int_equal(bg_json_check_members(empty, none, &f, &err), 0);
    assert_refused(bg_json_check_members(ok, none, &f, &err), &err, &f, BG_PROBLEM_UNKNOWN_FIELD,
                   "name", "unknown field 'name'");
    json_decref(ok);
    json_decref(empty);
    json_decref(bad);
    json_decref(case_);
}

/* The one allow-list under bg_json_check_members and the agent frame decoders. */
static void test_unknown_member(void **state)
{
    (void)state;
    static const char *const none[] = {NULL};
    json_t *ok = json_pack("{s:s, s:i}", "name", "a", "vcpus", 1);
    json_t *bad = json_pack("{s:s, s:s}", "name", "a", "colour", "red");
    json_t *empty = json_object();

    assert_null(bg_json_unknown_member(ok, allowed));
    assert_null(bg_json_unknown_member(empty, allowed));
    assert_null(bg_json_unknown_member(empty, none));
    assert_string_equal(bg_json_unknown_member(bad, allowed), "colour");
    assert_non_null(bg_json_unknown_member(ok, none));
    json_decref(ok);
    json_decref(bad);
    json_decref(empty);
}

static void test_check_members_long_key(void **state)
{
    (void)state;
    char key[300];
    struct bg_field_error f = {0};
    struct bg_error err = {0};

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_t *obj = json_object();
    json_object_set_new(obj, key, json_true());
    int r = bg_json_check_members(obj, allowed, &f, &err);
    json_decref(obj);

    assert_int_equal(r, -EINVAL);
    assert_int_equal(f.problem, BG_PROBLEM_UNKNOWN_FIELD);
    /* the field name is cut to its buffer, the message quotes a clipped key ("...") */
    assert_int_equal(strlen(f.field), BG_FIELD_NAME_MAX - 1);
    assert_int_equal(strncmp(f.field, key, BG_FIELD_NAME_MAX - 1), 0);
    assert_int_equal(strlen(err.msg), strlen("unknown field ''") + BG_QUOTE_MAX - 1);
    assert_non_null(strstr(err.msg, "kkk...'"));
}

static void test_get_name(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    char buf[BG_NAME_MAX + 1] = "untouched";
    json_t *obj = json_pack("{s:s, s:n, s:i, s:s, s:s, s:[]}", "name", "web-1", "nul", "num", 3,
                            "upper", "Web", "empty", "", "arr");
    json_object_set_new(obj, "embedded", json_stringn("we\0b", 4));

    assert_int_equal(bg_json_get_name(obj, "name", true, buf, &f, &err), 1);
    assert_string_equal(buf, "web-1");

    strcpy(buf, "untouched");
    assert_int_equal(bg_json_get_name(obj, "absent", false, buf, &f, &err), 0);
    assert_string_equal(buf, "untouched");

    assert_refused(bg_json_get_name(obj, "absent", true, buf, &f, &err), &err, &f,
                   BG_PROBLEM_MISSING_FIELD, "absent", "field 'absent' is required");
    assert_refused(bg_json_get_name(obj, "nul", false, buf, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "nul", "field 'nul': must be a string");
    assert_refused(bg_json_get_name(obj, "num", true, buf, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "num", "must be a string");
    assert_refused(bg_json_get_name(obj, "arr", true, buf, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "arr", "must be a string");
    assert_refused(bg_json_get_name(obj, "upper", true, buf, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_NAME, "upper", "field 'upper': name may contain only");
    assert_refused(bg_json_get_name(obj, "empty", true, buf, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_NAME, "empty", "name is empty");
    assert_refused(bg_json_get_name(obj, "embedded", true, buf, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_NAME, "embedded", "contains a NUL byte");
    assert_string_equal(buf, "untouched");
    json_decref(obj);
}

static void test_get_name_lengths(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    char buf[BG_NAME_MAX + 1];
    char s63[BG_NAME_MAX + 1], s64[BG_NAME_MAX + 2];

    memset(s63, 'a', BG_NAME_MAX);
    s63[BG_NAME_MAX] = '\0';
    memset(s64, 'a', BG_NAME_MAX + 1);
    s64[BG_NAME_MAX + 1] = '\0';
    json_t *obj = json_pack("{s:s, s:s}", "ok", s63, "long", s64);

    assert_int_equal(bg_json_get_name(obj, "ok", true, buf, &f, &err), 1);
    assert_string_equal(buf, s63);
    assert_refused(bg_json_get_name(obj, "long", true, buf, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_NAME, "long", "64 characters long");
    json_decref(obj);
}

static void test_get_path(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    char *p = NULL;
    json_t *obj = json_pack("{s:s, s:s, s:s, s:n, s:b}", "kernel", "/srv/vmlinux", "rel",
                            "srv/vmlinux", "dots", "/srv/../etc", "nul", "bool", 1);
    json_object_set_new(obj, "embedded", json_stringn("/srv/a\0b", 8));

    assert_int_equal(bg_json_get_path(obj, "kernel", true, &p, &f, &err), 1);
    assert_string_equal(p, "/srv/vmlinux");
    free(p);

    p = NULL;
    assert_int_equal(bg_json_get_path(obj, "absent", false, &p, &f, &err), 0);
    assert_null(p);
    assert_refused(bg_json_get_path(obj, "absent", true, &p, &f, &err), &err, &f,
                   BG_PROBLEM_MISSING_FIELD, "absent", "field 'absent' is required");
    assert_refused(bg_json_get_path(obj, "rel", true, &p, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "rel",
                   "field 'rel': path 'srv/vmlinux' is not absolute");
    assert_refused(bg_json_get_path(obj, "dots", true, &p, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "dots", "not normalised");
    assert_refused(bg_json_get_path(obj, "nul", true, &p, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "nul", "must be a string");
    assert_refused(bg_json_get_path(obj, "bool", true, &p, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "bool", "must be a string");
    assert_refused(bg_json_get_path(obj, "embedded", true, &p, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "embedded", "contains a NUL byte");
    assert_null(p);
    json_decref(obj);
}

static void test_get_uint(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    uint64_t v = 99;
    json_t *obj = json_pack("{s:i, s:i, s:i, s:i, s:I, s:f, s:f, s:s, s:b, s:n}", "lo", 1, "hi", 32,
                            "zero", 0, "neg", -1, "big", (json_int_t)INT64_MAX, "real", 2.0, "frac",
                            2.5, "str", "4", "bool", 1, "nul");

    assert_int_equal(bg_json_get_uint(obj, "lo", true, 1, 32, &v, &f, &err), 1);
    assert_int_equal(v, 1);
    assert_int_equal(bg_json_get_uint(obj, "hi", true, 1, 32, &v, &f, &err), 1);
    assert_int_equal(v, 32);
    assert_int_equal(bg_json_get_uint(obj, "zero", true, 0, 32, &v, &f, &err), 1);
    assert_int_equal(v, 0);
    assert_int_equal(bg_json_get_uint(obj, "big", true, 0, UINT64_MAX, &v, &f, &err), 1);
    assert_true(v == (uint64_t)INT64_MAX);

    v = 99;
    assert_int_equal(bg_json_get_uint(obj, "absent", false, 1, 32, &v, &f, &err), 0);
    assert_int_equal(v, 99);
    assert_refused(bg_json_get_uint(obj, "absent", true, 1, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_MISSING_FIELD, "absent", "field 'absent' is required");
    assert_refused(bg_json_get_uint(obj, "zero", true, 1, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "zero", "field 'zero': 0 is outside 1..32");
    assert_refused(bg_json_get_uint(obj, "hi", true, 1, 31, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "hi", "32 is outside 1..31");
    assert_refused(bg_json_get_uint(obj, "neg", true, 0, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "neg", "-1 is outside 0..32");
    assert_refused(bg_json_get_uint(obj, "big", true, 0, 1048576, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "big", "9223372036854775807 is outside 0..1048576");
    assert_refused(bg_json_get_uint(obj, "real", true, 1, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "real", "field 'real': must be an integer");
    assert_refused(bg_json_get_uint(obj, "frac", true, 1, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "frac", "must be an integer");
    assert_refused(bg_json_get_uint(obj, "str", true, 1, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "str", "must be an integer");
    assert_refused(bg_json_get_uint(obj, "bool", true, 0, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "bool", "must be an integer");
    assert_refused(bg_json_get_uint(obj, "nul", false, 0, 32, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "nul", "must be an integer");
    assert_int_equal(v, 99);
    json_decref(obj);
}

static void test_get_bool(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    bool v = false;
    json_t *obj =
        json_pack("{s:b, s:b, s:i, s:s, s:n}", "yes", 1, "no", 0, "one", 1, "str", "true", "nul");

    assert_int_equal(bg_json_get_bool(obj, "yes", true, &v, &f, &err), 1);
    assert_true(v);
    assert_int_equal(bg_json_get_bool(obj, "no", true, &v, &f, &err), 1);
    assert_false(v);

    v = true;
    assert_int_equal(bg_json_get_bool(obj, "absent", false, &v, &f, &err), 0);
    assert_true(v);
    assert_refused(bg_json_get_bool(obj, "absent", true, &v, &f, &err), &err, &f,
                   BG_PROBLEM_MISSING_FIELD, "absent", "field 'absent' is required");
    assert_refused(bg_json_get_bool(obj, "one", true, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "one", "field 'one': must be true or false");
    assert_refused(bg_json_get_bool(obj, "str", true, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "str", "must be true or false");
    assert_refused(bg_json_get_bool(obj, "nul", false, &v, &f, &err), &err, &f,
                   BG_PROBLEM_INVALID_FIELD, "nul", "must be true or false");
    assert_true(v);
    json_decref(obj);
}

static void test_getters_null_errs(void **state)
{
    (void)state;
    char buf[BG_NAME_MAX + 1];
    char *p = NULL;
    uint64_t u;
    bool b;
    json_t *obj = json_pack("{s:i}", "x", 1);

    assert_int_equal(bg_json_get_name(obj, "x", true, buf, NULL, NULL), -EINVAL);
    assert_int_equal(bg_json_get_path(obj, "y", true, &p, NULL, NULL), -EINVAL);
    assert_int_equal(bg_json_get_uint(obj, "x", true, 2, 3, &u, NULL, NULL), -EINVAL);
    assert_int_equal(bg_json_get_bool(obj, "x", true, &b, NULL, NULL), -EINVAL);
    assert_int_equal(bg_json_check_members(obj, allowed, NULL, NULL), -EINVAL);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_object_good),
        cmocka_unit_test(test_parse_object_malformed),
        cmocka_unit_test(test_parse_object_raw_nul),
        cmocka_unit_test(test_parse_object_position_in_message),
        cmocka_unit_test(test_parse_object_depth),
        cmocka_unit_test(test_parse_object_null_errs),
        cmocka_unit_test(test_check_members),
        cmocka_unit_test(test_unknown_member),
        cmocka_unit_test(test_check_members_long_key),
        cmocka_unit_test(test_get_name),
        cmocka_unit_test(test_get_name_lengths),
        cmocka_unit_test(test_get_path),
        cmocka_unit_test(test_get_uint),
        cmocka_unit_test(test_get_bool),
        cmocka_unit_test(test_getters_null_errs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
