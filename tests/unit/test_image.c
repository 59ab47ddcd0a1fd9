/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/image.c: import decoding, the wire form, states and file keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/image.h"

static const char sha_a[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

static json_t *body(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        fail_msg("bad test literal '%s': %s", text, jerr.text);
    return v;
}

static void test_import_kernel_only(void **state)
{
    (void)state;
    struct bg_image_import req;
    struct bg_field_error f = {.problem = BG_PROBLEM_INTERNAL, .field = "untouched"};
    struct bg_error err = {.code = 1};
    json_t *b = body("{\"name\":\"base\",\"kernel\":\"/srv/vmlinux\"}");

    assert_int_equal(bg_image_import_decode(b, &req, &f, &err), 0);
    json_decref(b);
    assert_string_equal(req.name, "base");
    assert_string_equal(req.paths[BG_IMAGE_KERNEL], "/srv/vmlinux");
    assert_null(req.paths[BG_IMAGE_ROOTFS]);
    assert_null(req.paths[BG_IMAGE_INITRD]);
    assert_null(req.paths[BG_IMAGE_VMLINUX]);
    assert_int_equal(f.problem, BG_PROBLEM_INTERNAL);
    assert_int_equal(err.code, 1);
    bg_image_import_done(&req);
    assert_null(req.paths[BG_IMAGE_KERNEL]);
    /* done is idempotent */
    bg_image_import_done(&req);
}

static void test_import_all_files(void **state)
{
    (void)state;
    struct bg_image_import req;
    struct bg_field_error f;
    struct bg_error err = {0};
    json_t *b = body("{\"initrd\":\"/srv/initrd.img\",\"rootfs\":\"/srv/images/rootfs.ext4\","
                     "\"kernel\":\"/srv/vmlinuz\",\"vmlinux\":\"/srv/vmlinux\","
                     "\"name\":\"deb-12\"}");

    assert_int_equal(bg_image_import_decode(b, &req, &f, &err), 0);
    json_decref(b);
    assert_string_equal(req.name, "deb-12");
    assert_string_equal(req.paths[BG_IMAGE_KERNEL], "/srv/vmlinuz");
    assert_string_equal(req.paths[BG_IMAGE_ROOTFS], "/srv/images/rootfs.ext4");
    assert_string_equal(req.paths[BG_IMAGE_INITRD], "/srv/initrd.img");
    assert_string_equal(req.paths[BG_IMAGE_VMLINUX], "/srv/vmlinux");
    bg_image_import_done(&req);
}

static void test_import_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        enum bg_problem problem;
        const char *field;
        const char *fragment;
    } bad[] = {
        {"{}", BG_PROBLEM_MISSING_FIELD, "name", "field 'name' is required"},
        {"{\"kernel\":\"/srv/vmlinux\"}", BG_PROBLEM_MISSING_FIELD, "name",
         "field 'name' is required"},
        {"{\"name\":\"base\"}", BG_PROBLEM_MISSING_FIELD, "kernel", "field 'kernel' is required"},
        {"{\"name\":\"base\",\"rootfs\":\"/srv/rootfs.ext4\"}", BG_PROBLEM_MISSING_FIELD, "kernel",
         "field 'kernel' is required"},
        {"{\"name\":\"Base\",\"kernel\":\"/k\"}", BG_PROBLEM_INVALID_NAME, "name",
         "field 'name': name may contain only"},
        {"{\"name\":5,\"kernel\":\"/k\"}", BG_PROBLEM_INVALID_FIELD, "name", "must be a string"},
        {"{\"name\":\"base\",\"kernel\":\"vmlinux\"}", BG_PROBLEM_INVALID_FIELD, "kernel",
         "field 'kernel': path 'vmlinux' is not absolute"},
        {"{\"name\":\"base\",\"kernel\":null}", BG_PROBLEM_INVALID_FIELD, "kernel",
         "field 'kernel': must be a string"},
        {"{\"name\":\"base\",\"kernel\":\"\"}", BG_PROBLEM_INVALID_FIELD, "kernel",
         "path is empty"},
        /* the kernel was already copied when these are refused: nothing may leak */
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"rootfs\":\"./rootfs.ext4\"}",
         BG_PROBLEM_INVALID_FIELD, "rootfs",
         "field 'rootfs': path './rootfs.ext4' is not absolute"},
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"rootfs\":\"/srv/../etc/shadow\"}",
         BG_PROBLEM_INVALID_FIELD, "rootfs", "not normalised"},
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"rootfs\":null}", BG_PROBLEM_INVALID_FIELD,
         "rootfs", "must be a string"},
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"rootfs\":\"/r\",\"initrd\":\"/srv//initrd\"}",
         BG_PROBLEM_INVALID_FIELD, "initrd",
         "field 'initrd': path '/srv//initrd' is not normalised"},
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"initrd\":[\"/i\"]}", BG_PROBLEM_INVALID_FIELD,
         "initrd", "must be a string"},
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"vmlinux\":\"vmlinux\"}", BG_PROBLEM_INVALID_FIELD,
         "vmlinux", "field 'vmlinux': path 'vmlinux' is not absolute"},
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"kernel_args\":\"quiet\"}",
         BG_PROBLEM_UNKNOWN_FIELD, "kernel_args", "unknown field 'kernel_args'"},
        {"{\"name\":\"base\",\"kernel\":\"/k\",\"sha256\":\"00\"}", BG_PROBLEM_UNKNOWN_FIELD,
         "sha256", "unknown field 'sha256'"},
        {"{\"url\":\"http://x\"}", BG_PROBLEM_UNKNOWN_FIELD, "url", "unknown field 'url'"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char sentinel;
        struct bg_image_import req = {.name = "untouched",
                                      .paths = {&sentinel, &sentinel, &sentinel, &sentinel}};
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        json_t *b = body(bad[i].body);
        int r = bg_image_import_decode(b, &req, &f, &err);
        json_decref(b);

        if (r != -EINVAL)
            fail_msg("%s: returned %d", bad[i].body, r);
        assert_int_equal(err.code, -EINVAL);
        if (f.problem != bad[i].problem)
            fail_msg("%s: problem %s, want %s (%s)", bad[i].body, bg_problem_code(f.problem),
                     bg_problem_code(bad[i].problem), err.msg);
        if (strcmp(f.field, bad[i].field) != 0)
            fail_msg("%s: field '%s', want '%s'", bad[i].body, f.field, bad[i].field);
        if (!strstr(err.msg, bad[i].fragment))
            fail_msg("%s: message '%s' lacks '%s'", bad[i].body, err.msg, bad[i].fragment);
        /* the output is written only on success */
        assert_string_equal(req.name, "untouched");
        for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++)
            assert_ptr_equal(req.paths[k], &sentinel);
    }
}

/* An image with every member set (files owned by the struct). */
static void sample_image(struct bg_image *img)
{
    memset(img, 0, sizeof(*img));
    strcpy(img->name, "base");
    img->state = BG_IMAGE_STATE_READY;
    strcpy(img->arch, "x86_64");
    img->vmms = BG_VMM_QEMU | BG_VMM_FIRECRACKER;
    img->files[BG_IMAGE_KERNEL].path = bg_strdup("/srv/images/vmlinux");
    img->files[BG_IMAGE_KERNEL].size_bytes = 44040192;
    strcpy(img->files[BG_IMAGE_KERNEL].sha256, sha_a);
    img->files[BG_IMAGE_ROOTFS].path = bg_strdup("/srv/images/rootfs.ext4");
    img->files[BG_IMAGE_ROOTFS].size_bytes = 1073741824;
    img->created_at = 1738324800; /* 2025-01-31T12:00:00Z */
}

static void test_to_json_shape(void **state)
{
    (void)state;
    struct bg_image img;
    sample_image(&img);
    json_t *j = bg_image_to_json(&img);

    assert_non_null(j);
    assert_int_equal(json_object_size(j), 13);
    /* an imported image has no recipe */
    assert_true(json_is_null(json_object_get(j, "recipe")));
    assert_string_equal(json_string_value(json_object_get(j, "name")), "base");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "ready");
    assert_string_equal(json_string_value(json_object_get(j, "arch")), "x86_64");
    assert_string_equal(json_string_value(json_object_get(j, "source")), "import");
    assert_int_equal(json_array_size(json_object_get(j, "vmms_unproven")), 0);
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_string_equal(json_string_value(json_object_get(j, "created_at")),
                        "2025-01-31T12:00:00Z");

    json_t *kernel = json_object_get(j, "kernel");
    assert_true(json_is_object(kernel));
    assert_int_equal(json_object_size(kernel), 3);
    assert_string_equal(json_string_value(json_object_get(kernel, "path")), "/srv/images/vmlinux");
    assert_int_equal(json_integer_value(json_object_get(kernel, "size_bytes")), 44040192);
    assert_string_equal(json_string_value(json_object_get(kernel, "sha256")), sha_a);

    /* a file not hashed yet has sha256 null, not "" */
    json_t *rootfs = json_object_get(j, "rootfs");
    assert_true(json_is_object(rootfs));
    assert_int_equal(json_integer_value(json_object_get(rootfs, "size_bytes")), 1073741824);
    assert_non_null(json_object_get(rootfs, "sha256"));
    assert_true(json_is_null(json_object_get(rootfs, "sha256")));

    /* an absent file is null, and still present as a member */
    assert_non_null(json_object_get(j, "initrd"));
    assert_true(json_is_null(json_object_get(j, "initrd")));
    assert_non_null(json_object_get(j, "vmlinux"));
    assert_true(json_is_null(json_object_get(j, "vmlinux")));
    json_decref(j);
    bg_image_done(&img);
}

static void test_to_json_recipe(void **state)
{
    (void)state;
    struct bg_image img;
    sample_image(&img);
    img.source = bg_strdup(BG_IMAGE_SOURCE_BUILD);
    img.recipe = bg_strdup("dev");
    img.packages = bg_strdup("build-essential git  vim");
    json_t *j = bg_image_to_json(&img);
    json_t *recipe = json_object_get(j, "recipe");

    assert_true(json_is_object(recipe));
    assert_int_equal(json_object_size(recipe), 2);
    assert_string_equal(json_string_value(json_object_get(recipe, "name")), "dev");
    json_t *pkgs = json_object_get(recipe, "packages");
    assert_int_equal(json_array_size(pkgs), 3);
    assert_string_equal(json_string_value(json_array_get(pkgs, 0)), "build-essential");
    assert_string_equal(json_string_value(json_array_get(pkgs, 2)), "vim");
    json_decref(j);
    bg_image_done(&img);
    assert_null(img.recipe);
    assert_null(img.packages);
}

static void test_to_json_null_rootfs_and_failure(void **state)
{
    (void)state;
    struct bg_image img;
    sample_image(&img);
    bg_image_done(&img);                               /* drop the paths ... */
    img.files[BG_IMAGE_KERNEL].path = bg_strdup("/k"); /* ... and keep only a kernel */
    img.files[BG_IMAGE_KERNEL].sha256[0] = '\0';
    img.state = BG_IMAGE_STATE_FAILED;
    img.source = bg_strdup("import");
    img.error = bg_strdup("read /k: Permission denied");

    json_t *j = bg_image_to_json(&img);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "failed");
    assert_true(json_is_null(json_object_get(j, "rootfs")));
    assert_true(json_is_null(json_object_get(j, "initrd")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "kernel"), "sha256")));
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "read /k: Permission denied");
    assert_string_equal(json_string_value(json_object_get(j, "source")), "import");
    json_decref(j);
    bg_image_done(&img);
    assert_null(img.source);
    assert_null(img.error);
    assert_null(img.files[BG_IMAGE_KERNEL].path);
    bg_image_done(&img); /* idempotent */
}

static void test_to_json_vmms_order(void **state)
{
    (void)state;
    static const struct {
        unsigned bits;
        const char *want[2];
        size_t n;
    } cases[] = {
        {BG_VMM_QEMU | BG_VMM_FIRECRACKER, {"firecracker", "qemu"}, 2},
        {BG_VMM_FIRECRACKER | BG_VMM_QEMU, {"firecracker", "qemu"}, 2},
        {BG_VMM_QEMU, {"qemu"}, 1},
        {BG_VMM_FIRECRACKER, {"firecracker"}, 1},
        {0, {NULL}, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bg_image img;
        sample_image(&img);
        img.vmms = cases[i].bits;
        json_t *j = bg_image_to_json(&img);
        json_t *vmms = json_object_get(j, "vmms");
        assert_true(json_is_array(vmms));
        assert_int_equal(json_array_size(vmms), cases[i].n);
        for (size_t k = 0; k < cases[i].n; k++)
            assert_string_equal(json_string_value(json_array_get(vmms, k)), cases[i].want[k]);
        json_decref(j);
        bg_image_done(&img);
    }
}

static void test_state_names(void **state)
{
    (void)state;
    static const char *const names[BG_IMAGE_STATE_COUNT_] = {"importing", "ready", "failed"};

    for (int i = 0; i < BG_IMAGE_STATE_COUNT_; i++) {
        enum bg_image_state s = BG_IMAGE_STATE_COUNT_;
        assert_string_equal(bg_image_state_name((enum bg_image_state)i), names[i]);
        assert_int_equal(bg_image_state_parse(names[i], &s), 0);
        assert_int_equal(s, i);
    }
    assert_string_equal(bg_image_state_name(BG_IMAGE_STATE_COUNT_), "failed");

    const char *bad[] = {"", "Ready", "imported", "running"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum bg_image_state s = BG_IMAGE_STATE_READY;
        assert_int_equal(bg_image_state_parse(bad[i], &s), -EINVAL);
        assert_int_equal(s, BG_IMAGE_STATE_READY);
    }
}

/* A built image's Firecracker boot is marked as not yet proven; an imported one's is not, and
 * a built image without the firecracker bit has nothing to mark. */
static void test_to_json_unproven(void **state)
{
    (void)state;
    struct bg_image img;
    sample_image(&img);
    img.source = bg_strdup(BG_IMAGE_SOURCE_BUILD);

    json_t *j = bg_image_to_json(&img);
    json_t *u = json_object_get(j, "vmms_unproven");
    assert_int_equal(json_array_size(u), 1);
    assert_string_equal(json_string_value(json_array_get(u, 0)), "firecracker");
    json_decref(j);
    img.vmms = BG_VMM_QEMU;
    j = bg_image_to_json(&img);
    assert_int_equal(json_array_size(json_object_get(j, "vmms_unproven")), 0);
    json_decref(j);
    bg_image_done(&img);
}

static void test_file_keys(void **state)
{
    (void)state;
    assert_string_equal(bg_image_file_key(BG_IMAGE_KERNEL), "kernel");
    assert_string_equal(bg_image_file_key(BG_IMAGE_ROOTFS), "rootfs");
    assert_string_equal(bg_image_file_key(BG_IMAGE_INITRD), "initrd");
    assert_string_equal(bg_image_file_key(BG_IMAGE_VMLINUX), "vmlinux");
    assert_string_equal(bg_image_file_key(BG_IMAGE_FILE_COUNT_), "kernel");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_kernel_only),
        cmocka_unit_test(test_import_all_files),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_to_json_shape),
        cmocka_unit_test(test_to_json_recipe),
        cmocka_unit_test(test_to_json_unproven),
        cmocka_unit_test(test_to_json_null_rootfs_and_failure),
        cmocka_unit_test(test_to_json_vmms_order),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_file_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
