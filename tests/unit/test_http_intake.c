/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/intake.c: the unescape callback's decoder and the checks of the
 * target, path, query and headers, each a table of good and bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/macro.h"
#include "banger/utf8.h"
#include "http/intake.h"

/* A refusal: -EINVAL, problem p, a message holding fragment, valid UTF-8. */
static void expect_refusal(int r, const struct bg_http_refusal *ref, enum bg_problem p,
                           const char *fragment)
{
    assert_int_equal(r, -EINVAL);
    assert_int_equal(ref->problem, p);
    assert_true(bg_utf8_valid(ref->msg, strlen(ref->msg)));
    if (!strstr(ref->msg, fragment))
        fail_msg("'%s' lacks '%s'", ref->msg, fragment);
}

static void test_unescape(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        bool nul;
    } cases[] = {
        {"", "", false},
        {"/v1/vms", "/v1/vms", false},
        {"a%20b", "a b", false},
        {"%41%62%7e", "Ab~", false},
        {"%c3%a9", "\xc3\xa9", false},
        {"%C3%A9", "\xc3\xa9", false},
        {"%ff", "\xff", false},
        /* a '%' without two hex digits stays as it is */
        {"%", "%", false},
        {"%4", "%4", false},
        {"%zz", "%zz", false},
        {"%%41", "%A", false},
        {"100%", "100%", false},
        /* %00 is never decoded, wherever it is, and says so */
        {"a%00b", "a%00b", true},
        {"%00", "%00", true},
        {"x%2500", "x%00", false},
        {"%41%00%42", "A%00B", true},
        {"a%00%00", "a%00%00", true},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        char buf[64];
        bool nul = false;
        strcpy(buf, cases[i].in);
        size_t n = bg_http_unescape(buf, &nul);
        if (strcmp(buf, cases[i].out) || n != strlen(cases[i].out) || nul != cases[i].nul)
            fail_msg("'%s': got '%s' (%zu, nul %d), want '%s' (nul %d)", cases[i].in, buf, n, nul,
                     cases[i].out, cases[i].nul);
    }
}

/* The decoder never writes a NUL before the end, whatever the input. */
static void test_unescape_every_byte(void **state)
{
    (void)state;
    for (int hi = 0; hi < 16; hi++) {
        for (int lo = 0; lo < 16; lo++) {
            char buf[8];
            bool nul = false;
            snprintf(buf, sizeof(buf), "x%%%X%xy", hi, lo);
            size_t n = bg_http_unescape(buf, &nul);
            assert_int_equal(n, strlen(buf));
            assert_int_equal(nul, hi == 0 && lo == 0);
        }
    }
}

static void test_target(void **state)
{
    (void)state;
    struct bg_http_refusal ref;
    char big[BG_HTTP_TARGET_MAX + 2];

    assert_int_equal(bg_http_check_target("/v1/vms?state=running", 21, &ref), 0);
    assert_int_equal(bg_http_check_target("/v1/vms/caf\xc3\xa9", 13, &ref), 0);

    memset(big, 'a', sizeof(big));
    big[0] = '/';
    assert_int_equal(bg_http_check_target(big, BG_HTTP_TARGET_MAX, &ref), 0);
    expect_refusal(bg_http_check_target(big, BG_HTTP_TARGET_MAX + 1, &ref), &ref,
                   BG_PROBLEM_URI_TOO_LONG, "8193 bytes long; the limit is 8192");

    static const struct {
        const char *raw;
        size_t len;
        const char *fragment;
    } bad[] = {
        {"/v1/vms/a b", 11, "byte 0x20 at offset 9"},
        {"/v1/vms\t", 8, "byte 0x09 at offset 7"},
        {"/v1/\x01", 5, "byte 0x01"},
        {"/v1/\x7f", 5, "byte 0x7f"},
        {"/v1/vms/a\0b", 11, "byte 0x00 at offset 9"},
    };
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++)
        expect_refusal(bg_http_check_target(bad[i].raw, bad[i].len, &ref), &ref,
                       BG_PROBLEM_INVALID_PATH, bad[i].fragment);
}

static void test_path(void **state)
{
    (void)state;
    struct bg_http_refusal ref;

    assert_int_equal(bg_http_check_path("/v1/vms/web1", &ref), 0);
    assert_int_equal(bg_http_check_path("/v1/vms/caf\xc3\xa9 x", &ref), 0);

    static const struct {
        const char *path, *fragment;
    } bad[] = {
        {"/v1/vms/a\xff", "is not valid UTF-8"},
        /* a valid character cut in the middle */
        {"/v1/vms/caf\xc3", "is not valid UTF-8"},
        {"/v1/vms/\xe2\x82", "is not valid UTF-8"},
        {"/v1/vms/\xc0\xaf", "is not valid UTF-8"},
        {"/v1/vms/\xed\xa0\x80", "is not valid UTF-8"},
        {"/v1/vms/a\nb", "holds a control character"},
        {"/v1/vms/a\tb", "holds a control character"},
        {"/v1/vms/\x7f", "holds a control character"},
        {"/v1/vms/\x1b[31m", "holds a control character"},
    };
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++)
        expect_refusal(bg_http_check_path(bad[i].path, &ref), &ref, BG_PROBLEM_INVALID_PATH,
                       bad[i].fragment);
    /* the path is quoted, never echoed raw: the message is UTF-8 whatever the input */
    expect_refusal(bg_http_check_path("/v1/\xff\xfe", &ref), &ref, BG_PROBLEM_INVALID_PATH,
                   "the path '/v1/");
}

static void test_query_text(void **state)
{
    (void)state;
    struct bg_http_refusal ref;
    struct bg_http_arg ok[] = {{"state", "running"}, {"flag", NULL}, {"w", "caf\xc3\xa9"}};

    assert_int_equal(bg_http_check_query_text(ok, BG_ARRAY_SIZE(ok), &ref), 0);
    assert_int_equal(bg_http_check_query_text(NULL, 0, &ref), 0);

    static const struct {
        struct bg_http_arg arg;
        const char *fragment;
    } bad[] = {
        {{"st\xff", "x"}, "query parameter 'st?' is not valid UTF-8"},
        {{"state", "run\xc3"}, "the value of query parameter 'state' is not valid UTF-8"},
        {{"a\x01", NULL}, "holds a control character"},
        {{"state", "x\ny"}, "the value of query parameter 'state' holds a control character"},
    };
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++)
        expect_refusal(bg_http_check_query_text(&bad[i].arg, 1, &ref), &ref,
                       BG_PROBLEM_INVALID_QUERY, bad[i].fragment);

    struct bg_http_arg many[BG_HTTP_QUERY_MAX + 1];
    for (size_t i = 0; i < BG_ARRAY_SIZE(many); i++)
        many[i] = (struct bg_http_arg){"k", "v"};
    assert_int_equal(bg_http_check_query_text(many, BG_HTTP_QUERY_MAX, &ref), 0);
    expect_refusal(bg_http_check_query_text(many, BG_ARRAY_SIZE(many), &ref), &ref,
                   BG_PROBLEM_INVALID_QUERY, "more than 16 parameters");
}

static void test_query_keys(void **state)
{
    (void)state;
    struct bg_http_refusal ref;
    static const char *const allowed[] = {"state", "wait", NULL};
    struct bg_http_arg ok[] = {{"state", "running"}, {"wait", "3"}};

    assert_int_equal(bg_http_check_query_keys(ok, 2, allowed, &ref), 0);
    assert_int_equal(bg_http_check_query_keys(NULL, 0, NULL, &ref), 0);

    struct bg_http_arg unknown[] = {{"state", "x"}, {"force", "true"}};
    expect_refusal(bg_http_check_query_keys(unknown, 2, allowed, &ref), &ref,
                   BG_PROBLEM_INVALID_QUERY, "unknown query parameter 'force'");
    expect_refusal(bg_http_check_query_keys(ok, 1, NULL, &ref), &ref, BG_PROBLEM_INVALID_QUERY,
                   "unknown query parameter 'state'");
    struct bg_http_arg twice[] = {{"wait", "1"}, {"state", "x"}, {"wait", "2"}};
    expect_refusal(bg_http_check_query_keys(twice, 3, allowed, &ref), &ref,
                   BG_PROBLEM_INVALID_QUERY, "query parameter 'wait' is given more than once");
    /* a key without '=' counts as given */
    struct bg_http_arg bare[] = {{"wait", NULL}, {"wait", "2"}};
    expect_refusal(bg_http_check_query_keys(bare, 2, allowed, &ref), &ref, BG_PROBLEM_INVALID_QUERY,
                   "more than once");
}

static void test_header(void **state)
{
    (void)state;
    struct bg_http_refusal ref;

    assert_int_equal(bg_http_check_header("Content-Type", "application/json", &ref), 0);
    assert_int_equal(bg_http_check_header("X-Note", "caf\xc3\xa9\tand more", &ref), 0);
    assert_int_equal(bg_http_check_header("X-Empty", "", &ref), 0);
    assert_int_equal(bg_http_check_header("X-Null", NULL, &ref), 0);

    static const struct {
        const char *name, *value, *fragment;
    } bad[] = {
        {"X-\xff", "v", "the name of header 'X-?' is not valid UTF-8"},
        {"X-A\x01", "v", "the name of header 'X-A\x01' holds a control character"},
        {"X-A\tB", "v", "holds a control character"},
        {"X-Note", "caf\xc3", "the value of header 'X-Note' is not valid UTF-8"},
        {"X-Note", "a\x01", "the value of header 'X-Note' holds a control character"},
        {"X-Note", "a\x7f", "holds a control character"},
    };
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++)
        expect_refusal(bg_http_check_header(bad[i].name, bad[i].value, &ref), &ref,
                       BG_PROBLEM_INVALID_HEADER, bad[i].fragment);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unescape),   cmocka_unit_test(test_unescape_every_byte),
        cmocka_unit_test(test_target),     cmocka_unit_test(test_path),
        cmocka_unit_test(test_query_text), cmocka_unit_test(test_query_keys),
        cmocka_unit_test(test_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
