/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/recipe.c: recipe names and the package lists of dev images. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "image/recipe.h"
#include "testutil.h"

static void test_recipe_names(void **state)
{
    (void)state;
    enum bg_recipe r = BG_RECIPE_COUNT_;
    struct bg_error err;

    assert_int_equal(bg_recipe_parse("dev", &r, &err), 0);
    assert_int_equal(r, BG_RECIPE_DEV);
    assert_int_equal(bg_recipe_parse("minimal", &r, &err), 0);
    assert_int_equal(r, BG_RECIPE_MINIMAL);
    assert_string_equal(bg_recipe_name(BG_RECIPE_DEV), "dev");
    assert_string_equal(bg_recipe_name(BG_RECIPE_MINIMAL), "minimal");
    assert_int_equal(BG_RECIPE_DEFAULT, BG_RECIPE_DEV);
    assert_err(bg_recipe_parse("Dev", &r, &err), err, -EINVAL,
               "recipe 'Dev' is not one of dev, minimal");
    assert_err(bg_recipe_parse(NULL, &r, &err), err, -EINVAL,
               "recipe '' is not one of dev, minimal");
    assert_err(bg_recipe_parse("dev\xff", &r, &err), err, -EINVAL, "is not one of");
}

static void test_dev_packages(void **state)
{
    (void)state;
    const char *request[] = {"vim", "git", "strace"};
    struct bg_pkglist l;
    struct bg_error err;

    assert_int_equal(bg_recipe_dev_packages(NULL, NULL, 0, &l, &err), 0);
    bg_autofree char *base = bg_pkglist_join(&l, ",");
    assert_string_equal(base, "build-essential,ca-certificates,curl,git,iproute2,less,make,"
                              "openssh-server,procps,python3");
    bg_pkglist_done(&l);
    /* config and request add to the base; the same set in any order gives the same list */
    assert_int_equal(bg_recipe_dev_packages("jq, vim\tgdb", request, 3, &l, &err), 0);
    bg_autofree char *all = bg_pkglist_join(&l, " ");
    assert_string_equal(all, "build-essential ca-certificates curl gdb git iproute2 jq less make "
                             "openssh-server procps python3 strace vim");
    assert_true(bg_pkglist_has(&l, "gdb"));
    assert_false(bg_pkglist_has(&l, "emacs"));
    bg_pkglist_done(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.names);
}

static void test_dev_package_refusals(void **state)
{
    (void)state;
    const char *bad[] = {"vim", "Vim"};
    const char *many[BG_RECIPE_PACKAGES_MAX + 1];
    bg_autofree char *long_text = bg_strdup("");
    struct bg_pkglist l = {0};
    struct bg_error err;

    for (size_t i = 0; i < BG_ARRAY_SIZE(many); i++)
        many[i] = "vim";
    for (int i = 0; i <= BG_RECIPE_PACKAGES_MAX; i++) {
        char *next = bg_asprintf("%s,p%d", long_text, i);
        free(long_text);
        long_text = next;
    }
    assert_err(bg_recipe_dev_packages("vim,Emacs", NULL, 0, &l, &err), err, -EINVAL,
               "image_dev_packages: package name may contain only");
    assert_err(bg_recipe_dev_packages(NULL, bad, 2, &l, &err), err, -EINVAL,
               "packages: package name may contain only a-z, 0-9, '+', '.' and '-', and starts "
               "with a letter or digit (found 'V' at 1)");
    assert_err(bg_recipe_dev_packages(NULL, many, BG_ARRAY_SIZE(many), &l, &err), err, -EINVAL,
               "packages: more than 64 packages");
    assert_err(bg_recipe_dev_packages(long_text, NULL, 0, &l, &err), err, -EINVAL,
               "image_dev_packages: more than 64 packages");
    assert_err(bg_recipe_dev_packages("gcc=12", NULL, 0, &l, &err), err, -EINVAL, "found '=' at 4");
    assert_int_equal(l.n, 0); /* a refusal leaves nothing */
}

static void test_pkglist_normalise(void **state)
{
    (void)state;
    struct bg_pkglist l = {0};
    struct bg_error err;

    bg_pkglist_normalise(&l); /* an empty list stays empty */
    assert_int_equal(l.n, 0);
    assert_int_equal(bg_pkglist_add_text(&l, "bb aa, ,cc,,aa bb", "x", &err), 0);
    assert_int_equal(l.n, 5);
    bg_pkglist_normalise(&l);
    bg_autofree char *s = bg_pkglist_join(&l, "|");
    assert_string_equal(s, "aa|bb|cc");
    bg_pkglist_done(&l);
    bg_autofree char *empty = bg_pkglist_join(&l, ",");
    assert_string_equal(empty, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipe_names),
        cmocka_unit_test(test_dev_packages),
        cmocka_unit_test(test_dev_package_refusals),
        cmocka_unit_test(test_pkglist_normalise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
