/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/validate.c: allow-list checks on names and host paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/validate.h"

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
    char *s = bg_malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

struct bad_case {
    const char *input;
    const char *fragment; /* expected in err.msg */
};

static void check_bad(int (*fn)(const char *, struct bg_error *), const struct bad_case *c)
{
    struct bg_error err = {0};
    int r = fn(c->input, &err);

    if (r != -EINVAL)
        fail_msg("'%s': returned %d, want -EINVAL", c->input ? c->input : "(null)", r);
    if (err.code != -EINVAL)
        fail_msg("'%s': err.code %d, want -EINVAL", c->input ? c->input : "(null)", err.code);
    if (!strstr(err.msg, c->fragment))
        fail_msg("'%s': message '%s' lacks '%s'", c->input ? c->input : "(null)", err.msg,
                 c->fragment);
}

static void check_good(int (*fn)(const char *, struct bg_error *), const char *input)
{
    struct bg_error err = {.code = 12345, .msg = "untouched"};
    int r = fn(input, &err);

    if (r != 0)
        fail_msg("'%s': returned %d (%s), want 0", input, r, err.msg);
    /* err is written only on failure */
    assert_int_equal(err.code, 12345);
    assert_string_equal(err.msg, "untouched");
}

static void test_name_good(void **state)
{
    (void)state;
    bg_autofree char *max = repeat('a', BG_NAME_MAX);
    const char *good[] = {"a", "0", "web1", "web-1", "a-b-c", "1a", "a--b", "9-9", max};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        check_good(bg_name_validate, good[i]);
}

static void test_name_bad(void **state)
{
    (void)state;
    bg_autofree char *too_long = repeat('a', BG_NAME_MAX + 1);
    const struct bad_case bad[] = {
        {NULL, "empty"},
        {"", "empty"},
        {too_long, "64 characters long; the limit is 63"},
        {"Web", "found 'W' at 1"},
        {"weB", "found 'B' at 3"},
        {"-web", "must start and end with a letter or digit"},
        {"web-", "must start and end with a letter or digit"},
        {"-", "must start and end"},
        {"my_vm", "found '_' at 3"},
        {"a.b", "found '.' at 2"},
        {"a b", "found ' ' at 2"},
        {"a/b", "found '/' at 2"},
        {"tab\there", "found '?' at 4"},
        {"nl\n", "found '?' at 3"},
        {"del\x7f", "found '?' at 4"},
        {"caf\xc3\xa9", "may contain only a-z, 0-9 and '-'"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_bad(bg_name_validate, &bad[i]);
}

static void test_name_null_err(void **state)
{
    (void)state;
    assert_int_equal(bg_name_validate("Bad", NULL), -EINVAL);
    assert_int_equal(bg_name_validate("good", NULL), 0);
}

static void test_package_good(void **state)
{
    (void)state;
    bg_autofree char *max = repeat('p', BG_PACKAGE_MAX);
    const char *good[] = {"gcc", "g++", "libc6-dev", "python3.11", "0ad", "ab", "a+.-b", max};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        check_good(bg_package_validate, good[i]);
}

static void test_package_bad(void **state)
{
    (void)state;
    bg_autofree char *too_long = repeat('p', BG_PACKAGE_MAX + 1);
    const struct bad_case bad[] = {
        {NULL, "package name is empty"},
        {"", "package name is empty"},
        {too_long, "65 characters long; the limit is 64"},
        {"a", "'a' is shorter than 2 characters"},
        {"Gcc", "found 'G' at 1"},
        {"-gcc", "found '-' at 1"},
        {"+gcc", "found '+' at 1"},
        {"gcc=12", "found '=' at 4"},
        {"gcc:amd64", "found ':' at 4"},
        {"gcc/bookworm", "found '/' at 4"},
        {"g cc", "found ' ' at 2"},
        {"gcc,make", "found ',' at 4"},
        {"gc\n", "found '?' at 3"},
        {"gc\x01", "found '?' at 3"},
        {"caf\xc3\xa9", "may contain only a-z, 0-9, '+', '.' and '-'"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_bad(bg_package_validate, &bad[i]);
}

static void test_path_good(void **state)
{
    (void)state;
    /* BG_PATH_MAX bytes in all: "/" + 4094 letters */
    bg_autofree char *tail = repeat('p', BG_PATH_MAX - 1);
    bg_autofree char *max = bg_asprintf("/%s", tail);
    const char *good[] = {
        "/",      "/srv/vmlinux", "/srv/images/rootfs.ext4",         "/a/.hidden",   "/a/..b",
        "/a/b..", "/a/...",       "/with space/and-dash_underscore", "/caf\xc3\xa9", max,
    };

    assert_int_equal(strlen(max), BG_PATH_MAX);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        check_good(bg_path_validate, good[i]);
}

static void test_path_bad(void **state)
{
    (void)state;
    bg_autofree char *tail = repeat('p', BG_PATH_MAX);
    bg_autofree char *too_long = bg_asprintf("/%s", tail);
    const struct bad_case bad[] = {
        {NULL, "path is empty"},
        {"", "path is empty"},
        {too_long, "longer than 4095 bytes"},
        {"srv/vmlinux", "'srv/vmlinux' is not absolute"},
        {"./vmlinux", "not absolute"},
        {"../vmlinux", "not absolute"},
        {"~/vmlinux", "not absolute"},
        {"//srv", "not normalised"},
        {"/srv//vmlinux", "'/srv//vmlinux' is not normalised"},
        {"/srv/./vmlinux", "not normalised (empty, '.' or '..' component)"},
        {"/srv/../etc/shadow", "not normalised"},
        {"/.", "not normalised"},
        {"/..", "not normalised"},
        {"/srv/.", "not normalised"},
        {"/srv/..", "not normalised"},
        {"/srv/vm\nlinux", "control character"},
        {"/srv/\tx", "control character"},
        {"/srv/\x1b[31m", "control character"},
        {"/srv/\x7f", "control character"},
        {"/srv/\xff", "not valid UTF-8"},
        {"/srv/\xc0\xaf", "not valid UTF-8"},     /* overlong '/' */
        {"/srv/\xed\xa0\x80", "not valid UTF-8"}, /* surrogate */
        {"/srv/\xe2\x82", "not valid UTF-8"},     /* truncated */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        check_bad(bg_path_validate, &bad[i]);
}

static void test_path_null_err(void **state)
{
    (void)state;
    assert_int_equal(bg_path_validate("relative", NULL), -EINVAL);
    assert_int_equal(bg_path_validate("/abs", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_good),     cmocka_unit_test(test_name_bad),
        cmocka_unit_test(test_package_good),  cmocka_unit_test(test_package_bad),
        cmocka_unit_test(test_name_null_err), cmocka_unit_test(test_path_good),
        cmocka_unit_test(test_path_bad),      cmocka_unit_test(test_path_null_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
