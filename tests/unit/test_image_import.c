/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/import.c, record.c and remove.c: the file checks of an import on
 * the descriptors they open, the hashing job over those same descriptors, image job records,
 * recovery after a restart and removal. */
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
#include "banger/timefmt.h"
#include "core/jobs.h"
#include "host/fileio.h"
#include "host/sha256.h"
#include "image/import.h"
#include "image/record.h"
#include "image/remove.h"
#include "store/store.h"
#include "testutil.h"

#define WAIT_MS 10000 /* deadline for a background job to finish */

struct fixture {
    char dir[64];
    char *state_dir, *cache_dir;
    struct bg_store *store;
    struct bg_jobs *jobs;
    struct bg_image_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *f = bg_calloc(1, sizeof(*f));
    struct bg_error err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/banger-test-import-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    bg_autofree char *db = bg_asprintf("%s/state.db", f->dir);
    if (bg_store_open(db, BG_STORE_READ_WRITE, &f->store, &err) < 0)
        return -1;
    f->state_dir = bg_asprintf("%s/state", f->dir);
    f->cache_dir = bg_asprintf("%s/cache", f->dir);
    f->jobs = bg_jobs_new();
    f->ctx = (struct bg_image_ctx){
        .store = f->store, .jobs = f->jobs, .state_dir = f->state_dir, .cache_dir = f->cache_dir};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (bg_jobs_cancel_wait(f->jobs, WAIT_MS) > 0)
        return -1; /* a job is stuck: its thread still uses the store */
    bg_jobs_free(f->jobs);
    bg_store_close(f->store);
    (void)bg_rm_tree(f->dir, NULL);
    free(f->state_dir);
    free(f->cache_dir);
    free(f);
    return 0;
}

/* <dir>/name holding len bytes of a pattern that starts with head; returns the path. */
static char *make_file(struct fixture *f, const char *name, const char *head, size_t len)
{
    bg_autofree char *path = bg_asprintf("%s/%s", f->dir, name);
    bg_autofree char *buf = bg_malloc(len + 1);

    for (size_t i = 0; i < len; i++)
        buf[i] = (char)(i * 31 + 7);
    memcpy(buf, head, strlen(head) < len ? strlen(head) : len);
    return bg_test_write_file(path, buf, len);
}

static void request_kernel(struct bg_image_import *req, const char *name, const char *kernel)
{
    *req = (struct bg_image_import){0};
    snprintf(req->name, sizeof(req->name), "%s", name);
    req->paths[BG_IMAGE_KERNEL] = (char *)kernel;
}

/* The operation op_id once it is no longer running, within WAIT_MS. */
static void wait_op(struct fixture *f, const char *op_id, struct bg_operation *ret)
{
    int64_t deadline = bg_now_ms() + WAIT_MS;
    struct bg_error err;

    for (;;) {
        assert_int_equal(bg_store_op_get(f->store, op_id, ret, &err), 0);
        if (ret->state != BG_OPERATION_STATE_RUNNING)
            return;
        bg_operation_done(ret);
        if (bg_now_ms() > deadline)
            fail_msg("operation %s still running after %d ms", op_id, WAIT_MS);
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
}

static void test_check_ok(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *kernel = make_file(f, "vmlinuz", "MZ", 5000);
    bg_autofree char *elf = make_file(f, "vmlinux", "\177ELF", 3000);
    struct bg_image_import req;
    struct bg_import imp;
    struct bg_field_error fe;
    struct bg_error err;

    request_kernel(&req, "ok", kernel);
    assert_int_equal(bg_import_check(&req, &imp, &fe, &err), 0);
    assert_string_equal(imp.img.name, "ok");
    assert_int_equal(imp.img.state, BG_IMAGE_STATE_IMPORTING);
    assert_int_equal(imp.img.vmms, BG_VMM_QEMU);
    assert_string_equal(imp.img.files[BG_IMAGE_KERNEL].path, kernel);
    assert_int_equal(imp.img.files[BG_IMAGE_KERNEL].size_bytes, 5000);
    int fd = imp.fds[BG_IMAGE_KERNEL];
    assert_true(fd >= 0);
    assert_int_equal(imp.fds[BG_IMAGE_ROOTFS], -1);
    /* blocking again, close-on-exec, at the start of the file */
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
    bg_import_done(&imp);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */

    req.paths[BG_IMAGE_VMLINUX] = elf;
    assert_int_equal(bg_import_check(&req, &imp, &fe, &err), 0);
    assert_int_equal(imp.img.vmms, BG_VMM_QEMU | BG_VMM_FIRECRACKER);
    bg_import_done(&imp);
}

static void test_check_refusals(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *kernel = make_file(f, "k", "MZ", 100);
    bg_autofree char *empty = make_file(f, "empty", "", 0);
    bg_autofree char *fifo = bg_asprintf("%s/fifo", f->dir);
    bg_autofree char *link = bg_asprintf("%s/link", f->dir);
    bg_autofree char *absent = bg_asprintf("%s/absent", f->dir);
    const struct {
        int kind;
        const char *path, *field, *fragment;
    } cases[] = {
        {BG_IMAGE_KERNEL, absent, "kernel", "does not exist"},
        {BG_IMAGE_KERNEL, f->dir, "kernel", "is not a regular file"},
        {BG_IMAGE_KERNEL, empty, "kernel", "is empty"},
        /* refused at once: opening never waits for a writer */
        {BG_IMAGE_KERNEL, fifo, "kernel", "is not a regular file"},
        {BG_IMAGE_KERNEL, link, "kernel", "is a symbolic link; give the path of the file itself"},
        {BG_IMAGE_ROOTFS, fifo, "rootfs", "is not a regular file"},
        {BG_IMAGE_VMLINUX, kernel, "vmlinux", "not an uncompressed ELF kernel"},
        {BG_IMAGE_INITRD, "/dev/null", "initrd", "is not a regular file"},
    };

    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(kernel, link), 0);
    alarm(30); /* a check that blocks on the FIFO fails the test instead of hanging it */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bg_image_import req;
        struct bg_import imp = {.img.name = "untouched"};
        struct bg_field_error fe = {0};
        struct bg_error err;
        request_kernel(&req, "bad", kernel);
        req.paths[cases[i].kind] = (char *)cases[i].path;
        assert_err(bg_import_check(&req, &imp, &fe, &err), err, -EINVAL, cases[i].fragment);
        assert_int_equal(fe.problem, BG_PROBLEM_INVALID_FIELD);
        assert_string_equal(fe.field, cases[i].field);
        assert_non_null(strstr(err.msg, cases[i].path));
        assert_string_equal(imp.img.name, "untouched"); /* outputs only on success */
    }
    alarm(0);
}

static void test_unreadable(void **state)
{
    struct fixture *f = *state;

    if (geteuid() == 0)
        skip(); /* needs a non-root user: root reads every file */
    bg_autofree char *secret = make_file(f, "secret", "MZ", 100);
    struct bg_image_import req;
    struct bg_import imp;
    struct bg_field_error fe;
    struct bg_error err;

    assert_int_equal(chmod(secret, 0), 0);
    request_kernel(&req, "secret", secret);
    assert_err(bg_import_check(&req, &imp, &fe, &err), err, -EINVAL, "is not readable by bangerd");
    assert_string_equal(fe.field, "kernel");
}

/* The job hashes the file that was checked, whatever the path names by then: a FIFO swapped in
 * after the check can neither block it nor change the hash. */
static void test_swap_after_check(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *kernel = make_file(f, "swapped", "MZ", 3 << 20);
    bg_autofree char *copy = bg_asprintf("%s/copy", f->dir);
    char want[BG_SHA256_HEX_MAX];
    struct bg_image_import req;
    struct bg_import imp;
    struct bg_operation op, done;
    struct bg_field_error fe;
    struct bg_error err;
    struct bg_image img = {0};

    assert_int_equal(bg_sha256_file(kernel, want, NULL, &err), 0);
    request_kernel(&req, "swap", kernel);
    assert_int_equal(bg_import_check(&req, &imp, &fe, &err), 0);
    assert_int_equal(unlink(kernel), 0);
    assert_int_equal(mkfifo(kernel, 0600), 0);
    assert_int_equal(bg_import_start(&f->ctx, &imp, &op, &err), 0);
    assert_int_equal(imp.fds[BG_IMAGE_KERNEL], -1); /* the job took the file */
    bg_import_done(&imp);
    assert_string_equal(op.kind, "image_import");
    assert_int_equal(op.total, 3 << 20);

    wait_op(f, op.id, &done);
    assert_int_equal(done.state, BG_OPERATION_STATE_SUCCEEDED);
    assert_int_equal(done.done, 3 << 20);
    bg_operation_done(&done);
    assert_int_equal(bg_store_image_get(f->store, "swap", &img, &err), 0);
    assert_int_equal(img.state, BG_IMAGE_STATE_READY);
    assert_string_equal(img.files[BG_IMAGE_KERNEL].path, kernel);
    assert_string_equal(img.files[BG_IMAGE_KERNEL].sha256, want);
    bg_image_done(&img);
}

static void test_start_name_taken(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *kernel = make_file(f, "taken", "MZ", 100);
    struct bg_image_import req;
    struct bg_import imp;
    struct bg_operation op, done;
    struct bg_field_error fe;
    struct bg_error err;

    request_kernel(&req, "taken", kernel);
    assert_int_equal(bg_import_check(&req, &imp, &fe, &err), 0);
    assert_int_equal(bg_import_start(&f->ctx, &imp, &op, &err), 0);
    bg_import_done(&imp);
    wait_op(f, op.id, &done);
    bg_operation_done(&done);

    assert_int_equal(bg_import_check(&req, &imp, &fe, &err), 0);
    assert_err(bg_import_start(&f->ctx, &imp, &op, &err), err, BG_ERR(BG_PROBLEM_IMAGE_EXISTS),
               "an image named 'taken' already exists");
    assert_true(imp.fds[BG_IMAGE_KERNEL] >= 0); /* still the caller's */
    assert_string_equal(imp.img.name, "taken");
    bg_import_done(&imp);
}

/* An image record as a job leaves it, with kernel (NULL: under state_dir) as its kernel. */
static void insert_image(struct fixture *f, const char *name, enum bg_image_state state,
                         const char *source, const char *kernel)
{
    struct bg_image img = {.state = state, .vmms = BG_VMM_QEMU, .created_at = time(NULL)};
    struct bg_error err;

    snprintf(img.name, sizeof(img.name), "%s", name);
    snprintf(img.arch, sizeof(img.arch), "x86_64");
    img.source = bg_strdup(source);
    img.files[BG_IMAGE_KERNEL].path =
        kernel ? bg_strdup(kernel) : bg_asprintf("%s/images/%s/vmlinuz", f->state_dir, name);
    img.files[BG_IMAGE_KERNEL].size_bytes = 1;
    assert_int_equal(bg_store_image_insert(f->store, &img, NULL, &err), 0);
    bg_image_done(&img);
}

static void test_recover(void **state)
{
    struct fixture *f = *state;
    struct bg_operation op = {0}, got;
    struct bg_image img = {0};
    struct bg_error err;

    insert_image(f, "halfway", BG_IMAGE_STATE_IMPORTING, "import", NULL);
    bg_image_op_init(&op, "image_import", "halfway", "bytes", 10);
    assert_int_equal(bg_store_op_insert(f->store, &op, NULL, &err), 0);
    assert_int_equal(bg_image_recover(f->store, &err), 0);
    assert_int_equal(bg_store_image_get(f->store, "halfway", &img, &err), 0);
    assert_int_equal(img.state, BG_IMAGE_STATE_FAILED);
    assert_non_null(strstr(img.error, "bangerd restarted"));
    bg_image_done(&img);
    assert_int_equal(bg_store_op_get(f->store, op.id, &got, &err), 0);
    assert_int_equal(got.state, BG_OPERATION_STATE_FAILED);
    bg_operation_done(&got);
}

static void test_remove(void **state)
{
    struct fixture *f = *state;
    bg_autofree char *dir = bg_asprintf("%s/images/built", f->state_dir);
    bg_autofree char *file = bg_asprintf("%s/vmlinuz", dir);
    bg_autofree char *mine = make_file(f, "mine", "MZ", 10);
    struct bg_vm vm = {
        .spec = {.name = "user1", .image = "used", .vcpus = 1, .memory_mib = 256, .disk_mib = 1024},
        .state = BG_VM_STATE_CREATED};
    struct bg_error err;
    struct stat st;

    assert_err(bg_image_remove(&f->ctx, "never", &err), err, -ENOENT, "image 'never' not found");

    insert_image(f, "busy", BG_IMAGE_STATE_IMPORTING, "import", NULL);
    assert_err(bg_image_remove(&f->ctx, "busy", &err), err, BG_ERR(BG_PROBLEM_IMAGE_NOT_READY),
               "image 'busy' is still importing");

    insert_image(f, "used", BG_IMAGE_STATE_READY, "import", NULL);
    assert_int_equal(bg_store_vm_insert(f->store, &vm, NULL, &err), 0);
    assert_err(bg_image_remove(&f->ctx, "used", &err), err, BG_ERR(BG_PROBLEM_IMAGE_IN_USE),
               "user1; remove those VMs first");
    assert_int_equal(bg_store_vm_delete(f->store, "user1", NULL, &err), 0);
    assert_int_equal(bg_image_remove(&f->ctx, "used", &err), 0);

    /* a built image's files go with it; an imported one's stay */
    insert_image(f, "built", BG_IMAGE_STATE_READY, BG_IMAGE_SOURCE_BUILD, NULL);
    assert_int_equal(bg_mkdir_p(dir, 0700, &err), 0);
    free(bg_test_write_file(file, "k", 1));
    assert_int_equal(bg_image_remove(&f->ctx, "built", &err), 0);
    assert_int_equal(stat(dir, &st), -1);
    insert_image(f, "imported", BG_IMAGE_STATE_FAILED, "import", mine);
    assert_int_equal(bg_image_remove(&f->ctx, "imported", &err), 0);
    assert_int_equal(stat(mine, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_after_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_name_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
