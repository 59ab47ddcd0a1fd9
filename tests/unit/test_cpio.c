/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/cpio.c: entries read back, alignment, trailer, padding, refusals,
 * write errors. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "image/cpio.h"
#include "testutil.h"

#define MTIME 1700000000

/* One entry as parsed back from the archive. */
struct entry {
    uint32_t f[13]; /* ino, mode, uid, gid, nlink, mtime, filesize, ..., namesize, check */
    char name[256];
    char data[256];  /* the content when shorter than this, else "" */
    size_t data_off; /* where the content starts in the archive */
};

static uint32_t hex8(const unsigned char *p)
{
    char buf[9];
    memcpy(buf, p, 8);
    buf[8] = '\0';
    for (int i = 0; i < 8; i++)
        assert_non_null(strchr("0123456789abcdef", buf[i])); /* as GNU cpio writes it */
    return (uint32_t)strtoul(buf, NULL, 16);
}

/* Parse the newc archive in buf into e[]; returns the entry count, trailer included. */
static size_t parse(const unsigned char *buf, size_t len, struct entry *e, size_t max)
{
    size_t off = 0, n = 0;

    for (;;) {
        assert_true(n < max);
        assert_int_equal(off % 4, 0);
        assert_true(off + 110 <= len);
        assert_memory_equal(buf + off, "070701", 6);
        for (int i = 0; i < 13; i++)
            e[n].f[i] = hex8(buf + off + 6 + 8 * i);
        uint32_t namesize = e[n].f[11], size = e[n].f[6];
        assert_true(namesize > 0 && namesize <= sizeof(e[n].name));
        assert_int_equal(buf[off + 110 + namesize - 1], '\0');
        memcpy(e[n].name, buf + off + 110, namesize);
        off = (off + 110 + namesize + 3) & ~(size_t)3;
        assert_true(off + size <= len);
        e[n].data_off = off;
        size_t keep = size < sizeof(e[n].data) ? size : 0;
        memcpy(e[n].data, buf + off, keep);
        e[n].data[keep] = '\0';
        off = (off + size + 3) & ~(size_t)3;
        if (!strcmp(e[n++].name, "TRAILER!!!"))
            break;
    }
    for (; off < len; off++)
        assert_int_equal(buf[off], 0); /* only zero padding after the trailer */
    return n;
}

/* The sample archive at <test dir>/name: a dir, a file from data, one from a host file (written
 * afresh, with host_mtime), a link. */
static char *write_sample(const char *name, time_t host_mtime)
{
    bg_autofree char *src = bg_asprintf("%s/src.txt", bg_test_dir());
    char *path = bg_asprintf("%s/%s", bg_test_dir(), name);
    FILE *f = fopen(src, "we");
    struct bg_error err;

    assert_non_null(f);
    fputs("hello from a host file\n", f);
    fclose(f);
    const struct timespec times[2] = {{.tv_sec = host_mtime}, {.tv_sec = host_mtime}};
    assert_int_equal(utimensat(AT_FDCWD, src, times, 0), 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    struct bg_cpio *c = bg_cpio_new(fd, MTIME);
    assert_int_equal(bg_cpio_add_dir(c, "bin", 0755, &err), 0);
    assert_int_equal(bg_cpio_add_data(c, "bin/hi", 0644, "hi!", 3, &err), 0);
    assert_int_equal(bg_cpio_add_file(c, "bin/host", 0755, src, &err), 0);
    assert_int_equal(bg_cpio_add_symlink(c, "bin/sh", "busybox", &err), 0);
    assert_int_equal(bg_cpio_add_data(c, "empty", 0600, "", 0, &err), 0);
    assert_int_equal(bg_cpio_finish(c, &err), 0);
    assert_int_equal(bg_cpio_size(c) % 512, 0);
    bg_cpio_free(c);
    close(fd);
    return path;
}

static void test_read_back(void **state)
{
    (void)state;
    bg_autofree char *path = write_sample("sample.cpio", 1000);
    size_t len;
    bg_autofree unsigned char *buf = bg_test_slurp(path, &len);
    struct entry e[8];

    assert_int_equal(len % 512, 0);
    assert_int_equal(parse(buf, len, e, 8), 6);
    static const char *const names[] = {"bin", "bin/hi", "bin/host", "bin/sh", "empty"};
    static const uint32_t modes[] = {040755, 0100644, 0100755, 0120777, 0100600};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(e[i].name, names[i]);
        assert_int_equal(e[i].f[0], i + 1); /* inode */
        assert_int_equal(e[i].f[1], modes[i]);
        assert_int_equal(e[i].f[2], 0); /* uid */
        assert_int_equal(e[i].f[5], MTIME);
    }
    assert_int_equal(e[0].f[4], 2); /* a directory's nlink */
    assert_string_equal(e[1].data, "hi!");
    assert_string_equal(e[2].data, "hello from a host file\n");
    assert_string_equal(e[3].data, "busybox");
    assert_int_equal(e[4].f[6], 0);
    assert_string_equal(e[5].name, "TRAILER!!!");
    assert_int_equal(e[5].f[0], 0); /* inode */
    assert_int_equal(e[5].f[4], 1); /* nlink */
    assert_int_equal(e[5].f[5], 0); /* mtime */
    assert_int_equal(e[5].f[6], 0);
}

/* Content past the writer's 64 KiB blocks is whole, and the end is padded to 512 bytes. */
static void test_large_entry(void **state)
{
    (void)state;
    bg_autofree char *path = bg_asprintf("%s/large.cpio", bg_test_dir());
    bg_autofree unsigned char *big = bg_malloc(150001);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct bg_error err;
    struct entry e[3];

    for (size_t i = 0; i < 150001; i++)
        big[i] = (unsigned char)(i * 13 + i / 256);
    assert_true(fd >= 0);
    struct bg_cpio *c = bg_cpio_new(fd, MTIME);
    assert_int_equal(bg_cpio_add_data(c, "big", 0644, big, 150001, &err), 0);
    assert_int_equal(bg_cpio_add_dir(c, "after", 0700, &err), 0);
    assert_int_equal(bg_cpio_finish(c, &err), 0);
    uint64_t size = bg_cpio_size(c);
    bg_cpio_free(c);
    close(fd);

    size_t len;
    bg_autofree unsigned char *buf = bg_test_slurp(path, &len);
    assert_int_equal(len, size);
    assert_int_equal(len % 512, 0);
    assert_int_equal(parse(buf, len, e, 3), 3);
    assert_int_equal(e[0].f[6], 150001);
    assert_memory_equal(buf + e[0].data_off, big, 150001);
    assert_string_equal(e[1].name, "after");
    assert_int_equal(e[1].f[0], 2);
}

/* GNU cpio, when installed, agrees with the parser above. */
static void test_system_cpio(void **state)
{
    (void)state;
    if (system("command -v cpio >/dev/null 2>&1") != 0)
        skip(); /* needs the cpio program */
    bg_autofree char *path = write_sample("tool.cpio", 1000);
    bg_autofree char *out = bg_asprintf("%s/list.txt", bg_test_dir());
    bg_autofree char *cmd = bg_asprintf("cpio -t -v <'%s' >'%s' 2>/dev/null", path, out);
    assert_int_equal(system(cmd), 0);
    size_t len;
    bg_autofree unsigned char *list = bg_test_slurp(out, &len);
    list[len] = '\0';
    assert_non_null(strstr((char *)list, "bin/sh -> busybox"));
    assert_non_null(strstr((char *)list, "drwxr-xr-x"));
    assert_non_null(strstr((char *)list, " bin/host"));
    assert_non_null(strstr((char *)list, " empty"));
}

static void test_deterministic(void **state)
{
    (void)state;
    bg_autofree char *src = bg_asprintf("%s/src.txt", bg_test_dir());
    bg_autofree char *a = write_sample("a.cpio", 1000);
    /* nothing of the host file but its content goes in: not its inode, mtime or owner */
    assert_int_equal(unlink(src), 0);
    bg_autofree char *other = bg_asprintf("%s/other", bg_test_dir());
    free(bg_test_write_file(other, "x", 1)); /* takes the old inode number, if any */
    bg_autofree char *b = write_sample("b.cpio", 2000000000);
    size_t la, lb;
    bg_autofree unsigned char *ba = bg_test_slurp(a, &la);
    bg_autofree unsigned char *bb = bg_test_slurp(b, &lb);

    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
}

static const struct {
    const char *name;
    const char *fragment;
} bad_names[] = {
    {"", "not a relative path"},     {"/bin", "not a relative path"},
    {"bin/", "not a relative path"}, {"a//b", "not a relative path"},
    {"./a", "not a relative path"},  {"a/../b", "not a relative path"},
    {"..", "not a relative path"},   {"TRAILER!!!", "not a relative path"},
};

static void test_bad_inputs(void **state)
{
    (void)state;
    bg_autofree char *path = bg_asprintf("%s/bad.cpio", bg_test_dir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct bg_cpio *c = bg_cpio_new(fd, 0);
    struct bg_error err;

    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        assert_int_equal(bg_cpio_add_dir(c, bad_names[i].name, 0755, &err), -EINVAL);
        assert_non_null(strstr(err.msg, bad_names[i].fragment));
    }
    char *long_name = bg_malloc(BG_CPIO_NAME_MAX + 2);
    memset(long_name, 'a', BG_CPIO_NAME_MAX + 1);
    long_name[BG_CPIO_NAME_MAX + 1] = '\0';
    assert_int_equal(bg_cpio_add_data(c, long_name, 0644, "x", 1, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "at most 4095 bytes"));
    long_name[BG_CPIO_NAME_MAX] = '\0'; /* exactly at the limit is fine */
    assert_int_equal(bg_cpio_add_data(c, long_name, 0644, "x", 1, &err), 0);
    free(long_name);
    assert_int_equal(bg_cpio_add_dir(c, "d", 010755, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "more than permission bits"));
    assert_int_equal(bg_cpio_add_symlink(c, "l", "", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "target must be"));
    assert_int_equal(bg_cpio_add_file(c, "f", 0644, "/nonexistent/banger", &err), -ENOENT);
    assert_non_null(strstr(err.msg, "open '/nonexistent/banger'"));
    assert_int_equal(bg_cpio_add_file(c, "f", 0644, bg_test_dir(), &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    /* a FIFO is refused at once, not read from once a writer comes */
    bg_autofree char *fifo = bg_asprintf("%s/fifo", bg_test_dir());
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(bg_cpio_add_file(c, "f", 0644, fifo, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(bg_cpio_finish(c, &err), 0);
    assert_int_equal(bg_cpio_add_dir(c, "late", 0755, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "already finished"));
    assert_int_equal(bg_cpio_finish(c, &err), -EINVAL);
    bg_cpio_free(c);
    close(fd);
}

/* An archive freed before bg_cpio_finish gets no trailer: it cannot pass for a whole one. */
static void test_unfinished_no_trailer(void **state)
{
    (void)state;
    bg_autofree char *path = bg_asprintf("%s/unfinished.cpio", bg_test_dir());
    bg_autofree char *big = bg_calloc(1, 100000);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct bg_error err;

    assert_true(fd >= 0);
    struct bg_cpio *c = bg_cpio_new(fd, MTIME);
    assert_int_equal(bg_cpio_add_data(c, "big", 0644, big, 100000, &err), 0);
    assert_int_equal(bg_cpio_add_dir(c, "d", 0755, &err), 0);
    bg_cpio_free(c);
    close(fd);
    size_t len;
    bg_autofree unsigned char *buf = bg_test_slurp(path, &len);
    assert_true(len < 100000); /* what the 64 KiB blocks had flushed, no more */
    assert_null(memmem(buf, len, "TRAILER!!!", 10));
}

/* A failed write is reported and sticks: nothing after it claims success. */
static void test_write_error_sticks(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        skip(); /* needs /dev/full */
    struct bg_cpio *c = bg_cpio_new(fd, 0);
    struct bg_error err;
    bg_autofree char *big = bg_calloc(1, 200 * 1024);

    assert_int_equal(bg_cpio_add_data(c, "big", 0644, big, 200 * 1024, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "write cpio archive"));
    assert_int_equal(bg_cpio_add_dir(c, "d", 0755, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "already failed"));
    assert_int_equal(bg_cpio_finish(c, &err), -ENOSPC);
    bg_cpio_free(c);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_back),          cmocka_unit_test(test_large_entry),
        cmocka_unit_test(test_system_cpio),        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_inputs),         cmocka_unit_test(test_unfinished_no_trailer),
        cmocka_unit_test(test_write_error_sticks),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
