/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/exec.c: exec request decoding (accepts and every refusal), ids, and
 * lossy UTF-8 of collected output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/exec.h"

static json_t *body(const char *text)
{
    json_error_t jerr;
    /* NUL allowed here (the daemon refuses it earlier) to reach the codec's own check */
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!v)
        fail_msg("bad test literal '%s': %s", text, jerr.text);
    return v;
}

static void test_decode_full(void **state)
{
    (void)state;
    struct bg_exec_request r;
    struct bg_field_error f;
    struct bg_error err;
    json_t *b = body("{\"cmd\":[\"sh\",\"-c\",\"echo $A\"],\"env\":{\"A\":\"1\",\"_b2\":\"x=y\"},"
                     "\"cwd\":\"/root/repo\",\"tty\":true,\"stdin\":true,\"timeout_s\":30}");

    assert_int_equal(bg_exec_request_decode(b, &r, &f, &err), 0);
    assert_int_equal(r.argc, 3);
    assert_string_equal(r.argv[2], "echo $A");
    assert_null(r.argv[3]);
    assert_int_equal(r.envc, 2);
    assert_string_equal(r.env[0], "A=1");
    assert_string_equal(r.env[1], "_b2=x=y");
    assert_null(r.env[2]);
    assert_string_equal(r.cwd, "/root/repo");
    assert_true(r.tty);
    assert_true(r.attach_stdin);
    assert_int_equal(r.timeout_s, 30);

    json_t *back = bg_exec_request_to_json(&r);
    struct bg_exec_request r2;
    assert_int_equal(bg_exec_request_decode(back, &r2, &f, &err), 0);
    assert_string_equal(r2.env[1], "_b2=x=y");
    assert_int_equal(r2.timeout_s, 30);
    bg_exec_request_done(&r2);
    json_decref(back);
    bg_exec_request_done(&r);
    assert_null(r.argv);
    json_decref(b);
}

static void test_decode_defaults(void **state)
{
    (void)state;
    struct bg_exec_request r;
    struct bg_field_error f;
    struct bg_error err;
    json_t *b = body("{\"cmd\":[\"true\"],\"cwd\":\"\"}");

    assert_int_equal(bg_exec_request_decode(b, &r, &f, &err), 0);
    assert_int_equal(r.argc, 1);
    assert_int_equal(r.envc, 0);
    assert_non_null(r.env);
    assert_null(r.env[0]);
    assert_null(r.cwd);
    assert_false(r.tty);
    assert_false(r.attach_stdin);
    assert_int_equal(r.timeout_s, 0);
    bg_exec_request_done(&r);
    json_decref(b);
}

struct refusal {
    const char *body;
    enum bg_problem problem;
    const char *field;
    const char *fragment;
};

static const struct refusal refusals[] = {
    {"{}", BG_PROBLEM_MISSING_FIELD, "cmd", "is required"},
    {"{\"cmd\":\"ls\"}", BG_PROBLEM_INVALID_FIELD, "cmd", "array of strings"},
    {"{\"cmd\":[]}", BG_PROBLEM_INVALID_FIELD, "cmd", "at least the program"},
    {"{\"cmd\":[\"\"]}", BG_PROBLEM_INVALID_FIELD, "cmd", "program name is empty"},
    {"{\"cmd\":[\"ls\",1]}", BG_PROBLEM_INVALID_FIELD, "cmd", "element 1"},
    {"{\"cmd\":[\"a\\u0000b\"]}", BG_PROBLEM_INVALID_FIELD, "cmd", "NUL"},
    {"{\"cmd\":[\"ls\"],\"shell\":true}", BG_PROBLEM_UNKNOWN_FIELD, "shell", "unknown field"},
    {"{\"cmd\":[\"ls\"],\"env\":[]}", BG_PROBLEM_INVALID_FIELD, "env", "object"},
    {"{\"cmd\":[\"ls\"],\"env\":{\"1A\":\"x\"}}", BG_PROBLEM_INVALID_FIELD, "env", "'1A'"},
    {"{\"cmd\":[\"ls\"],\"env\":{\"A-B\":\"x\"}}", BG_PROBLEM_INVALID_FIELD, "env", "'A-B'"},
    {"{\"cmd\":[\"ls\"],\"env\":{\"\":\"x\"}}", BG_PROBLEM_INVALID_FIELD, "env", "not a variable"},
    {"{\"cmd\":[\"ls\"],\"env\":{\"A\":1}}", BG_PROBLEM_INVALID_FIELD, "env", "must be a string"},
    {"{\"cmd\":[\"ls\"],\"env\":{\"A\":\"x\\u0000\"}}", BG_PROBLEM_INVALID_FIELD, "env", "NUL"},
    {"{\"cmd\":[\"ls\"],\"cwd\":\"tmp\"}", BG_PROBLEM_INVALID_FIELD, "cwd", "cwd"},
    {"{\"cmd\":[\"ls\"],\"cwd\":\"/a/../b\"}", BG_PROBLEM_INVALID_FIELD, "cwd", "cwd"},
    {"{\"cmd\":[\"ls\"],\"cwd\":5}", BG_PROBLEM_INVALID_FIELD, "cwd", "must be a string"},
    {"{\"cmd\":[\"ls\"],\"tty\":\"yes\"}", BG_PROBLEM_INVALID_FIELD, "tty", "true or false"},
    {"{\"cmd\":[\"ls\"],\"stdin\":1}", BG_PROBLEM_INVALID_FIELD, "stdin", "true or false"},
    {"{\"cmd\":[\"ls\"],\"timeout_s\":86401}", BG_PROBLEM_INVALID_FIELD, "timeout_s", "0..86400"},
    {"{\"cmd\":[\"ls\"],\"timeout_s\":-1}", BG_PROBLEM_INVALID_FIELD, "timeout_s", "outside"},
    {"{\"cmd\":[\"ls\"],\"timeout_s\":1.5}", BG_PROBLEM_INVALID_FIELD, "timeout_s", "integer"},
};

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal *c = &refusals[i];
        struct bg_exec_request r = {0};
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        json_t *b = body(c->body);
        int rc = bg_exec_request_decode(b, &r, &f, &err);
        json_decref(b);
        if (rc != -EINVAL || err.code != -EINVAL)
            fail_msg("%s: returned %d", c->body, rc);
        if (f.problem != c->problem || strcmp(f.field, c->field))
            fail_msg("%s: problem %d field '%s'", c->body, f.problem, f.field);
        if (!strstr(err.msg, c->fragment))
            fail_msg("%s: message '%s' lacks '%s'", c->body, err.msg, c->fragment);
        assert_null(r.argv);
    }
}

static void test_too_many_args(void **state)
{
    (void)state;
    json_t *cmd = json_array();
    struct bg_exec_request r;
    struct bg_field_error f;
    struct bg_error err;

    for (int i = 0; i <= BG_EXEC_ARGV_MAX; i++)
        json_array_append_new(cmd, json_string("x"));
    json_t *b = json_pack("{s:o}", "cmd", cmd);
    assert_int_equal(bg_exec_request_decode(b, &r, &f, &err), -EINVAL);
    assert_string_equal(f.field, "cmd");
    assert_non_null(strstr(err.msg, "4096"));
    json_array_remove(cmd, 0);
    assert_int_equal(bg_exec_request_decode(b, &r, &f, &err), 0);
    assert_int_equal(r.argc, BG_EXEC_ARGV_MAX);
    bg_exec_request_done(&r);
    json_decref(b);
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(bg_exec_id_valid("exec-0123456789abcdef"));
    assert_false(bg_exec_id_valid("exec-0123456789ABCDEF"));
    assert_false(bg_exec_id_valid("exec-0123456789abcde"));
    assert_false(bg_exec_id_valid("exec-0123456789abcdef0"));
    assert_false(bg_exec_id_valid("job-0123456789abcdefa"));
    assert_false(bg_exec_id_valid(NULL));
}

static void test_env_names(void **state)
{
    (void)state;
    assert_true(bg_exec_env_name_valid("PATH", 4));
    assert_true(bg_exec_env_name_valid("_", 1));
    assert_true(bg_exec_env_name_valid("a1_B", 4));
    assert_false(bg_exec_env_name_valid("1a", 2));
    assert_false(bg_exec_env_name_valid("a.b", 3));
    assert_false(bg_exec_env_name_valid("", 0));
}

static void expect_text(const char *in, size_t len, const char *want, size_t want_len)
{
    json_t *s = bg_exec_text_lossy(in, len);
    assert_non_null(s);
    assert_int_equal(json_string_length(s), want_len);
    assert_memory_equal(json_string_value(s), want, want_len);
    json_decref(s);
}

static void test_text_lossy(void **state)
{
    (void)state;
    expect_text("plain\n", 6, "plain\n", 6);
    expect_text("h\xc3\xa9", 3, "h\xc3\xa9", 3);                               /* é kept */
    expect_text("\xff", 1, "\xef\xbf\xbd", 3);                                 /* bad byte */
    expect_text("a\xc3", 2, "a\xef\xbf\xbd", 4);                               /* cut sequence */
    expect_text("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9); /* surrogate */
    expect_text("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6);                 /* overlong */
    expect_text("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 4);                 /* emoji kept */
    expect_text("a\0b", 3, "a\0b", 3);                                         /* NUL kept */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_full), cmocka_unit_test(test_decode_defaults),
        cmocka_unit_test(test_refusals),    cmocka_unit_test(test_too_many_args),
        cmocka_unit_test(test_ids),         cmocka_unit_test(test_env_names),
        cmocka_unit_test(test_text_lossy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
