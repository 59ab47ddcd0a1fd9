/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/parse.c: strict, bounded decimal parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/parse.h"
#include "banger/utf8.h"

struct good_case {
    const char *input;
    uint64_t min, max;
    uint64_t want;
};

struct bad_case {
    const char *input;
    uint64_t min, max;
    int code;             /* -EINVAL or -ERANGE */
    const char *fragment; /* expected in err.msg */
};

static void test_good(void **state)
{
    (void)state;
    const struct good_case good[] = {
        {"0", 0, UINT64_MAX, 0},
        {"1", 0, UINT64_MAX, 1},
        {"42", 0, 100, 42},
        {"10", 10, 10, 10},                                  /* min == max == value */
        {"128", 128, 65536, 128},                            /* lower bound inclusive */
        {"65536", 128, 65536, 65536},                        /* upper bound inclusive */
        {"18446744073709551615", 0, UINT64_MAX, UINT64_MAX}, /* 2^64 - 1 */
        {"9223372036854775808", 0, UINT64_MAX, 9223372036854775808ull},
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct bg_error err = {.code = 7, .msg = "untouched"};
        uint64_t v = 12345;
        int r = bg_parse_u64(good[i].input, good[i].min, good[i].max, &v, &err);
        if (r != 0)
            fail_msg("'%s': returned %d (%s)", good[i].input, r, err.msg);
        if (v != good[i].want)
            fail_msg("'%s': got %llu", good[i].input, (unsigned long long)v);
        assert_int_equal(err.code, 7);
        assert_string_equal(err.msg, "untouched");
    }
}

static void test_bad(void **state)
{
    (void)state;
    const struct bad_case bad[] = {
        {NULL, 0, 10, -EINVAL, "empty number"},
        {"", 0, 10, -EINVAL, "empty number"},
        {"-1", 0, 10, -EINVAL, "'-1' is not a decimal number"},
        {"+1", 0, 10, -EINVAL, "'+1' is not a decimal number"},
        {" 1", 0, 10, -EINVAL, "not a decimal number"},
        {"1 ", 0, 10, -EINVAL, "not a decimal number"},
        {"1\n", 0, 10, -EINVAL, "not a decimal number"},
        {"1.5", 0, 10, -EINVAL, "not a decimal number"},
        {"1e3", 0, 10000, -EINVAL, "not a decimal number"},
        {"abc", 0, 10, -EINVAL, "not a decimal number"},
        {"12a", 0, 100, -EINVAL, "'12a' is not a decimal number"},
        {"01", 0, 10, -EINVAL, "'01' has a leading zero"},
        {"00", 0, 10, -EINVAL, "leading zero"},
        {"0x10", 0, 100, -EINVAL, "'0x10' has a leading zero"},
        {"x10", 0, 100, -EINVAL, "not a decimal number"},
        {"\xd9\xa3", 0, 10, -EINVAL, "not a decimal number"}, /* Arabic-Indic three */
        {"18446744073709551616", 0, UINT64_MAX, -ERANGE, "'18446744073709551616' is too large"},
        {"18446744073709551620", 0, UINT64_MAX, -ERANGE, "too large"},
        {"99999999999999999999999", 0, UINT64_MAX, -ERANGE, "too large"},
        {"11", 0, 10, -ERANGE, "11 is outside 0..10"},
        {"0", 1, 10, -ERANGE, "0 is outside 1..10"},
        {"127", 128, 65536, -ERANGE, "127 is outside 128..65536"},
        {"65537", 128, 65536, -ERANGE, "65537 is outside 128..65536"},
        {"18446744073709551615", 0, UINT64_MAX - 1, -ERANGE,
         "18446744073709551615 is outside 0..18446744073709551614"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_error err = {0};
        uint64_t v = 12345;
        const char *in = bad[i].input ? bad[i].input : "(null)";
        int r = bg_parse_u64(bad[i].input, bad[i].min, bad[i].max, &v, &err);
        if (r != bad[i].code)
            fail_msg("'%s': returned %d, want %d", in, r, bad[i].code);
        if (err.code != bad[i].code)
            fail_msg("'%s': err.code %d, want %d", in, err.code, bad[i].code);
        if (!strstr(err.msg, bad[i].fragment))
            fail_msg("'%s': message '%s' lacks '%s'", in, err.msg, bad[i].fragment);
        /* outputs are written only on success */
        if (v != 12345)
            fail_msg("'%s': *ret changed to %llu on failure", in, (unsigned long long)v);
    }
}

static void test_long_input_truncated_in_message(void **state)
{
    (void)state;
    char input[200];
    struct bg_error err = {0};
    uint64_t v;

    memset(input, '7', sizeof(input) - 2);
    input[sizeof(input) - 2] = 'x';
    input[sizeof(input) - 1] = '\0';
    /* overflow is noticed before the stray 'x' */
    assert_int_equal(bg_parse_u64(input, 0, UINT64_MAX, &v, &err), -ERANGE);
    assert_non_null(strstr(err.msg, "is too large"));
    /* the echo of the input is a clipped quote */
    assert_true(strlen(err.msg) < BG_QUOTE_MAX + sizeof("'' is too large"));
}

static void test_null_err(void **state)
{
    (void)state;
    uint64_t v = 0;

    assert_int_equal(bg_parse_u64("x", 0, 10, &v, NULL), -EINVAL);
    assert_int_equal(bg_parse_u64("11", 0, 10, &v, NULL), -ERANGE);
    assert_int_equal(bg_parse_u64("7", 0, 10, &v, NULL), 0);
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_long_input_truncated_in_message),
        cmocka_unit_test(test_null_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
