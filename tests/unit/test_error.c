/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/error.c: set, errno and prefix semantics. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/error.h"

static void test_set(void **state)
{
    (void)state;
    struct bg_error err = {0};

    assert_int_equal(bg_error_set(&err, -EINVAL, "bad %s %d", "thing", 7), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.msg, "bad thing 7");

    /* a second set replaces the first */
    assert_int_equal(bg_error_set(&err, -ENOENT, "gone"), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    assert_string_equal(err.msg, "gone");
}

static void test_set_null_err(void **state)
{
    (void)state;
    assert_int_equal(bg_error_set(NULL, -EBUSY, "busy %d", 1), -EBUSY);
}

static void test_set_truncates(void **state)
{
    (void)state;
    struct bg_error err = {0};
    char big[BG_ERROR_MSG_MAX * 2];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(bg_error_set(&err, -E2BIG, "%s", big), -E2BIG);
    assert_int_equal(strlen(err.msg), BG_ERROR_MSG_MAX - 1);
    assert_int_equal(err.code, -E2BIG);
}

static void test_errno(void **state)
{
    (void)state;
    struct bg_error err = {0};

    errno = ENOENT;
    assert_int_equal(bg_error_errno(&err, "open %s", "/srv/vmlinux"), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    assert_string_equal(err.msg, "open /srv/vmlinux: No such file or directory");

    errno = EACCES;
    assert_int_equal(bg_error_errno(&err, "read"), -EACCES);
    assert_string_equal(err.msg, "read: Permission denied");
}

static void test_errno_zero_is_eio(void **state)
{
    (void)state;
    struct bg_error err = {0};

    /* a caller that forgot to check errno still gets a failure code, never 0 */
    errno = 0;
    assert_int_equal(bg_error_errno(&err, "mystery"), -EIO);
    assert_int_equal(err.code, -EIO);
    assert_non_null(strstr(err.msg, "mystery: "));
    assert_non_null(strstr(err.msg, strerror(EIO)));
}

static void test_errno_null_err(void **state)
{
    (void)state;
    errno = EPERM;
    assert_int_equal(bg_error_errno(NULL, "x"), -EPERM);
    errno = 0;
    assert_int_equal(bg_error_errno(NULL, "x"), -EIO);
}

static void test_prefix(void **state)
{
    (void)state;
    struct bg_error err = {0};

    errno = EBUSY;
    (void)bg_error_errno(&err, "open tap '%s'", "bg3");
    assert_int_equal(bg_error_prefix(&err, "start vm '%s'", "web1"), -EBUSY);
    assert_int_equal(err.code, -EBUSY);
    assert_string_equal(err.msg, "start vm 'web1': open tap 'bg3': Device or resource busy");

    /* context stacks outermost first */
    assert_int_equal(bg_error_prefix(&err, "reconcile"), -EBUSY);
    assert_string_equal(err.msg,
                        "reconcile: start vm 'web1': open tap 'bg3': Device or resource busy");
}

static void test_prefix_null_err(void **state)
{
    (void)state;
    assert_int_equal(bg_error_prefix(NULL, "context %d", 1), -EIO);
}

static void test_prefix_truncates_tail(void **state)
{
    (void)state;
    struct bg_error err = {0};
    char big[BG_ERROR_MSG_MAX];

    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    (void)bg_error_set(&err, -EINVAL, "%s", big);
    assert_int_equal(bg_error_prefix(&err, "ctx"), -EINVAL);
    /* the context survives; what falls off is the end of the old message */
    assert_int_equal(strncmp(err.msg, "ctx: yyy", 8), 0);
    assert_int_equal(strlen(err.msg), BG_ERROR_MSG_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_set_null_err),
        cmocka_unit_test(test_set_truncates),
        cmocka_unit_test(test_errno),
        cmocka_unit_test(test_errno_zero_is_eio),
        cmocka_unit_test(test_errno_null_err),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_prefix_null_err),
        cmocka_unit_test(test_prefix_truncates_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
