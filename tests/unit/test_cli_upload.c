/* SPDX-License-Identifier: MIT */
/* Unit tests for client/upload.c: the tar of a work tree's tracked files, read back with
 * libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "testutil.h"
#include "upload.h"

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
}

/* Every entry of the tar in f as "TYPE NAME [SIZE|TARGET]" lines. */
static char *listing(FILE *f)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    size_t cap = 4096, len = 0;
    char *out = bg_malloc(cap);

    out[0] = '\0';
    rewind(f);
    assert_int_equal(archive_read_support_format_tar(a), ARCHIVE_OK);
    assert_int_equal(archive_read_open_FILE(a, f), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        mode_t m = archive_entry_filetype(e);
        char line[512];
        if (m == AE_IFDIR)
            snprintf(line, sizeof(line), "d %s\n", archive_entry_pathname(e));
        else if (m == AE_IFLNK)
            snprintf(line, sizeof(line), "l %s %s\n", archive_entry_pathname(e),
                     archive_entry_symlink(e));
        else
            snprintf(line, sizeof(line), "f %s %lld %o %s\n", archive_entry_pathname(e),
                     (long long)archive_entry_size(e), (unsigned)(archive_entry_perm(e)),
                     archive_entry_uname(e));
        assert_true(len + strlen(line) < cap);
        strcat(out, line);
        len += strlen(line);
    }
    archive_read_free(a);
    return out;
}

static void test_tar_of_tracked_files(void **state)
{
    (void)state;
    const char *d = bg_test_dir();
    bg_autofree char *cmd = bg_asprintf(
        "set -e; cd %s && git init -q repo && cd repo && mkdir -p a/b c && echo one >a/b/x && "
        "echo two >a/y && printf 'three' >c/z && ln -s a/y link && chmod 755 a/y && "
        "git add . && git -c user.name=t -c user.email=t@t commit -qm init && "
        "echo changed >a/b/x && echo new >untracked && rm c/z",
        d);
    sh(cmd);
    bg_autofree char *top = bg_asprintf("%s/repo", d);
    FILE *f = tmpfile();
    size_t files = 0;
    uint64_t bytes = 0;
    struct bg_error err = {0};

    assert_int_equal(bg_cli_upload_tar(top, f, &files, &bytes, &err), 0);
    /* a/b/x as it is now, c/z gone from the work tree and left out, untracked not there */
    assert_int_equal(files, 3);
    assert_int_equal(bytes, 8 + 4);
    bg_autofree char *got = listing(f);
    assert_string_equal(got, "d a/\n"
                             "d a/b/\n"
                             "f a/b/x 8 644 root\n"
                             "f a/y 4 755 root\n"
                             "l link a/y\n");
    fclose(f);
}

static void test_not_a_repository(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    size_t files;
    uint64_t bytes;
    struct bg_error err = {0};

    assert_err(bg_cli_upload_tar(bg_test_dir(), f, &files, &bytes, &err), err, -EIO,
               "git ls-files failed");
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tar_of_tracked_files),
        cmocka_unit_test(test_not_a_repository),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
