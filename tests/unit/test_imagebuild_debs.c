/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/debs.c's downloads, with fake apt-get and dpkg-deb programs
 * found first in PATH: packages are fetched in the build's scratch directory, checked, and only
 * then renamed into the cache. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "core/jobs.h"
#include "host/fileio.h"
#include "image/debs.h"
#include "image/record.h"
#include "store/store.h"
#include "testutil.h"

#define KERNEL_DEB "linux-image-6.1.0-1-cloud-amd64_6.1-1_amd64.deb"
#define META_DEB "linux-image-cloud-amd64_amd64.deb"
#define BUSYBOX_DEB "busybox-static_amd64.deb"

/* apt-get, in <dir>/bin: "-q download --print-uris SPEC" prints the pool file's URI line, "-q
 * download SPEC" copies it into the working directory (corrupted when POOL/FILE.corrupt exists);
 * every call is logged with its working directory. FILE is SPEC with '=' as '_', then "_amd64.deb".
 */
static const char fake_apt[] =
    "#!/bin/sh\n"
    "dir=${0%/bin/apt-get}\n"
    "echo \"$PWD $*\" >>\"$dir/apt.log\"\n"
    "[ \"$1\" = -q ] && [ \"$2\" = download ] || exit 100\n"
    "if [ \"$3\" = --print-uris ]; then spec=$4; else spec=$3; fi\n"
    "file=$(echo \"$spec\" | tr = _)_amd64.deb\n"
    "src=$dir/pool/$file\n"
    "[ -f \"$src\" ] || { echo \"E: Unable to locate package $spec\" >&2; exit 100; }\n"
    "if [ \"$3\" = --print-uris ]; then\n"
    "  echo \"'file:$src' $file $(stat -c %s \"$src\") SHA256:$(sha256sum <\"$src\" | cut "
    "-c1-64)\"\n"
    "elif [ -f \"$src.corrupt\" ]; then\n"
    "  tr 0-9 a-j <\"$src\" >\"$file\"\n"
    "else\n"
    "  cp \"$src\" \"$file\"\n"
    "fi\n";

static const char fake_dpkg_deb[] = "#!/bin/sh\n"
                                    "echo 'linux-image-6.1.0-1-cloud-amd64 (= 6.1-1)'\n";

struct fixture {
    char dir[64];
    char *old_path;
    struct bg_store *store;
    struct bg_jobs *jobs;
    struct bg_imagebuild b;
};

static void write_program(const char *dir, const char *name, const char *text)
{
    bg_autofree char *path = bg_asprintf("%s/bin/%s", dir, name);

    free(bg_test_write_file(path, text, strlen(text)));
    assert_int_equal(chmod(path, 0755), 0);
}

static void write_pool_file(struct fixture *f, const char *name, size_t len)
{
    bg_autofree char *path = bg_asprintf("%s/pool/%s", f->dir, name);
    bg_autofree char *buf = bg_malloc(len);

    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('0' + i % 10);
    free(bg_test_write_file(path, buf, len));
}

static int setup(void **state)
{
    struct fixture *f = bg_calloc(1, sizeof(*f));
    struct bg_error err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/banger-test-debs-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    bg_autofree char *db = bg_asprintf("%s/state.db", f->dir);
    bg_autofree char *bin = bg_asprintf("%s/bin", f->dir);
    bg_autofree char *pool = bg_asprintf("%s/pool", f->dir);
    if (bg_store_open(db, BG_STORE_READ_WRITE, &f->store, &err) < 0 ||
        bg_mkdir_p(bin, 0755, &err) < 0 || bg_mkdir_p(pool, 0755, &err) < 0)
        return -1;
    write_program(f->dir, "apt-get", fake_apt);
    write_program(f->dir, "dpkg-deb", fake_dpkg_deb);
    write_pool_file(f, META_DEB, 100);
    write_pool_file(f, KERNEL_DEB, 5000);
    write_pool_file(f, BUSYBOX_DEB, 3000);
    f->old_path = bg_strdup(getenv("PATH"));
    setenv("PATH", bin, 1);

    f->jobs = bg_jobs_new();
    f->b.ctx = (struct bg_image_ctx){.store = f->store, .jobs = f->jobs, .cache_dir = f->dir};
    snprintf(f->b.img.name, sizeof(f->b.img.name), "default");
    bg_image_op_init(&f->b.op, "image_build", "default", "steps", 7);
    if (bg_store_op_insert(f->store, &f->b.op, NULL, &err) < 0)
        return -1;
    f->b.debs = bg_asprintf("%s/debs", f->dir);
    f->b.tmp = bg_asprintf("%s/build-1", f->dir);
    if (bg_mkdir_p(f->b.debs, 0755, &err) < 0 || bg_mkdir_p(f->b.tmp, 0700, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    setenv("PATH", f->old_path, 1);
    free(f->old_path);
    bg_operation_done(&f->b.op);
    free(f->b.debs);
    free(f->b.tmp);
    free(f->b.debs_meta);
    free(f->b.debs_kernel);
    free(f->b.debs_busybox);
    bg_jobs_free(f->jobs);
    bg_store_close(f->store);
    (void)bg_rm_tree(f->dir, NULL);
    free(f);
    return 0;
}

static bool same_file(const char *a, const char *b)
{
    size_t la, lb;
    bg_autofree char *ba = bg_test_slurp(a, &la);
    bg_autofree char *bb = bg_test_slurp(b, &lb);

    return la == lb && !memcmp(ba, bb, la);
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* The fake apt-get's log: one "CWD ARGS" line per call. */
static char *apt_log(struct fixture *f)
{
    bg_autofree char *path = bg_asprintf("%s/apt.log", f->dir);
    size_t len;
    char *log = exists(path) ? bg_test_slurp(path, &len) : bg_strdup("");

    (void)unlink(path);
    return log;
}

static void test_download_into_scratch(void **state)
{
    struct fixture *f = *state;
    struct bg_error err;

    assert_int_equal(bg_imagebuild_download_all(&f->b, &err), 0);
    assert_int_equal(f->b.downloaded, 3);
    const char *got[] = {f->b.debs_meta, f->b.debs_kernel, f->b.debs_busybox};
    const char *names[] = {META_DEB, KERNEL_DEB, BUSYBOX_DEB};
    for (int i = 0; i < 3; i++) {
        bg_autofree char *want = bg_asprintf("%s/%s", f->b.debs, names[i]);
        bg_autofree char *pool = bg_asprintf("%s/pool/%s", f->dir, names[i]);
        assert_string_equal(got[i], want);
        assert_true(same_file(want, pool));
    }
    /* every download ran in the scratch directory, never in the shared cache */
    bg_autofree char *log = apt_log(f);
    bg_autofree char *scratch = bg_asprintf("%s/download -q download ", f->b.tmp);
    bg_autofree char *in_cache = bg_asprintf("%s -q download ", f->b.debs);
    size_t downloads = 0;
    for (const char *p = log; (p = strstr(p, scratch)); p++)
        downloads++;
    assert_int_equal(downloads, 3);
    assert_null(strstr(log, in_cache));
    assert_non_null(strstr(log, "download linux-image-6.1.0-1-cloud-amd64=6.1-1\n"));

    /* a second build finds everything in the cache and downloads nothing */
    for (int i = 0; i < 3; i++)
        free((char *)got[i]);
    f->b.debs_meta = f->b.debs_kernel = f->b.debs_busybox = NULL;
    f->b.downloaded = 0;
    assert_int_equal(bg_imagebuild_download_all(&f->b, &err), 0);
    assert_int_equal(f->b.downloaded, 0);
    bg_autofree char *again = apt_log(f);
    assert_null(strstr(again, "download -q download "));
}

/* A download that does not match apt's size and sha256 fails and never reaches the cache. */
static void test_bad_download_stays_out(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *marker = bg_asprintf("%s/pool/%s.corrupt", f->dir, KERNEL_DEB);
    bg_autofree char *cached = bg_asprintf("%s/%s", f->b.debs, KERNEL_DEB);
    struct bg_error err;

    free(bg_test_write_file(marker, "", 0));
    assert_err(bg_imagebuild_download_all(&f->b, &err), err, -EIO,
               "did not leave '" /* the scratch file, named in full */);
    assert_non_null(strstr(err.msg, "with 5000 bytes and the expected sha256"));
    assert_false(exists(cached));
}

/* A cached file with the wrong content (torn by a crash, say) is fetched again and replaced. */
static void test_stale_cache_replaced(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *cached = bg_asprintf("%s/%s", f->b.debs, BUSYBOX_DEB);
    bg_autofree char *pool = bg_asprintf("%s/pool/%s", f->dir, BUSYBOX_DEB);
    bg_autofree char *torn = bg_calloc(1, 3000);
    struct bg_error err;

    free(bg_test_write_file(cached, torn, 3000));
    assert_int_equal(bg_imagebuild_download_all(&f->b, &err), 0);
    assert_int_equal(f->b.downloaded, 3);
    assert_true(same_file(cached, pool));
}

static void test_unknown_package(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *pool = bg_asprintf("%s/pool/%s", f->dir, META_DEB);
    struct bg_error err;

    assert_int_equal(unlink(pool), 0);
    assert_err(bg_imagebuild_download_all(&f->b, &err), err, -EIO,
               "E: Unable to locate package linux-image-cloud-amd64; run 'apt-get update'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_download_into_scratch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_download_stays_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_cache_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_package, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
