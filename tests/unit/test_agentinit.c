/* SPDX-License-Identifier: MIT */
/* Unit tests for agent/init.c, the parts that run without being PID 1: the device words of
 * the kernel command line and the reading of small files that may be longer than expected. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* The agent is its own static program, not part of a library the tests link: compile its
 * init module and the modules it calls into this test. */
#include "../../agent/cmdline.c"
#include "../../agent/init.c"
#include "../../agent/listener.c"
#include "../../agent/net.c"

/* A device name of n bytes: "/dev/" and then 'x's. */
static char *device_of(size_t n)
{
    char *s = bg_malloc(n + 1);

    memcpy(s, "/dev/", 5);
    memset(s + 5, 'x', n - 5);
    s[n] = '\0';
    return s;
}

static void test_device_words(void **state)
{
    struct boot_args a;
    struct bg_error err = {0};

    (void)state;
    assert_int_equal(parse_cmdline("console=ttyS0 banger.root=/dev/vda banger.overlay=/dev/vdb "
                                   "banger.work=/dev/vdc\n",
                                   &a, &err),
                     0);
    assert_string_equal(a.root, "/dev/vda");
    assert_string_equal(a.overlay, "/dev/vdb");
    assert_string_equal(a.work, "/dev/vdc");
    assert_int_equal(parse_cmdline("quiet", &a, &err), 0);
    assert_string_equal(a.root, "");
    assert_string_equal(a.work, "");
}

/* A device name that does not fit is refused whole: cut, it would name another device. */
static void test_device_word_too_long(void **state)
{
    static const char *const keys[] = {"banger.root", "banger.overlay", "banger.work"};
    bg_autofree char *fits = device_of(sizeof(((struct boot_args *)0)->root) - 1);
    bg_autofree char *over = device_of(sizeof(((struct boot_args *)0)->root));
    struct boot_args a;

    (void)state;
    for (size_t i = 0; i < BG_ARRAY_SIZE(keys); i++) {
        struct bg_error err = {0};
        bg_autofree char *ok = bg_asprintf("%s=%s", keys[i], fits);
        bg_autofree char *bad = bg_asprintf("console=ttyS0 %s=%s quiet", keys[i], over);
        bg_autofree char *want = bg_asprintf("%s= is longer than 63 bytes", keys[i]);
        assert_int_equal(parse_cmdline(ok, &a, &err), 0);
        assert_err(parse_cmdline(bad, &a, &err), err, -EINVAL, want);
    }
}

static void test_read_text(void **state)
{
    bg_autofree char *exact = bg_asprintf("%s/exact", bg_test_dir());
    bg_autofree char *longer = bg_asprintf("%s/longer", bg_test_dir());
    bg_autofree char *missing = bg_asprintf("%s/missing", bg_test_dir());
    bool cut = true;

    (void)state;
    free(bg_test_write_file(exact, "0123456789", 10));
    free(bg_test_write_file(longer, "0123456789a", 11));
    bg_autofree char *e = read_text(exact, 10, &cut);
    assert_string_equal(e, "0123456789");
    assert_false(cut);
    bg_autofree char *l = read_text(longer, 10, &cut);
    assert_string_equal(l, "0123456789");
    assert_true(cut);
    assert_null(read_text(missing, 10, &cut));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_words),
        cmocka_unit_test(test_device_word_too_long),
        cmocka_unit_test(test_read_text),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
