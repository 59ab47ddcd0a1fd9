/* SPDX-License-Identifier: MIT */
/* Unit tests for the CLI's progress line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void test_line_steps(void **state)
{
    (void)state;
    char buf[BG_CLI_PROGRESS_MAX];
    struct bg_cli_progress_state s = {.done = 7,
                                      .total = 10,
                                      .unit = "steps",
                                      .step = "rootfs: download packages",
                                      .step_done = 41200000,
                                      .step_total = 91700000,
                                      .step_unit = "bytes"};

    /* a bar fills what the text leaves of the width, less one column */
    assert_string_equal(
        bg_cli_progress_line("building", "dev", &s, 67, 100, buf),
        "building dev  [8/10] rootfs: download packages [############---------------] "
        "44% 39.3/87.5 MiB 1:07");
    assert_int_equal(strlen(buf), 99);
    s.step = "rootfs: set up packages";
    s.step_done = 37;
    s.step_total = 94;
    s.step_unit = "packages";
    assert_string_equal(
        bg_cli_progress_line("building", "dev", &s, 5, 100, buf),
        "building dev  [8/10] rootfs: set up packages [###########-----------------] "
        "39% 37/94 packages 0:05");
    /* too narrow for a bar: the count stays */
    assert_string_equal(bg_cli_progress_line("building", "dev", &s, 5, 60, buf),
                        "building dev  [8/10] rootfs: set up packages  39% 37/94 pac");
    /* a step that counts nothing, a step count with no total */
    s.step_unit = NULL;
    assert_string_equal(bg_cli_progress_line("building", "dev", &s, 125, 80, buf),
                        "building dev  [8/10] rootfs: set up packages  2:05");
    s.step_unit = "packages";
    s.step_total = 0;
    assert_string_equal(bg_cli_progress_line("building", "dev", &s, -1, 80, buf),
                        "building dev  [8/10] rootfs: set up packages  37 packages");
    /* width 0: the text of a log line; the last step counts as itself */
    s.done = 10;
    s.step = "register";
    assert_string_equal(bg_cli_progress_line("building", "dev", &s, 9, 0, buf),
                        "building dev  [10/10] register");
}

static void test_line_bytes(void **state)
{
    (void)state;
    char buf[BG_CLI_PROGRESS_MAX];
    struct bg_cli_progress_state s = {.done = 125829120, .total = 279235379, .unit = "bytes"};

    assert_string_equal(bg_cli_progress_line("importing", "base", &s, 12, 60, buf),
                        "importing base [#######----------] 45% 120.0/266.3 MiB 0:12");
    /* a terminal wider than the buffer is drawn as wide as the buffer allows */
    assert_int_equal(strlen(bg_cli_progress_line("importing", "base", &s, 12, 500, buf)),
                     BG_CLI_PROGRESS_MAX - 1);
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
        cmocka_unit_test(test_line_steps),
        cmocka_unit_test(test_line_bytes),
        cmocka_unit_test(test_not_a_tty_draws_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
