/* SPDX-License-Identifier: MIT */
/* Unit tests for If-None-Match matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/etag.h"

static void test_matches(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "\"42\"", "*", " * ", "W/\"42\"", "\"1\", \"42\"", "\"1\",\"42\"", "\"42\" , \"7\"",
    };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(bg_http_etag_match(yes[i], "\"42\""));
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const no[] = {
        "\"4\"",        "\"420\"",  "42",           "\"42",     "",     "W/42",
        "\"1\" \"42\"", "*, \"1\"", "\"1\";\"42\"", "w/\"42\"", "\"\"", ",",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(bg_http_etag_match(no[i], "\"42\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
