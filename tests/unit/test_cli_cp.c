/* SPDX-License-Identifier: MIT */
/* Unit tests for banger vm cp: which side of SRC and DST is the VM's, accepted and refused, and
 * the archive round trip of client/cptar.c through a buffer (a tree with modes and symlinks),
 * including archives whose entries leave their top entry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "cmd_cp.h"
#include "cptar.h"
#include "testutil.h"

static void test_parse_sides(void **state)
{
    (void)state;
    struct bg_cli_cp c;
    struct bg_error err = {0};

    assert_int_equal(bg_cli_cp_parse("./src", "web1:/root/dst", &c, &err), 0);
    assert_true(c.upload);
    assert_string_equal(c.vm, "web1");
    assert_string_equal(c.guest, "/root/dst");
    assert_string_equal(c.host, "./src");
    assert_false(c.stdio);

    assert_int_equal(bg_cli_cp_parse("run-x1:/var/log/", "/tmp/logs", &c, &err), 0);
    assert_false(c.upload);
    assert_string_equal(c.vm, "run-x1");
    assert_string_equal(c.guest, "/var/log/");
    assert_string_equal(c.host, "/tmp/logs");

    /* '-': a tar on stdin or stdout */
    assert_int_equal(bg_cli_cp_parse("-", "web1:/root", &c, &err), 0);
    assert_true(c.upload && c.stdio);
    assert_int_equal(bg_cli_cp_parse("web1:/root", "-", &c, &err), 0);
    assert_true(!c.upload && c.stdio);

    /* a ':' after a '/' is a host path's */
    assert_int_equal(bg_cli_cp_parse("./a:b", "web1:/x", &c, &err), 0);
    assert_string_equal(c.host, "./a:b");
    assert_int_equal(bg_cli_cp_parse("/abs/with:colon", "web1:/x", &c, &err), 0);
    assert_string_equal(c.host, "/abs/with:colon");
}

static void test_parse_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *src, *dst, *fragment;
    } bad[] = {
        {"./a", "./b", "one of SRC and DST must be NAME:PATH"},
        {"web1:/a", "web2:/b", "only one of SRC and DST"},
        {"web1:relative", "./b", "must be absolute (NAME:/PATH)"},
        {"./a", "web1:", "must be absolute"},
        {"Web1:/a", "./b", "is not NAME:PATH"},
        {"a_b:/x", "./b", "write a host path that holds ':' as ./PATH"},
        {"a23456789012345678901234567890123456789012345678901234567890123456:/x", "./b",
         "the VM name is too long"},
        {"web1:/a", "", "the host path is empty"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_cli_cp c;
        struct bg_error err = {0};
        int r = bg_cli_cp_parse(bad[i].src, bad[i].dst, &c, &err);
        if (r != -EINVAL || !strstr(err.msg, bad[i].fragment))
            fail_msg("'%s' '%s': %d '%s', want '%s'", bad[i].src, bad[i].dst, r, err.msg,
                     bad[i].fragment);
    }
}

static void test_top_name(void **state)
{
    (void)state;
    char buf[256];
    struct bg_error err = {0};

    assert_int_equal(bg_cli_tar_top_name("/a/b/", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "b");
    assert_int_equal(bg_cli_tar_top_name("file", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "file");
    assert_int_equal(bg_cli_tar_top_name("/tmp/.", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "tmp");
    int r = bg_cli_tar_top_name("/", buf, sizeof(buf), &err);
    assert_err(r, err, -EINVAL, "has no name to copy it under");
}

/* An archive in memory: a sink that appends, a source that reads it back in small pieces. */
struct mem {
    char *data;
    size_t len, off;
};

static int mem_sink(void *cls, const void *buf, size_t len, struct bg_error *err)
{
    struct mem *m = cls;
    (void)err;
    m->data = bg_realloc(m->data, m->len + len);
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

static ssize_t mem_source(void *cls, void *buf, size_t len, struct bg_error *err)
{
    struct mem *m = cls;
    size_t n = m->len - m->off < len ? m->len - m->off : len;
    (void)err;
    if (n > 1000)
        n = 1000;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return (ssize_t)n;
}

static char *sh_out(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    char *out = bg_calloc(1, 1 << 16);
    assert_non_null(p);
    size_t n = fread(out, 1, (1 << 16) - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    return out;
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *dir = bg_test_dir();
    struct mem m = {0};
    struct bg_error err = {0};
    uint64_t written = 0, read = 0;
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "cd %s && mkdir -p src/d/sub out && echo hi > src/d/f && chmod 604 src/d/f && "
             "ln -s f src/d/l && chmod 751 src/d/sub && head -c 300000 /dev/urandom > "
             "src/d/sub/big",
             dir);
    free(sh_out(cmd));
    bg_autofree char *src = bg_asprintf("%s/src/d/", dir);
    bg_autofree char *out = bg_asprintf("%s/out", dir);
    assert_int_equal(bg_cli_tar_write(src, "copy", mem_sink, &m, &written, &err), 0);
    assert_int_equal(written, 5);
    assert_int_equal(bg_cli_tar_extract(mem_source, &m, out, "copy", "renamed", &read, &err), 0);
    assert_int_equal(read, 5);
    snprintf(
        cmd, sizeof(cmd),
        "cd %s && for t in src/d out/renamed; do (cd $t && find . -printf '%%p %%y %%m %%l\\n' "
        "| sort && find . -type f | sort | xargs sha256sum); done",
        dir);
    bg_autofree char *both = sh_out(cmd);
    size_t half = strlen(both) / 2;
    assert_int_equal(strncmp(both, both + half, half), 0);
    free(m.data);
}

/* An archive made by tar itself with names outside its top entry is refused. */
static void test_extract_refuses_escapes(void **state)
{
    (void)state;
    const char *dir = bg_test_dir();
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s/esc/top %s/outside %s/esc/other %s/esc/abs %s/dest && touch "
             "%s/esc/top/x",
             dir, dir, dir, dir, dir, dir);
    free(sh_out(cmd));
    bg_autofree char *dest = bg_asprintf("%s/dest", dir);
    char *makers[] = {
        bg_asprintf("tar -cf - -C %s/esc top ../outside 2>/dev/null", dir),
        bg_asprintf("tar -cf - -C %s/esc top other", dir),
        bg_asprintf("tar -cf - -P -C %s/esc top %s/esc/abs", dir, dir),
    };
    for (size_t i = 0; i < sizeof(makers) / sizeof(makers[0]); i++) {
        struct mem m = {0};
        struct bg_error err = {0};
        FILE *p = popen(makers[i], "r");
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
            mem_sink(&m, buf, n, NULL);
        pclose(p);
        int r = bg_cli_tar_extract(mem_source, &m, dest, "top", NULL, NULL, &err);
        if (r != -EPROTO || !strstr(err.msg, "which is not below 'top'"))
            fail_msg("maker %zu: %d '%s'", i, r, err.msg);
        free(m.data);
        free(makers[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_sides),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_top_name),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_extract_refuses_escapes),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
