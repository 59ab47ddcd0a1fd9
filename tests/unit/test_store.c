/* SPDX-License-Identifier: MIT */
/* Unit tests of the SQLite store: schema checks, CRUD and its failures, events, read-only use. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include <sqlite3.h>

#include "banger/alloc.h"
#include "store/store.h"
#include "testutil.h"

/* One temporary directory, and database path inside it, per test. */
struct fixture {
    char dir[64];
    char path[128];
    struct bg_store *s; /* open read-write, unless the test opens it itself */
};

static int setup_dir(void **state)
{
    struct fixture *f = bg_calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/banger-test-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/banger.db", f->dir);
    *state = f;
    return 0;
}

static int setup_open(void **state)
{
    struct bg_error err = {0};
    struct fixture *f;

    if (setup_dir(state) < 0)
        return -1;
    f = *state;
    if (bg_store_open(f->path, BG_STORE_READ_WRITE, &f->s, &err) < 0) {
        print_error("open %s: %s\n", f->path, err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    struct fixture *f = *state;
    char p[160];

    bg_store_close(f->s);
    for (size_t i = 0; i < BG_ARRAY_SIZE(suffixes); i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
        (void)unlink(p);
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static struct bg_image make_image(const char *name, int64_t created_at)
{
    struct bg_image img = {.state = BG_IMAGE_STATE_IMPORTING,
                           .vmms = BG_VMM_QEMU | BG_VMM_FIRECRACKER,
                           .created_at = created_at};

    snprintf(img.name, sizeof(img.name), "%s", name);
    snprintf(img.arch, sizeof(img.arch), "x86_64");
    img.files[BG_IMAGE_KERNEL].path = bg_asprintf("/images/%s/vmlinux", name);
    img.files[BG_IMAGE_KERNEL].size_bytes = 12345678;
    img.files[BG_IMAGE_ROOTFS].path = bg_asprintf("/images/%s/rootfs.ext4", name);
    img.files[BG_IMAGE_ROOTFS].size_bytes = 1ULL << 33;
    img.source = bg_strdup("import");
    return img;
}

static struct bg_vm make_vm(const char *name, const char *image, enum bg_vm_state state)
{
    struct bg_vm vm = {.spec = {.vcpus = 2, .memory_mib = 1024, .disk_mib = 4096, .nat = true},
                       .state = state,
                       .created_at = 1700000000,
                       .updated_at = 1700000001};

    snprintf(vm.spec.name, sizeof(vm.spec.name), "%s", name);
    snprintf(vm.spec.image, sizeof(vm.spec.image), "%s", image);
    return vm;
}

static struct bg_operation make_op(const char *id, int64_t created_at)
{
    struct bg_operation op = {.state = BG_OPERATION_STATE_RUNNING,
                              .done = 10,
                              .total = 100,
                              .created_at = created_at,
                              .updated_at = created_at};

    snprintf(op.id, sizeof(op.id), "%s", id);
    snprintf(op.kind, sizeof(op.kind), "image_import");
    snprintf(op.target, sizeof(op.target), "/v1/images/base");
    snprintf(op.unit, sizeof(op.unit), "bytes");
    return op;
}

static void insert_image(struct bg_store *s, const char *name)
{
    struct bg_image img = make_image(name, 1700000000);
    struct bg_error err = {0};

    assert_int_equal(bg_store_image_insert(s, &img, NULL, &err), 0);
    bg_image_done(&img);
}

static void insert_vm(struct bg_store *s, const char *name, const char *image,
                      enum bg_vm_state state)
{
    struct bg_vm vm = make_vm(name, image, state);
    struct bg_error err = {0};

    assert_int_equal(bg_store_vm_insert(s, &vm, NULL, &err), 0);
}

static void assert_same_file(const char *path, const char *before, size_t before_len)
{
    size_t len;
    char *now = bg_test_slurp(path, &len);

    assert_int_equal(len, before_len);
    assert_memory_equal(now, before, len);
    free(now);
}

/* Run sql on path with plain SQLite, as another program would. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static char *raw_text(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    char *text = bg_strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return text;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* ---- opening ---- */

static void test_open_fresh(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    char wal[160];

    assert_int_equal(bg_store_schema_version(f->s), BG_STORE_SCHEMA_VERSION);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    char *v = raw_text(f->path, "PRAGMA user_version");
    assert_int_equal(strtoll(v, NULL, 10), BG_STORE_SCHEMA_VERSION);
    free(v);
    v = raw_text(f->path, "PRAGMA application_id");
    assert_int_equal(strtoll(v, NULL, 10), 0x62616e67);
    free(v);
    v = raw_text(f->path, "PRAGMA journal_mode");
    assert_string_equal(v, "wal");
    free(v);
    v = raw_text(f->path, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                          "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name)");
    assert_string_equal(v, "events,images,leases,operations,tokens,vm_runtime,vms");
    free(v);
}

static void test_reopen_keeps_records(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm;

    insert_image(f->s, "base");
    insert_vm(f->s, "web1", "base", BG_VM_STATE_RUNNING);
    bg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(bg_store_open(f->path, BG_STORE_READ_WRITE, &f->s, &err), 0);
    assert_int_equal(bg_store_schema_version(f->s), BG_STORE_SCHEMA_VERSION);
    assert_int_equal(bg_store_vm_get(f->s, "web1", &vm, &err), 0);
    assert_string_equal(vm.spec.image, "base");
    assert_int_equal(vm.state, BG_VM_STATE_RUNNING);
}

/* Version 4 gives images a vmlinux; images built before it lose the firecracker bit (their
 * kernel is a bzImage), imported ones keep what their kernel earned. Version 6 records the
 * recipe of built images (all were the minimal one) and none for imported ones. */
static void test_migrate_v3_images(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_image got;

    bg_store_close(f->s);
    f->s = NULL;
    /* back to a version 3 file holding one built and one imported image */
    raw_exec(f->path, BG_TEST_SCHEMA_BACK_TO_V4
             "ALTER TABLE images DROP COLUMN vmlinux_path;"
             "ALTER TABLE images DROP COLUMN vmlinux_size;"
             "ALTER TABLE images DROP COLUMN vmlinux_sha256;"
             "INSERT INTO images VALUES ('default', 'ready', 'x86_64', 3, '/i/vmlinuz', "
             "1, '', NULL, 0, '', '/i/initrd.img', 1, '', 'build:debian', NULL, 1);"
             "INSERT INTO images VALUES ('fc', 'ready', 'x86_64', 3, '/f/vmlinux', 1, '', "
             "NULL, 0, '', NULL, 0, '', 'import', NULL, 1);"
             "PRAGMA user_version = 3");
    assert_int_equal(bg_store_open(f->path, BG_STORE_READ_WRITE, &f->s, &err), 0);
    assert_int_equal(bg_store_schema_version(f->s), BG_STORE_SCHEMA_VERSION);
    assert_int_equal(bg_store_image_get(f->s, "default", &got, &err), 0);
    assert_int_equal(got.vmms, BG_VMM_QEMU);
    assert_null(got.files[BG_IMAGE_VMLINUX].path);
    assert_string_equal(got.files[BG_IMAGE_INITRD].path, "/i/initrd.img");
    assert_string_equal(got.recipe, "minimal");
    assert_string_equal(got.packages, "linux-image-cloud-amd64 busybox-static");
    bg_image_done(&got);
    assert_int_equal(bg_store_image_get(f->s, "fc", &got, &err), 0);
    assert_int_equal(got.vmms, BG_VMM_QEMU | BG_VMM_FIRECRACKER);
    assert_string_equal(got.files[BG_IMAGE_KERNEL].path, "/f/vmlinux");
    assert_null(got.recipe);
    assert_null(got.packages);
    bg_image_done(&got);
}

/* Version 5 gives VMs auto_remove: the VMs of a version 4 file are not removed by anyone. */
static void test_migrate_v4_vms(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm = make_vm("old", "base", BG_VM_STATE_STOPPED), got;

    insert_image(f->s, "base");
    vm.spec.auto_remove = true;
    assert_int_equal(bg_store_vm_insert(f->s, &vm, NULL, &err), 0);
    bg_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path, BG_TEST_SCHEMA_BACK_TO_V4 "PRAGMA user_version = 4");
    assert_int_equal(bg_store_open(f->path, BG_STORE_READ_WRITE, &f->s, &err), 0);
    assert_int_equal(bg_store_schema_version(f->s), BG_STORE_SCHEMA_VERSION);
    assert_int_equal(bg_store_vm_get(f->s, "old", &got, &err), 0);
    assert_false(got.spec.auto_remove);
}

static void test_open_missing_dir(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    char path[200];

    snprintf(path, sizeof(path), "%s/no/such/dir.db", f->dir);
    assert_err(bg_store_open(path, BG_STORE_READ_WRITE, &s, &err), err, -ENOENT, "create database");
    assert_null(s);
}

/* ---- read-only ---- */

static void test_read_only(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *ro = NULL;
    struct bg_vm *vms = NULL;
    struct bg_vm vm;
    size_t n = 0;

    insert_image(f->s, "base");
    insert_vm(f->s, "web1", "base", BG_VM_STATE_STOPPED);
    bg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(bg_store_open(f->path, BG_STORE_READ_ONLY, &ro, &err), 0);
    assert_int_equal(bg_store_schema_version(ro), BG_STORE_SCHEMA_VERSION);
    assert_int_equal(bg_store_vm_list(ro, NULL, &vms, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(vms[0].spec.name, "web1");
    free(vms);

    vm = make_vm("web2", "base", BG_VM_STATE_CREATED);
    assert_err(bg_store_vm_insert(ro, &vm, NULL, &err), err, -EROFS, "read-only");
    assert_err(bg_store_vm_delete(ro, "web1", NULL, &err), err, -EROFS, "read-only");
    bg_store_close(ro);
}

/* A read-only handle beside the read-write one sees its commits (WAL). */
static void test_read_only_beside_writer(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *ro = NULL;
    int64_t n = -1;

    assert_int_equal(bg_store_open(f->path, BG_STORE_READ_ONLY, &ro, &err), 0);
    insert_image(f->s, "base");
    assert_int_equal(bg_store_image_count(ro, &n, &err), 0);
    assert_int_equal(n, 1);
    bg_store_close(ro);
}

static void test_read_only_missing(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    struct stat st;

    assert_err(bg_store_open(f->path, BG_STORE_READ_ONLY, &s, &err), err, -ENOENT,
               "does not exist");
    assert_int_equal(stat(f->path, &st), -1);
}

static void test_read_only_unmigrated(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    struct stat st;

    write_bytes(f->path, "", 0);
    assert_err(bg_store_open(f->path, BG_STORE_READ_ONLY, &s, &err), err, -EPROTO,
               "needs migrating; start bangerd (read-write) once");
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, 0);
}

/* ---- refusals: the file is never touched ---- */

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    size_t len;

    bg_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path, "PRAGMA user_version = 99");
    char *before = bg_test_slurp(f->path, &len);
    assert_err(bg_store_open(f->path, BG_STORE_READ_WRITE, &s, &err), err, -EPROTO,
               "has schema version 99, newer than this bangerd understands");
    assert_non_null(strstr(err.msg, f->path));
    assert_err(bg_store_open(f->path, BG_STORE_READ_ONLY, &s, &err), err, -EPROTO,
               "newer than this bangerd understands");
    assert_same_file(f->path, before, len);
    free(before);
    char *v = raw_text(f->path, "PRAGMA user_version");
    assert_string_equal(v, "99");
    free(v);
}

static void test_garbage_refused(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    char garbage[8192];

    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (char)(i * 7 + 3);
    write_bytes(f->path, garbage, sizeof(garbage));
    assert_err(bg_store_open(f->path, BG_STORE_READ_WRITE, &s, &err), err, -EBADMSG,
               "it will not be touched");
    assert_non_null(strstr(err.msg, f->path));
    assert_err(bg_store_open(f->path, BG_STORE_READ_ONLY, &s, &err), err, -EBADMSG,
               "not a banger database");
    assert_same_file(f->path, garbage, sizeof(garbage));
}

static void test_other_application_refused(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    size_t len;

    raw_exec(f->path, "PRAGMA application_id = 305419896; CREATE TABLE notes (t TEXT);");
    char *before = bg_test_slurp(f->path, &len);
    assert_err(bg_store_open(f->path, BG_STORE_READ_WRITE, &s, &err), err, -EBADMSG,
               "another application, application_id 0x12345678");
    assert_same_file(f->path, before, len);
    free(before);
}

/* application_id 0 but tables of its own: not a fresh file, so not ours to migrate. */
static void test_untagged_database_refused(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    size_t len;

    raw_exec(f->path, "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('hi');");
    char *before = bg_test_slurp(f->path, &len);
    assert_err(bg_store_open(f->path, BG_STORE_READ_WRITE, &s, &err), err, -EBADMSG,
               "will not be touched");
    assert_same_file(f->path, before, len);
    free(before);
}

/* Pages after the header overwritten: quick_check (or the first read) notices. */
static void test_corrupt_refused(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store *s = NULL;
    char junk[4096];
    size_t len;

    insert_image(f->s, "base");
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "vm%d", i);
        insert_vm(f->s, name, "base", BG_VM_STATE_CREATED);
    }
    bg_store_close(f->s);
    f->s = NULL;
    memset(junk, 0x5a, sizeof(junk));
    int fd = open(f->path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096), (ssize_t)sizeof(junk));
    close(fd);
    char *before = bg_test_slurp(f->path, &len);
    assert_err(bg_store_open(f->path, BG_STORE_READ_WRITE, &s, &err), err, -EBADMSG,
               "it will not be touched");
    assert_null(strchr(err.msg, '\n'));
    assert_same_file(f->path, before, len);
    free(before);
}

/* ---- images ---- */

static void test_image_crud(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_image img = make_image("base", 1700000000), got;
    struct bg_image *imgs = NULL;
    int64_t seq = 0, n = 0;
    size_t count = 0;

    assert_int_equal(bg_store_image_insert(f->s, &img, &seq, &err), 0);
    assert_true(seq > 0);
    assert_int_equal(bg_store_image_get(f->s, "base", &got, &err), 0);
    assert_string_equal(got.files[BG_IMAGE_KERNEL].path, "/images/base/vmlinux");
    assert_int_equal(got.files[BG_IMAGE_ROOTFS].size_bytes, 1ULL << 33);
    assert_null(got.files[BG_IMAGE_INITRD].path);
    assert_null(got.files[BG_IMAGE_VMLINUX].path);
    assert_string_equal(got.files[BG_IMAGE_KERNEL].sha256, "");
    assert_int_equal(got.vmms, BG_VMM_QEMU | BG_VMM_FIRECRACKER);
    assert_string_equal(got.source, "import");
    assert_null(got.error);
    assert_null(got.recipe);
    assert_null(got.packages);
    assert_int_equal(got.state, BG_IMAGE_STATE_IMPORTING);
    bg_image_done(&got);

    img.recipe = bg_strdup("dev");
    img.packages = bg_strdup("build-essential git");
    img.state = BG_IMAGE_STATE_FAILED;
    img.error = bg_strdup("kernel is not an ELF vmlinux");
    memset(img.files[BG_IMAGE_KERNEL].sha256, 'a', BG_SHA256_HEX_LEN);
    img.files[BG_IMAGE_VMLINUX].path = bg_strdup("/images/base/vmlinux.elf");
    img.files[BG_IMAGE_VMLINUX].size_bytes = 53000000;
    memset(img.files[BG_IMAGE_VMLINUX].sha256, 'b', BG_SHA256_HEX_LEN);
    img.created_at = 1; /* fixed at insert: ignored */
    assert_int_equal(bg_store_image_update(f->s, &img, NULL, &err), 0);
    assert_int_equal(bg_store_image_get(f->s, "base", &got, &err), 0);
    assert_int_equal(got.state, BG_IMAGE_STATE_FAILED);
    assert_string_equal(got.error, "kernel is not an ELF vmlinux");
    assert_int_equal(strlen(got.files[BG_IMAGE_KERNEL].sha256), BG_SHA256_HEX_LEN);
    assert_string_equal(got.files[BG_IMAGE_VMLINUX].path, "/images/base/vmlinux.elf");
    assert_int_equal(got.files[BG_IMAGE_VMLINUX].size_bytes, 53000000);
    assert_string_equal(got.files[BG_IMAGE_VMLINUX].sha256, img.files[BG_IMAGE_VMLINUX].sha256);
    assert_string_equal(got.source, "import");
    assert_string_equal(got.recipe, "dev");
    assert_string_equal(got.packages, "build-essential git");
    assert_int_equal(got.created_at, 1700000000);
    bg_image_done(&got);
    bg_image_done(&img);

    insert_image(f->s, "alpine");
    assert_int_equal(bg_store_image_list(f->s, &imgs, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_string_equal(imgs[0].name, "alpine");
    assert_string_equal(imgs[1].name, "base");
    bg_store_images_free(imgs, count);
    assert_int_equal(bg_store_image_count(f->s, &n, &err), 0);
    assert_int_equal(n, 2);

    assert_int_equal(bg_store_image_delete(f->s, "base", NULL, &err), 0);
    assert_err(bg_store_image_get(f->s, "base", &got, &err), err, -ENOENT,
               "image 'base' not found");
}

static void test_image_failures(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_image img = make_image("base", 1700000000), got;

    assert_int_equal(bg_store_image_insert(f->s, &img, NULL, &err), 0);
    assert_err(bg_store_image_insert(f->s, &img, NULL, &err), err, -EEXIST,
               "image 'base' already exists");
    snprintf(img.name, sizeof(img.name), "nope");
    assert_err(bg_store_image_update(f->s, &img, NULL, &err), err, -ENOENT,
               "image 'nope' not found");
    assert_err(bg_store_image_get(f->s, "nope", &got, &err), err, -ENOENT,
               "image 'nope' not found");
    assert_err(bg_store_image_delete(f->s, "nope", NULL, &err), err, -ENOENT,
               "image 'nope' not found");
    bg_image_done(&img);
}

static void test_image_in_use(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_image got;

    insert_image(f->s, "base");
    insert_vm(f->s, "b", "base", BG_VM_STATE_CREATED);
    insert_vm(f->s, "a", "base", BG_VM_STATE_CREATED);
    assert_err(bg_store_image_delete(f->s, "base", NULL, &err), err, -EBUSY,
               "image 'base' is used by VMs: a, b");
    assert_int_equal(bg_store_image_get(f->s, "base", &got, &err), 0);
    bg_image_done(&got);

    for (int i = 0; i < 12; i++) {
        char name[16];
        snprintf(name, sizeof(name), "vm%02d", i);
        insert_vm(f->s, name, "base", BG_VM_STATE_CREATED);
    }
    assert_err(bg_store_image_delete(f->s, "base", NULL, &err), err, -EBUSY,
               "used by VMs: a, b, vm00, vm01, vm02, vm03, vm04, vm05, vm06, vm07, ...");
}

/* ---- vms ---- */

static void test_vm_list(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm *vms = NULL;
    enum bg_vm_state running = BG_VM_STATE_RUNNING, failed = BG_VM_STATE_FAILED;
    size_t n = 0;

    insert_image(f->s, "base");
    insert_vm(f->s, "web2", "base", BG_VM_STATE_CREATED);
    insert_vm(f->s, "web1", "base", BG_VM_STATE_RUNNING);
    insert_vm(f->s, "db", "base", BG_VM_STATE_RUNNING);
    assert_int_equal(bg_store_vm_list(f->s, NULL, &vms, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(vms[0].spec.name, "db");
    assert_string_equal(vms[1].spec.name, "web1");
    assert_string_equal(vms[2].spec.name, "web2");
    free(vms);
    assert_int_equal(bg_store_vm_list(f->s, &running, &vms, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(vms[0].spec.name, "db");
    assert_string_equal(vms[1].spec.name, "web1");
    free(vms);
    assert_int_equal(bg_store_vm_list(f->s, &failed, &vms, &n, &err), 0);
    assert_int_equal(n, 0);
    free(vms);
}

static void test_vm_crud(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm, got;
    int64_t count = 0;

    insert_image(f->s, "base");
    insert_vm(f->s, "web2", "base", BG_VM_STATE_CREATED);
    insert_vm(f->s, "web1", "base", BG_VM_STATE_RUNNING);
    insert_vm(f->s, "db", "base", BG_VM_STATE_RUNNING);
    assert_int_equal(bg_store_vm_get(f->s, "web1", &got, &err), 0);
    vm = make_vm("web1", "base", BG_VM_STATE_RUNNING);
    assert_memory_equal(&got.spec, &vm.spec, sizeof(vm.spec));
    assert_int_equal(got.created_at, vm.created_at);
    assert_int_equal(got.updated_at, vm.updated_at);

    vm.state = BG_VM_STATE_STOPPED;
    vm.spec.disk_mib = 8192;
    vm.updated_at = 1700000100;
    vm.created_at = 5; /* fixed at insert: ignored */
    assert_int_equal(bg_store_vm_update(f->s, &vm, NULL, &err), 0);
    assert_int_equal(bg_store_vm_get(f->s, "web1", &got, &err), 0);
    assert_int_equal(got.state, BG_VM_STATE_STOPPED);
    assert_int_equal(got.spec.disk_mib, 8192);
    assert_int_equal(got.updated_at, 1700000100);
    assert_int_equal(got.created_at, 1700000000);

    assert_int_equal(bg_store_vm_count(f->s, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_int_equal(bg_store_vm_delete(f->s, "web1", NULL, &err), 0);
    assert_int_equal(bg_store_vm_count(f->s, &count, &err), 0);
    assert_int_equal(count, 2);
    /* With its VMs gone, the image can go. */
    assert_int_equal(bg_store_vm_delete(f->s, "web2", NULL, &err), 0);
    assert_int_equal(bg_store_vm_delete(f->s, "db", NULL, &err), 0);
    assert_int_equal(bg_store_image_delete(f->s, "base", NULL, &err), 0);
}

/* auto_remove is kept from the insert on, whatever the updates say. */
static void test_vm_auto_remove(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm = make_vm("run-1", "base", BG_VM_STATE_CREATED), got;

    insert_image(f->s, "base");
    vm.spec.auto_remove = true;
    assert_int_equal(bg_store_vm_insert(f->s, &vm, NULL, &err), 0);
    assert_int_equal(bg_store_vm_get(f->s, "run-1", &got, &err), 0);
    assert_true(got.spec.auto_remove);
    vm.state = BG_VM_STATE_RUNNING;
    vm.spec.auto_remove = false;
    assert_int_equal(bg_store_vm_update(f->s, &vm, NULL, &err), 0);
    assert_int_equal(bg_store_vm_get(f->s, "run-1", &got, &err), 0);
    assert_int_equal(got.state, BG_VM_STATE_RUNNING);
    assert_true(got.spec.auto_remove);
    assert_int_equal(bg_store_vm_delete(f->s, "run-1", NULL, &err), 0);
    assert_int_equal(bg_store_image_delete(f->s, "base", NULL, &err), 0);
}

static void test_vm_failures(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm = make_vm("web1", "base", BG_VM_STATE_CREATED), got;
    int64_t count = -1;

    insert_image(f->s, "base");
    assert_int_equal(bg_store_vm_insert(f->s, &vm, NULL, &err), 0);
    assert_err(bg_store_vm_insert(f->s, &vm, NULL, &err), err, -EEXIST, "vm 'web1' already exists");
    vm = make_vm("web2", "ghost", BG_VM_STATE_CREATED);
    assert_err(bg_store_vm_insert(f->s, &vm, NULL, &err), err, -ENOENT, "image 'ghost' not found");
    vm = make_vm("web1", "ghost", BG_VM_STATE_CREATED);
    assert_err(bg_store_vm_update(f->s, &vm, NULL, &err), err, -ENOENT, "image 'ghost' not found");
    vm = make_vm("x", "base", BG_VM_STATE_CREATED);
    assert_err(bg_store_vm_get(f->s, "x", &got, &err), err, -ENOENT, "vm 'x' not found");
    assert_err(bg_store_vm_update(f->s, &vm, NULL, &err), err, -ENOENT, "vm 'x' not found");
    assert_err(bg_store_vm_delete(f->s, "x", NULL, &err), err, -ENOENT, "vm 'x' not found");
    assert_int_equal(bg_store_vm_count(f->s, &count, &err), 0);
    assert_int_equal(count, 1);
}

/* ---- operations ---- */

static void test_op_crud(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_operation op = make_op("op-00000000000000a1", 100), got, *ops = NULL;
    size_t n = 0;

    assert_int_equal(bg_store_op_insert(f->s, &op, NULL, &err), 0);
    assert_int_equal(bg_store_op_get(f->s, op.id, &got, &err), 0);
    assert_string_equal(got.kind, "image_import");
    assert_string_equal(got.target, "/v1/images/base");
    assert_string_equal(got.unit, "bytes");
    assert_int_equal(got.done, 10);
    assert_int_equal(got.total, 100);
    assert_null(got.error);
    assert_null(got.result);
    bg_operation_done(&got);

    assert_int_equal(got.step_done, 0);
    assert_string_equal(got.step_unit, "");
    op.step_done = 37;
    op.step_total = 94;
    snprintf(op.step_unit, sizeof(op.step_unit), "packages");
    assert_int_equal(bg_store_op_update(f->s, &op, NULL, &err), 0);
    assert_int_equal(bg_store_op_get(f->s, op.id, &got, &err), 0);
    assert_int_equal(got.step_done, 37);
    assert_int_equal(got.step_total, 94);
    assert_string_equal(got.step_unit, "packages");
    bg_operation_done(&got);

    op.state = BG_OPERATION_STATE_SUCCEEDED;
    op.done = 100;
    op.updated_at = 160;
    op.result = json_pack("{s:s, s:I}", "image", "/v1/images/base", "bytes", (json_int_t)42);
    assert_int_equal(bg_store_op_update(f->s, &op, NULL, &err), 0);
    assert_int_equal(bg_store_op_get(f->s, op.id, &got, &err), 0);
    assert_int_equal(got.state, BG_OPERATION_STATE_SUCCEEDED);
    assert_int_equal(got.done, 100);
    assert_int_equal(got.updated_at, 160);
    assert_true(json_equal(got.result, op.result));
    assert_null(got.error);
    bg_operation_done(&got);
    bg_operation_done(&op);

    op = make_op("op-00000000000000b2", 200);
    op.state = BG_OPERATION_STATE_FAILED;
    op.error = json_pack("{s:s, s:i}", "code", "image_invalid", "status", 400);
    assert_int_equal(bg_store_op_insert(f->s, &op, NULL, &err), 0);
    bg_operation_done(&op);
    op = make_op("op-00000000000000c3", 300);
    assert_int_equal(bg_store_op_insert(f->s, &op, NULL, &err), 0);

    assert_int_equal(bg_store_op_list(f->s, 2, &ops, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ops[0].id, "op-00000000000000c3");
    assert_string_equal(ops[1].id, "op-00000000000000b2");
    assert_string_equal(json_string_value(json_object_get(ops[1].error, "code")), "image_invalid");
    bg_store_ops_free(ops, n);
    assert_int_equal(bg_store_op_list(f->s, 10, &ops, &n, &err), 0);
    assert_int_equal(n, 3);
    bg_store_ops_free(ops, n);
}

static void test_op_failures(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_operation op = make_op("op-00000000000000a1", 100), got;

    assert_int_equal(bg_store_op_insert(f->s, &op, NULL, &err), 0);
    assert_err(bg_store_op_insert(f->s, &op, NULL, &err), err, -EEXIST,
               "operation 'op-00000000000000a1' already exists");
    assert_err(bg_store_op_get(f->s, "op-ffffffffffffffff", &got, &err), err, -ENOENT,
               "operation 'op-ffffffffffffffff' not found");
    op = make_op("op-ffffffffffffffff", 100);
    assert_err(bg_store_op_update(f->s, &op, NULL, &err), err, -ENOENT,
               "operation 'op-ffffffffffffffff' not found");
}

/* Ended operations beyond the history are pruned as new ones start; running ones stay. */
static void test_op_pruned(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_operation op, *ops = NULL;
    char id[BG_OPERATION_ID_MAX];
    size_t n = 0;

    bg_store_set_operation_history(f->s, 3);
    op = make_op("op-0000000000000000", 1);
    assert_int_equal(bg_store_op_insert(f->s, &op, NULL, &err), 0); /* running: never pruned */
    for (int i = 1; i <= 6; i++) {
        snprintf(id, sizeof(id), "op-%016x", i);
        op = make_op(id, 1 + i);
        op.state = i % 2 ? BG_OPERATION_STATE_SUCCEEDED : BG_OPERATION_STATE_FAILED;
        assert_int_equal(bg_store_op_insert(f->s, &op, NULL, &err), 0);
    }
    assert_int_equal(bg_store_op_list(f->s, 100, &ops, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(ops[0].id, "op-0000000000000006");
    assert_string_equal(ops[2].id, "op-0000000000000004");
    assert_string_equal(ops[3].id, "op-0000000000000000");
    bg_store_ops_free(ops, n);
}

/* ---- events ---- */

static void assert_event(const struct bg_event *ev, int64_t seq, const char *type,
                         const char *subject, json_t *data)
{
    char *want = json_dumps(data, JSON_COMPACT);

    assert_int_equal(ev->seq, seq);
    assert_string_equal(ev->type, type);
    assert_string_equal(ev->subject, subject);
    assert_string_equal(ev->data, want);
    assert_true(ev->time > 1700000000);
    free(want);
    json_decref(data);
}

static void test_events_in_order(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_image img = make_image("base", 1700000000);
    struct bg_vm vm = make_vm("web1", "base", BG_VM_STATE_CREATED);
    struct bg_operation op = make_op("op-00000000000000a1", 100);
    struct bg_event *evs = NULL;
    int64_t seq[5] = {0};
    size_t n = 0;

    assert_int_equal(bg_store_image_insert(f->s, &img, &seq[0], &err), 0);
    assert_int_equal(bg_store_vm_insert(f->s, &vm, &seq[1], &err), 0);
    vm.state = BG_VM_STATE_RUNNING;
    assert_int_equal(bg_store_vm_update(f->s, &vm, &seq[2], &err), 0);
    assert_int_equal(bg_store_op_insert(f->s, &op, &seq[3], &err), 0);
    assert_int_equal(bg_store_vm_delete(f->s, "web1", &seq[4], &err), 0);
    for (int i = 1; i < 5; i++)
        assert_true(seq[i] > seq[i - 1]);

    assert_int_equal(bg_store_event_list(f->s, 0, 100, &evs, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_event(&evs[0], seq[0], "image.created", "/v1/images/base", bg_image_to_json(&img));
    vm.state = BG_VM_STATE_CREATED;
    assert_event(&evs[1], seq[1], "vm.created", "/v1/vms/web1", bg_vm_to_json(&vm));
    vm.state = BG_VM_STATE_RUNNING;
    assert_event(&evs[2], seq[2], "vm.updated", "/v1/vms/web1", bg_vm_to_json(&vm));
    assert_event(&evs[3], seq[3], "operation.created", "/v1/operations/op-00000000000000a1",
                 bg_operation_to_json(&op));
    assert_event(&evs[4], seq[4], "vm.deleted", "/v1/vms/web1", json_pack("{s:s}", "name", "web1"));
    bg_store_events_free(evs, n);

    assert_int_equal(bg_store_event_list(f->s, seq[2], 1, &evs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].seq, seq[3]);
    bg_store_events_free(evs, n);
    bg_image_done(&img);
}

/* A refused write leaves no event behind. */
static void test_failed_write_no_event(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_vm vm = make_vm("web1", "ghost", BG_VM_STATE_CREATED);
    int64_t oldest = -1, latest = -1;

    assert_int_equal(bg_store_event_bounds(f->s, &oldest, &latest, &err), 0);
    assert_int_equal(oldest, 0);
    assert_int_equal(latest, 0);
    assert_int_equal(bg_store_vm_insert(f->s, &vm, NULL, &err), -ENOENT);
    assert_int_equal(bg_store_event_bounds(f->s, &oldest, &latest, &err), 0);
    assert_int_equal(latest, 0);
}

static void test_events_pruned(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_event *evs = NULL;
    int64_t oldest = 0, latest = 0, last = 0;
    size_t n = 0;

    bg_store_set_event_history(f->s, 3);
    insert_image(f->s, "base");
    for (int i = 0; i < 6; i++) {
        struct bg_vm vm = make_vm("web1", "base", (enum bg_vm_state)(i % BG_VM_STATE_COUNT_));
        assert_int_equal(i == 0 ? bg_store_vm_insert(f->s, &vm, &last, &err)
                                : bg_store_vm_update(f->s, &vm, &last, &err),
                         0);
    }
    assert_int_equal(bg_store_event_bounds(f->s, &oldest, &latest, &err), 0);
    assert_int_equal(latest, last);
    assert_int_equal(oldest, last - 2);
    assert_int_equal(bg_store_event_list(f->s, 0, 100, &evs, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(evs[0].seq, last - 2);
    assert_int_equal(evs[2].seq, last);
    bg_store_events_free(evs, n);
}

/* AUTOINCREMENT: even with every event row gone, the next seq follows the last one issued. */
static void test_seq_not_reused(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    int64_t before = 0, after = 0, oldest = -1, latest = -1;

    bg_store_set_event_history(f->s, 1);
    insert_image(f->s, "a");
    insert_image(f->s, "b");
    assert_int_equal(bg_store_image_delete(f->s, "b", &before, &err), 0);
    bg_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path, "DELETE FROM events");
    assert_int_equal(bg_store_open(f->path, BG_STORE_READ_WRITE, &f->s, &err), 0);
    assert_int_equal(bg_store_event_bounds(f->s, &oldest, &latest, &err), 0);
    assert_int_equal(oldest, 0);
    assert_int_equal(latest, before);
    assert_int_equal(bg_store_image_delete(f->s, "a", &after, &err), 0);
    assert_int_equal(after, before + 1);
}

struct hook_log {
    int calls;
    int64_t last;
};

static void record_hook(void *userdata, int64_t seq)
{
    struct hook_log *log = userdata;

    log->calls++;
    log->last = seq;
}

static void test_hook_called(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct hook_log log = {0};
    struct bg_image img = make_image("base", 1);
    int64_t seq = 0;

    bg_store_set_event_hook(f->s, record_hook, &log);
    assert_int_equal(bg_store_image_insert(f->s, &img, &seq, &err), 0);
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.last, seq);
    assert_int_equal(bg_store_image_insert(f->s, &img, NULL, &err), -EEXIST);
    assert_int_equal(log.calls, 1);
    bg_store_set_event_hook(f->s, NULL, NULL);
    assert_int_equal(bg_store_image_delete(f->s, "base", NULL, &err), 0);
    assert_int_equal(log.calls, 1);
    bg_image_done(&img);
}

/* ---- threads ---- */

#define THREADS 4
#define PER_THREAD 25

struct worker {
    struct bg_store *s;
    int id;
    int64_t seqs[PER_THREAD];
    int failures;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        struct bg_error err = {0};
        char name[32];

        snprintf(name, sizeof(name), "t%d-%d", w->id, i);
        struct bg_vm vm = make_vm(name, "base", BG_VM_STATE_CREATED);
        if (bg_store_vm_insert(w->s, &vm, &w->seqs[i], &err) < 0)
            w->failures++;
    }
    return NULL;
}

static int cmp_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void test_concurrent_writers(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    int64_t all[THREADS * PER_THREAD], count = 0;

    insert_image(f->s, "base");
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){.s = f->s, .id = t};
        assert_int_equal(pthread_create(&threads[t], NULL, worker_run, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(workers[t].failures, 0);
        memcpy(&all[t * PER_THREAD], workers[t].seqs, sizeof(workers[t].seqs));
    }
    qsort(all, BG_ARRAY_SIZE(all), sizeof(all[0]), cmp_seq);
    for (size_t i = 1; i < BG_ARRAY_SIZE(all); i++)
        assert_int_equal(all[i], all[i - 1] + 1);
    assert_int_equal(bg_store_vm_count(f->s, &count, &err), 0);
    assert_int_equal(count, THREADS * PER_THREAD);
}

int main(void)
{
#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_fresh, setup_open),
        T(test_reopen_keeps_records, setup_open),
        T(test_open_missing_dir, setup_dir),
        T(test_read_only, setup_open),
        T(test_read_only_beside_writer, setup_open),
        T(test_read_only_missing, setup_dir),
        T(test_read_only_unmigrated, setup_dir),
        T(test_migrate_v3_images, setup_open),
        T(test_migrate_v4_vms, setup_open),
        T(test_newer_schema_refused, setup_open),
        T(test_garbage_refused, setup_dir),
        T(test_other_application_refused, setup_dir),
        T(test_untagged_database_refused, setup_dir),
        T(test_corrupt_refused, setup_open),
        T(test_image_crud, setup_open),
        T(test_image_failures, setup_open),
        T(test_image_in_use, setup_open),
        T(test_vm_crud, setup_open),
        T(test_vm_list, setup_open),
        T(test_vm_failures, setup_open),
        T(test_vm_auto_remove, setup_open),
        T(test_op_crud, setup_open),
        T(test_op_failures, setup_open),
        T(test_op_pruned, setup_open),
        T(test_events_in_order, setup_open),
        T(test_failed_write_no_event, setup_open),
        T(test_events_pruned, setup_open),
        T(test_seq_not_reused, setup_open),
        T(test_hook_called, setup_open),
        T(test_concurrent_writers, setup_open),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
