/* SPDX-License-Identifier: MIT */
/* Unit tests for the CLI's column-aligned table printer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

/* Print t into a string the test owns. */
static char *render(const struct bg_cli_table *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    bg_cli_table_print(t, f);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_columns_align_to_widest_cell(void **state)
{
    (void)state;
    static const char *const head[] = {"NAME", "STATE", "VCPUS"};
    static const char *const r1[] = {"web1", "running", "2"};
    static const char *const r2[] = {"a-much-longer-name", "created", "16"};
    struct bg_cli_table *t = bg_cli_table_new(head, 3);

    bg_cli_table_add(t, r1);
    bg_cli_table_add(t, r2);
    char *out = render(t);
    assert_string_equal(out, "NAME                STATE    VCPUS\n"
                             "web1                running  2\n"
                             "a-much-longer-name  created  16\n");
    free(out);
    bg_cli_table_free(t);
}

static void test_header_only_table(void **state)
{
    (void)state;
    static const char *const head[] = {"KEY", "VALUE", "SOURCE"};
    struct bg_cli_table *t = bg_cli_table_new(head, 3);
    char *out = render(t);

    assert_string_equal(out, "KEY  VALUE  SOURCE\n");
    free(out);
    bg_cli_table_free(t);
}

static void test_last_column_has_no_trailing_spaces(void **state)
{
    (void)state;
    static const char *const head[] = {"A", "LONGHEADER"};
    static const char *const r1[] = {"x", "y"};
    struct bg_cli_table *t = bg_cli_table_new(head, 2);

    bg_cli_table_add(t, r1);
    char *out = render(t);
    assert_string_equal(out, "A  LONGHEADER\nx  y\n");
    free(out);
    bg_cli_table_free(t);
}

static void test_null_cells_and_control_characters(void **state)
{
    (void)state;
    static const char *const head[] = {"NAME", "NOTE"};
    static const char *const r1[] = {NULL, "bad\x1b[2Jname\n"};
    struct bg_cli_table *t = bg_cli_table_new(head, 2);

    bg_cli_table_add(t, r1);
    char *out = render(t);
    assert_string_equal(out, "NAME  NOTE\n-     bad?[2Jname?\n");
    free(out);
    bg_cli_table_free(t);
}

static void test_utf8_cells_count_characters_not_bytes(void **state)
{
    (void)state;
    static const char *const head[] = {"CITY", "X"};
    static const char *const r1[] = {"Zürich", "1"};
    static const char *const r2[] = {"Bern", "2"};
    struct bg_cli_table *t = bg_cli_table_new(head, 2);

    bg_cli_table_add(t, r1);
    bg_cli_table_add(t, r2);
    char *out = render(t);
    assert_string_equal(out, "CITY    X\nZürich  1\nBern    2\n");
    free(out);
    bg_cli_table_free(t);
}

static void test_free_accepts_null(void **state)
{
    (void)state;
    struct bg_cli_table *t = NULL;

    bg_cli_table_free(NULL);
    bg_cli_table_freep(&t);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_align_to_widest_cell),
        cmocka_unit_test(test_header_only_table),
        cmocka_unit_test(test_last_column_has_no_trailing_spaces),
        cmocka_unit_test(test_null_cells_and_control_characters),
        cmocka_unit_test(test_utf8_cells_count_characters_not_bytes),
        cmocka_unit_test(test_free_accepts_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
