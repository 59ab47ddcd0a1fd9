/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/auth.c: the Authorization header's bearer credential (a table of
 * good and malformed headers) and the route scope check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/macro.h"
#include "banger/token.h"
#include "banger/utf8.h"
#include "http/auth.h"
#include "testutil.h"

static void test_bearer(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        const char *token; /* what is taken, or NULL for a refusal */
        int code;
        const char *fragment;
    } cases[] = {
        {"Bearer bgr_x", "bgr_x", 0, NULL},
        {"bearer bgr_x", "bgr_x", 0, NULL},
        {"BEARER   bgr_x  ", "bgr_x", 0, NULL},
        {"Bearer a-b.c_d~e+f/g==", "a-b.c_d~e+f/g==", 0, NULL},
        {NULL, NULL, -ENOENT, "needs a token"},
        {"", NULL, -EINVAL, "Bearer scheme"},
        {"Bearer", NULL, -EINVAL, "Bearer scheme"},
        {"Bearerbgr_x", NULL, -EINVAL, "Bearer scheme"},
        {"Basic Zm9vOmJhcg==", NULL, -EINVAL, "Bearer scheme"},
        {"Bearer\tbgr_x", NULL, -EINVAL, "Bearer scheme"},
        {"Bearer ", NULL, -EINVAL, "no token after 'Bearer'"},
        {"Bearer    ", NULL, -EINVAL, "no token"},
        {"Bearer bgr_x extra", NULL, -EINVAL, "something follows it"},
        {"Bearer bgr_x,other", NULL, -EINVAL, "cannot hold"},
        {"Bearer bgr_\xc3\xa9", NULL, -EINVAL, "cannot hold"},
        {"Bearer =abc", NULL, -EINVAL, "cannot hold"},
        {"Bearer abc=d", NULL, -EINVAL, "cannot hold"},
        {"Bearer \"bgr_x\"", NULL, -EINVAL, "no token"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        const char *tok = NULL;
        size_t len = 0;
        struct bg_error err = {0};
        int r = bg_http_bearer_parse(cases[i].header, &tok, &len, &err);
        if (cases[i].token) {
            if (r != 0)
                fail_msg("case %zu refused: %s", i, err.msg);
            assert_int_equal(len, strlen(cases[i].token));
            assert_memory_equal(tok, cases[i].token, len);
            continue;
        }
        if (r == 0)
            fail_msg("case %zu accepted", i);
        assert_err(r, err, cases[i].code, cases[i].fragment);
        assert_true(bg_utf8_valid(err.msg, strlen(err.msg)));
    }
}

static void test_bearer_too_long(void **state)
{
    (void)state;
    char header[BG_HTTP_BEARER_MAX + 16];
    const char *tok;
    size_t len;
    struct bg_error err = {0};

    memcpy(header, "Bearer ", 7);
    memset(header + 7, 'a', BG_HTTP_BEARER_MAX);
    header[7 + BG_HTTP_BEARER_MAX] = '\0';
    assert_int_equal(bg_http_bearer_parse(header, &tok, &len, &err), 0);
    assert_int_equal(len, BG_HTTP_BEARER_MAX);
    header[7 + BG_HTTP_BEARER_MAX] = 'a';
    header[8 + BG_HTTP_BEARER_MAX] = '\0';
    assert_err(bg_http_bearer_parse(header, &tok, &len, &err), err, -EINVAL, "over 1024 bytes");
}

static void test_scope_check(void **state)
{
    (void)state;
    static const struct {
        unsigned scope, granted;
        int code;
        enum bg_problem problem;
        const char *fragment;
    } cases[] = {
        {BG_SCOPE_READ, BG_SCOPE_READ, 0, 0, NULL},
        {BG_SCOPE_READ, BG_SCOPE_ALL, 0, 0, NULL},
        {BG_SCOPE_ANY, BG_SCOPE_EXEC, 0, 0, NULL},
        {BG_SCOPE_EXEC, BG_SCOPE_EXEC | BG_SCOPE_READ, 0, 0, NULL},
        {BG_SCOPE_WRITE, BG_SCOPE_READ, -EPERM, BG_PROBLEM_INSUFFICIENT_SCOPE,
         "needs a token with the 'write' scope; this one has read"},
        {BG_SCOPE_EXEC, BG_SCOPE_READ | BG_SCOPE_WRITE, -EPERM, BG_PROBLEM_INSUFFICIENT_SCOPE,
         "'exec' scope; this one has read, write"},
        {BG_SCOPE_ADMIN, BG_SCOPE_READ | BG_SCOPE_WRITE | BG_SCOPE_EXEC, -EPERM,
         BG_PROBLEM_INSUFFICIENT_SCOPE, "'admin'"},
        /* a route that declares nothing is never served over TCP, whatever the token holds */
        {0, BG_SCOPE_ALL, -EPERM, BG_PROBLEM_LOCAL_ONLY, "unix socket only, not over TCP"},
        {0, 0, -EPERM, BG_PROBLEM_LOCAL_ONLY, "unix socket only"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        enum bg_problem p = BG_PROBLEM_INTERNAL;
        struct bg_error err = {0};
        int r = bg_http_scope_check(cases[i].scope, cases[i].granted, "POST", "/v1/x", &p, &err);
        if (!cases[i].code) {
            assert_int_equal(r, 0);
            continue;
        }
        assert_err(r, err, cases[i].code, cases[i].fragment);
        assert_int_equal(p, cases[i].problem);
        assert_non_null(strstr(err.msg, "POST /v1/x "));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_bearer_too_long),
        cmocka_unit_test(test_scope_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
