/* SPDX-License-Identifier: MIT */
/* Unit tests for the CLI's progress line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "progress.h"

static void test_format_with_total(void **state)
{
    (void)state;
    char buf[BG_CLI_PROGRESS_MAX];

    /* 120 MiB of 266.3 MiB: 45% */
    assert_string_equal(bg_cli_progress_format("importing", "base", 125829120, 279235379, buf),
                        "importing base  45% 120.0/266.3 MiB");
    assert_string_equal(bg_cli_progress_format("importing", "base", 0, 2048, buf),
                        "importing base  0% 0.0/2.0 KiB");
    assert_string_equal(bg_cli_progress_format("importing", "base", 5000, 4096, buf),
                        "importing base  100% 4.9/4.0 KiB");
}

static void test_format_without_total(void **state)
{
    (void)state;
    char buf[BG_CLI_PROGRESS_MAX];

    assert_string_equal(bg_cli_progress_format("importing", "k", 3u << 30, 0, buf),
                        "importing k  3.0 GiB");
    assert_string_equal(bg_cli_progress_format("importing", "k", 0, 0, buf), "importing k  0.0 B");
}

static void test_not_a_tty_draws_nothing(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct bg_cli_progress p;

    assert_non_null(f);
    bg_cli_progress_init(&p, f);
    bg_cli_progress_update(&p, "importing", "base", 1, 2);
    bg_cli_progress_done(&p);
    assert_int_equal(fclose(f), 0);
    assert_false(p.tty);
    assert_int_equal(len, 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_with_total),
        cmocka_unit_test(test_format_without_total),
        cmocka_unit_test(test_not_a_tty_draws_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
