/* SPDX-License-Identifier: MIT */
/* Unit tests for server/files/path.c: the guest paths of file transfers, accepted and refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "files/path.h"
#include "testutil.h"

static void test_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *path, *parent, *base;
    } ok[] = {
        {"/", "/", "/", ""},
        {"/root", "/root", "/", "root"},
        {"/root/", "/root", "/", "root"},
        {"/root/repo/src", "/root/repo/src", "/root/repo", "src"},
        {"/a b/ünï", "/a b/ünï", "/a b", "ünï"},
        {"/.hidden/..x/...", "/.hidden/..x/...", "/.hidden/..x", "..."},
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct bg_files_path p;
        struct bg_error err;
        if (bg_files_path_parse(ok[i].raw, strcmp(ok[i].raw, "/") != 0, &p, &err) < 0)
            fail_msg("'%s' refused: %s", ok[i].raw, err.msg);
        assert_string_equal(p.path, ok[i].path);
        assert_string_equal(p.parent, ok[i].parent);
        assert_string_equal(p.base, ok[i].base);
    }
}

static void test_refused(void **state)
{
    (void)state;
    char longest[BG_FILES_PATH_MAX + 2];
    static const struct {
        const char *raw;
        bool need_base;
        const char *fragment;
    } bad[] = {
        {"", false, "is not absolute"},
        {"root/repo", false, "'root/repo' is not absolute"},
        {"./x", false, "is not absolute"},
        {"//", false, "empty component"},
        {"/a//b", false, "'/a//b' has an empty component"},
        {"/a/./b", false, "a '.' component"},
        {"/.", false, "a '.' component"},
        {"/a/../b", false, "a '..' component"},
        {"/..", false, "a '..' component"},
        {"/a/..", false, "a '..' component"},
        {"/", true, "names no file or directory"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_files_path p;
        struct bg_error err = {0};
        int r = bg_files_path_parse(bad[i].raw, bad[i].need_base, &p, &err);
        if (r != -EINVAL || !strstr(err.msg, bad[i].fragment))
            fail_msg("'%s': %d '%s', want -EINVAL '%s'", bad[i].raw, r, err.msg, bad[i].fragment);
    }
    /* the limit, and one byte more */
    longest[0] = '/';
    memset(longest + 1, 'a', BG_FILES_PATH_MAX - 1);
    longest[BG_FILES_PATH_MAX] = '\0';
    struct bg_files_path p;
    struct bg_error err = {0};
    assert_int_equal(bg_files_path_parse(longest, true, &p, &err), 0);
    longest[BG_FILES_PATH_MAX] = 'a';
    longest[BG_FILES_PATH_MAX + 1] = '\0';
    int r = bg_files_path_parse(longest, true, &p, &err);
    assert_err(r, err, -EINVAL, "the limit is 4095");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
