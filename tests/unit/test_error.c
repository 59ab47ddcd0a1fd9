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
#include "banger/utf8.h"

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
    assert_int_equal(bg_error_prefix(&err, -EBUSY, "start vm '%s'", "web1"), -EBUSY);
    assert_int_equal(err.code, -EBUSY);
    assert_string_equal(err.msg, "start vm 'web1': open tap 'bg3': Device or resource busy");

    /* context stacks outermost first */
    assert_int_equal(bg_error_prefix(&err, -EBUSY, "reconcile"), -EBUSY);
    assert_string_equal(err.msg,
                        "reconcile: start vm 'web1': open tap 'bg3': Device or resource busy");
}

/* Without err the caller's code still comes back: context never turns a failure into -EIO. */
static void test_prefix_null_err(void **state)
{
    (void)state;
    assert_int_equal(bg_error_prefix(NULL, -ENOENT, "context %d", 1), -ENOENT);
    assert_int_equal(bg_error_prefix(NULL, BG_ERR(BG_PROBLEM_VM_NOT_FOUND), "x"),
                     BG_ERR(BG_PROBLEM_VM_NOT_FOUND));
}

/* A message cut at the cap ends on a character boundary, and invalid bytes become '?': the
 * message is always well-formed UTF-8, so it can go into JSON. */
static void test_set_utf8(void **state)
{
    (void)state;
    struct bg_error err = {0};
    char big[BG_ERROR_MSG_MAX + 8];

    /* two-byte characters: the 511 bytes that fit end in the middle of one */
    for (size_t i = 0; i + 2 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof(big) - 1] = '\0';
    (void)bg_error_set(&err, -EINVAL, "%s", big);
    assert_true(bg_utf8_valid(err.msg, strlen(err.msg)));
    assert_int_equal(strlen(err.msg), BG_ERROR_MSG_MAX - 2);
    (void)bg_error_set(&err, -EINVAL, "name '%s' bad", "x\xffy\xc3");
    assert_string_equal(err.msg, "name 'x?y?' bad");
    assert_int_equal(bg_error_prefix(&err, -EINVAL, "ctx \xe2\x82"), -EINVAL);
    assert_string_equal(err.msg, "ctx ??: name 'x?y?' bad");
}

/* BG_ERR codes name their problem and are never mistaken for an errno. */
static void test_problem_codes(void **state)
{
    enum bg_problem p;

    (void)state;
    assert_true(bg_error_is_problem(BG_ERR(BG_PROBLEM_IMAGE_NOT_READY), &p));
    assert_int_equal(p, BG_PROBLEM_IMAGE_NOT_READY);
    assert_true(bg_error_is_problem(BG_ERR(0), NULL));
    assert_false(bg_error_is_problem(-ENOENT, &p));
    assert_false(bg_error_is_problem(-4095, &p));
    assert_false(bg_error_is_problem(BG_ERR(BG_PROBLEM_COUNT_), &p));
    assert_false(bg_error_is_problem(0, &p));
}

static void test_prefix_truncates_tail(void **state)
{
    (void)state;
    struct bg_error err = {0};
    char big[BG_ERROR_MSG_MAX];

    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    (void)bg_error_set(&err, -EINVAL, "%s", big);
    assert_int_equal(bg_error_prefix(&err, -EINVAL, "ctx"), -EINVAL);
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
        cmocka_unit_test(test_set_utf8),
        cmocka_unit_test(test_problem_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
