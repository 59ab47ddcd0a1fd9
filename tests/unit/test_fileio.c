/* SPDX-License-Identifier: MIT */
/* Unit tests for server/host/fileio.c: bounded whole-file reads, printable log tails, mkdir -p
 * and tree removal. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "host/fileio.h"
#include "testutil.h"

static char *path_of(const char *name)
{
    return bg_asprintf("%s/%s", bg_test_dir(), name);
}

static void test_read(void **state)
{
    bg_autofree char *p = path_of("text");
    struct bg_error err = {0};
    char *buf = NULL;
    size_t len = 0;

    (void)state;
    free(bg_test_write_file(p, "hello\n", 6));
    assert_int_equal(bg_file_read(p, 6, &buf, &len, &err), 0);
    assert_int_equal(len, 6);
    assert_string_equal(buf, "hello\n");
    free(buf);
    assert_err(bg_file_read(p, 5, &buf, &len, &err), err, -EFBIG, "at most 5 bytes");
    assert_err(bg_file_read(bg_test_dir(), 1024, &buf, &len, &err), err, -EFBIG,
               "not a regular file");
    bg_autofree char *absent = path_of("absent");
    assert_err(bg_file_read(absent, 1024, &buf, &len, &err), err, -ENOENT, "open");
}

static void test_tail_text(void **state)
{
    bg_autofree char *p = path_of("console.log");
    char buf[8];

    (void)state;
    free(bg_test_write_file(p, "boot\r\nok\t\x01\xff.", 12));
    bg_file_tail_text(p, buf, sizeof(buf));
    /* the last 7 bytes; CR and tab become spaces, other bytes that are not printable '?' */
    assert_string_equal(buf, "\nok ?"
                             "?.");
    bg_autofree char *absent = path_of("absent.log");
    bg_file_tail_text(absent, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

static void test_mkdir_p_and_rm_tree(void **state)
{
    bg_autofree char *top = path_of("a");
    bg_autofree char *deep = path_of("a/b/c");
    bg_autofree char *file = path_of("a/b/c/f");
    struct bg_error err = {0};
    struct stat st;

    (void)state;
    assert_int_equal(bg_mkdir_p(deep, 0700, &err), 0);
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(bg_mkdir_p(deep, 0700, &err), 0); /* existing: fine */
    free(bg_test_write_file(file, "x", 1));
    assert_err(bg_mkdir_p(file, 0700, &err), err, -ENOTDIR, "is not a directory");
    bg_autofree char *under_file = path_of("a/b/c/f/g");
    assert_err(bg_mkdir_p(under_file, 0700, &err), err, -ENOTDIR, "create directory");

    assert_int_equal(bg_rm_tree(top, &err), 0);
    assert_int_equal(stat(top, &st), -1);
    assert_int_equal(bg_rm_tree(top, &err), 0); /* absent: fine */
}

/* A tree far deeper than recursion could take, with files, symlinks (never followed) and
 * empty directories on the way, removed on a thread with a connection's small stack. */
#define DEEP 3000

static void *rm_deep_main(void *arg)
{
    struct bg_error err = {0};

    return (void *)(intptr_t)bg_rm_tree(arg, &err);
}

static void test_rm_tree_deep(void **state)
{
    bg_autofree char *top = path_of("deep");
    bg_autofree char *outside = path_of("outside");
    struct stat st;
    pthread_attr_t at;
    pthread_t t;
    void *res;

    (void)state;
    free(bg_test_write_file(outside, "keep", 4));
    assert_int_equal(mkdir(top, 0700), 0);
    int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    for (int i = 0; i < DEEP; i++) {
        assert_int_equal(mkdirat(fd, "d", 0700), 0);
        assert_int_equal(mkdirat(fd, "empty", 0700), 0);
        assert_int_equal(symlinkat(outside, fd, "link"), 0);
        int f = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(f >= 0);
        close(f);
        int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(next >= 0);
        close(fd);
        fd = next;
    }
    close(fd);
    pthread_attr_init(&at);
    assert_int_equal(pthread_attr_setstacksize(&at, 128 * 1024), 0);
    assert_int_equal(pthread_create(&t, &at, rm_deep_main, top), 0);
    pthread_attr_destroy(&at);
    assert_int_equal(pthread_join(t, &res), 0);
    assert_int_equal((intptr_t)res, 0);
    assert_int_equal(stat(top, &st), -1);
    /* the symlinks' target is untouched */
    assert_int_equal(stat(outside, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_tail_text),
        cmocka_unit_test(test_mkdir_p_and_rm_tree),
        cmocka_unit_test(test_rm_tree_deep),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
