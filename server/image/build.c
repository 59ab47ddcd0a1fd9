/* SPDX-License-Identifier: MIT */
/* Builds the default image from Debian packages in a background job: the steps and the job. */
#include "image/build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "core/jobs.h"
#include "host/fileio.h"
#include "host/sha256.h"
#include "image/buildjob.h"
#include "image/cpio.h"
#include "image/debs.h"
#include "image/files.h"
#include "image/kmod.h"
#include "image/record.h"
#include "image/rootfs.h"
#include "image/vmlinux.h"

/* ---- unpack ---- */

/* <cache_dir>/build-XXXXXX, removed when the build ends however it ends. */
static int make_tmp(struct bg_imagebuild *b, struct bg_error *err)
{
    bg_autofree char *tmpl = bg_asprintf("%s/build-XXXXXX", b->ctx.cache_dir);

    if (!mkdtemp(tmpl))
        return bg_error_errno(err, "create a directory in '%s'", b->ctx.cache_dir);
    b->tmp = bg_steal_ptr(&tmpl);
    b->root = bg_asprintf("%s/root", b->tmp);
    return 0;
}

static int unpack(struct bg_imagebuild *b, struct bg_error *err)
{
    const char *debs[] = {b->debs_kernel, b->debs_busybox};
    struct bg_run_result run;
    int r;

    for (size_t i = 0; i < BG_ARRAY_SIZE(debs); i++) {
        const char *argv[] = {"dpkg-deb", "-x", debs[i], b->root, NULL};
        if ((r = bg_imagebuild_run_ok(b, argv, NULL, -1, &run, NULL, err)) < 0)
            return r;
        bg_run_result_done(&run);
    }
    return 0;
}

static bool kver_ok(const char *v)
{
    return *v && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+_-") ==
                     strlen(v);
}

/* The one boot/vmlinuz-VERSION of the kernel package. */
static int find_kernel(struct bg_imagebuild *b, struct bg_error *err)
{
    bg_autofree char *boot = bg_asprintf("%s/boot", b->root);
    DIR *dir = opendir(boot);
    struct dirent *de;
    int r = 0;

    if (!dir)
        return bg_error_errno(err, "the kernel package has no /boot ('%s')", boot);
    while ((de = readdir(dir)) && r >= 0) {
        if (strncmp(de->d_name, "vmlinuz-", 8) != 0)
            continue;
        if (b->kver || !kver_ok(de->d_name + 8))
            r = bg_error_set(err, -EINVAL, "the kernel package holds an unexpected '/boot/%s'",
                             de->d_name);
        else
            b->kver = bg_strdup(de->d_name + 8);
    }
    closedir(dir);
    if (r >= 0 && !b->kver)
        r = bg_error_set(err, -ENOENT, "the kernel package has no /boot/vmlinuz-*");
    return r;
}

/* ---- the initramfs ---- */

struct initrd_dir {
    const char *name;
    mode_t perm;
};

static const struct initrd_dir initrd_dirs[] = {
    {"bin", 0755}, {"dev", 0755},        {"etc", 0755},
    {"lib", 0755}, {"lib/banger", 0755}, {"lib/banger/modules", 0755},
    {"mnt", 0755}, {"proc", 0555},       {"root", 0700},
    {"run", 0755}, {"sys", 0555},        {"tmp", 01777},
    {"usr", 0755}, {"var", 0755},
};

/* Merged-/usr style: every usual PATH directory leads to the busybox links in /bin. */
static const char *const initrd_links[][2] = {
    {"sbin", "bin"}, {"usr/bin", "../bin"}, {"usr/sbin", "../bin"}};

static int add_layout(struct bg_cpio *c, struct bg_error *err)
{
    static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n";
    static const char group[] = "root:x:0:\n";
    int r = 0;

    for (size_t i = 0; r >= 0 && i < BG_ARRAY_SIZE(initrd_dirs); i++)
        r = bg_cpio_add_dir(c, initrd_dirs[i].name, initrd_dirs[i].perm, err);
    for (size_t i = 0; r >= 0 && i < BG_ARRAY_SIZE(initrd_links); i++)
        r = bg_cpio_add_symlink(c, initrd_links[i][0], initrd_links[i][1], err);
    if (r >= 0)
        r = bg_cpio_add_data(c, "etc/passwd", 0644, passwd, sizeof(passwd) - 1, err);
    if (r >= 0)
        r = bg_cpio_add_data(c, "etc/group", 0644, group, sizeof(group) - 1, err);
    return r;
}

static bool applet_ok(const char *s, size_t n)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]-";

    return n > 0 && n < 64 && s[0] != '.' && strspn(s, ok) >= n;
}

/* /bin/busybox and a link in /bin for every applet it lists. */
static int add_busybox(struct bg_imagebuild *b, struct bg_cpio *c, struct bg_error *err)
{
    bg_autofree char *busybox = bg_asprintf("%s/bin/busybox", b->root);
    const char *argv[] = {busybox, "--list", NULL};
    struct bg_run_result run;
    int r = bg_cpio_add_file(c, "bin/busybox", 0755, busybox, err);

    if (r < 0 || (r = bg_imagebuild_run_ok(b, argv, NULL, -1, &run, NULL, err)) < 0)
        return r;
    for (const char *p = run.out; r >= 0 && *p;) {
        size_t n = strcspn(p, "\n");
        bg_autofree char *applet = bg_strndup(p, n);
        if (applet_ok(applet, n) && strcmp(applet, "busybox") != 0) {
            bg_autofree char *name = bg_asprintf("bin/%s", applet);
            r = bg_cpio_add_symlink(c, name, "busybox", err);
        }
        p += n + (p[n] == '\n');
    }
    bg_run_result_done(&run);
    return r;
}

/* /lib/banger/modules/NAME.ko for each module, and modules.order listing them in order. */
static int add_modules(struct bg_imagebuild *b, struct bg_cpio *c, const char *moddir, char **paths,
                       size_t n, struct bg_error *err)
{
    bg_autofree char *order = bg_strdup("");
    int r = 0;

    for (size_t i = 0; r >= 0 && i < n; i++) {
        char name[64];
        bg_autofree char *file = NULL;
        bg_imagebuild_module_name(paths[i], name, sizeof(name));
        bg_autofree char *dst = bg_asprintf("lib/banger/modules/%s.ko", name);
        if ((r = bg_imagebuild_plain_module(b, moddir, paths[i], &file, err)) < 0)
            break;
        r = bg_cpio_add_file(c, dst, 0644, file, err);
        char *next = bg_asprintf("%s/%s\n", order, dst);
        free(order);
        order = next;
    }
    if (r < 0)
        return r;
    return bg_cpio_add_data(c, "lib/banger/modules.order", 0644, order, strlen(order), err);
}

static int write_initrd(struct bg_imagebuild *b, const char *moddir, char **paths, size_t n,
                        int64_t mtime, struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s/initrd.img.tmp", b->imgdir);
    bg_autofree char *dst = bg_asprintf("%s/initrd.img", b->imgdir);
    bg_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    bg_auto(bg_cpio_freep) struct bg_cpio *c = NULL;
    int r;

    if (fd < 0)
        return bg_error_errno(err, "create '%s'", tmp);
    c = bg_cpio_new(fd, mtime);
    if ((r = add_layout(c, err)) < 0 || (r = add_busybox(b, c, err)) < 0 ||
        (r = add_modules(b, c, moddir, paths, n, err)) < 0 || (r = bg_cpio_finish(c, err)) < 0)
        return bg_error_prefix(err, r, "write the initramfs");
    if (fsync(fd) < 0)
        return bg_error_errno(err, "fsync '%s'", tmp);
    if (rename(tmp, dst) < 0)
        return bg_error_errno(err, "rename '%s'", tmp);
    b->img.files[BG_IMAGE_INITRD].path = bg_steal_ptr(&dst);
    return 0;
}

static int install_kernel(struct bg_imagebuild *b, struct bg_error *err)
{
    bg_autofree char *src = bg_asprintf("%s/boot/vmlinuz-%s", b->root, b->kver);
    bg_autofree char *tmp = bg_asprintf("%s/vmlinuz.tmp", b->imgdir);
    const char *dst = b->img.files[BG_IMAGE_KERNEL].path;
    int r = bg_imagebuild_copy_file(src, tmp, err);

    if (r < 0)
        return r;
    if (rename(tmp, dst) < 0)
        return bg_error_errno(err, "rename '%s'", tmp);
    /* Firecracker loads only an ELF vmlinux: the one inside the bzImage, next to it. */
    return bg_vmlinux_extract(dst, b->img.files[BG_IMAGE_VMLINUX].path, err);
}

static int make_files(struct bg_imagebuild *b, struct bg_error *err)
{
    bg_autofree char *moddir = bg_asprintf("%s/lib/modules/%s", b->root, b->kver);
    bg_autofree char *kernel = bg_asprintf("%s/boot/vmlinuz-%s", b->root, b->kver);
    char **paths = NULL;
    size_t n = 0;
    struct stat st;
    int r;

    bg_imagebuild_step(b, 4, "modules");
    if ((r = bg_imagebuild_module_order(b, moddir, &paths, &n, err)) < 0)
        return r;
    bg_imagebuild_step(b, 5, "initramfs");
    /* The kernel's own mtime makes the archive the same for the same packages. */
    if (stat(kernel, &st) < 0)
        r = bg_error_errno(err, "stat '%s'", kernel);
    if (r >= 0)
        r = bg_mkdir_p(b->imgdir, 0700, err);
    if (r >= 0)
        r = write_initrd(b, moddir, paths, n, st.st_mtime, err);
    if (r >= 0)
        r = install_kernel(b, err);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return r;
}

/* ---- the job ---- */

static int build_run(struct bg_imagebuild *b, struct bg_error *err)
{
    int r = bg_mkdir_p(b->debs, 0755, err);

    if (r < 0 || (r = make_tmp(b, err)) < 0)
        return r;
    if ((r = bg_imagebuild_download_all(b, err)) < 0)
        return r;
    bg_imagebuild_step(b, 3, "unpack");
    if ((r = unpack(b, err)) < 0 || (r = find_kernel(b, err)) < 0 || (r = make_files(b, err)) < 0)
        return r;
    /* the dev recipe's rootfs: its steps come between the initramfs and the register step */
    if (b->recipe == BG_RECIPE_DEV && (r = bg_imagebuild_rootfs(b, 6, err)) < 0)
        return r;
    bg_imagebuild_step(b, (unsigned)b->op.total - 1,
                       "register (vmlinux for firecracker: not yet proven on a real Firecracker)");
    for (int k = BG_IMAGE_KERNEL; k < BG_IMAGE_FILE_COUNT_; k++) {
        struct bg_image_file *f = &b->img.files[k];
        /* the rootfs was hashed when it was made (it may be a large file from the cache) */
        if (f->path && !f->sha256[0] &&
            (r = bg_sha256_file(f->path, f->sha256, &f->size_bytes, err)) < 0)
            return r;
    }
    return 0;
}

static void finish(struct bg_imagebuild *b, const struct bg_error *failure)
{
    bg_image_op_settle(b->ctx.store, &b->img, &b->op, failure);
    if (failure)
        bg_log_warn("build image '%s': %s", b->img.name, failure->msg);
    else
        bg_log_info("build image '%s': ready (kernel %s, %u package(s) downloaded)", b->img.name,
                    b->kver, b->downloaded);
    bg_image_op_update(b->ctx.store, &b->op);
}

static void build_free(struct bg_imagebuild *b)
{
    bg_image_done(&b->img);
    bg_operation_done(&b->op);
    free(b->debs);
    free(b->tmp);
    free(b->root);
    free(b->imgdir);
    free(b->kver);
    free(b->debs_meta);
    free(b->debs_kernel);
    free(b->debs_busybox);
    bg_pkglist_done(&b->packages);
    free(b);
}

void bg_imagebuild_remove_files(const char *state_dir, const char *name)
{
    static const char *const files[] = {"vmlinuz",
                                        "vmlinux",
                                        "initrd.img",
                                        "vmlinuz.tmp",
                                        "initrd.img.tmp",
                                        BG_ROOTFS_FILE,
                                        BG_ROOTFS_FILE ".tmp",
                                        BG_ROOTFS_PACKAGES_FILE,
                                        BG_ROOTFS_PACKAGES_FILE ".tmp",
                                        BG_ROOTFS_LOG_FILE};
    bg_autofree char *dir = bg_asprintf("%s/images/%s", state_dir, name);

    for (size_t i = 0; i < BG_ARRAY_SIZE(files); i++) {
        bg_autofree char *p = bg_asprintf("%s/%s", dir, files[i]);
        if (unlink(p) < 0 && errno != ENOENT)
            bg_log_warn("remove image '%s': %s: %s", name, p, strerror(errno));
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        bg_log_warn("remove image '%s': %s: %s", name, dir, strerror(errno));
}

static void remove_partial(struct bg_imagebuild *b)
{
    static const char *const leftovers[] = {"initrd.img.tmp", "vmlinuz.tmp", BG_ROOTFS_FILE ".tmp",
                                            BG_ROOTFS_PACKAGES_FILE ".tmp"};

    for (size_t i = 0; i < BG_ARRAY_SIZE(leftovers); i++) {
        bg_autofree char *p = bg_asprintf("%s/%s", b->imgdir, leftovers[i]);
        (void)unlink(p);
    }
}

static void build_main(void *arg)
{
    struct bg_imagebuild *b = arg;
    struct bg_error err;
    int r = build_run(b, &err);

    if (b->tmp)
        (void)bg_rm_tree(b->tmp, NULL);
    if (r < 0)
        remove_partial(b);
    finish(b, r < 0 ? &err : NULL);
    build_free(b);
}

/* The build of req; pkgs (dev: the rootfs's packages) is taken. */
static struct bg_imagebuild *build_new(const struct bg_image_ctx *ctx,
                                       const struct bg_imagebuild_request *req,
                                       struct bg_pkglist *pkgs)
{
    struct bg_imagebuild *b = bg_calloc(1, sizeof(*b));
    const char *name = req->name;
    bool dev = req->recipe == BG_RECIPE_DEV;

    b->ctx = *ctx;
    b->recipe = req->recipe;
    b->packages = *pkgs;
    *pkgs = (struct bg_pkglist){0};
    b->img.recipe = bg_strdup(bg_recipe_name(req->recipe));
    b->img.packages = dev ? bg_pkglist_join(&b->packages, " ")
                          : bg_strdup(BG_IMAGEBUILD_META_PACKAGE " " BG_IMAGEBUILD_BUSYBOX_PACKAGE);
    snprintf(b->img.name, sizeof(b->img.name), "%s", name);
    snprintf(b->img.arch, sizeof(b->img.arch), "x86_64");
    b->img.state = BG_IMAGE_STATE_IMPORTING;
    /* QEMU boots the bzImage (vmlinuz); Firecracker the ELF vmlinux extracted from it, a route
     * not yet proven on a real Firecracker (docs/images.md). */
    b->img.vmms = BG_VMM_QEMU | BG_VMM_FIRECRACKER;
    b->img.source = bg_strdup(BG_IMAGE_SOURCE_BUILD);
    b->img.created_at = time(NULL);
    b->imgdir = bg_asprintf("%s/images/%s", ctx->state_dir, name);
    b->img.files[BG_IMAGE_KERNEL].path = bg_asprintf("%s/vmlinuz", b->imgdir);
    b->img.files[BG_IMAGE_VMLINUX].path = bg_asprintf("%s/vmlinux", b->imgdir);
    b->debs = bg_asprintf("%s/debs", ctx->cache_dir);
    bg_image_op_init(&b->op, "image_build", name, "steps",
                     dev ? BG_IMAGEBUILD_DEV_STEPS : BG_IMAGEBUILD_STEPS);
    snprintf(b->op.step, sizeof(b->op.step), "queued");
    return b;
}

int bg_imagebuild_check(const struct bg_imagebuild_request *req, struct bg_error *err)
{
    int r;

    if (req->recipe != BG_RECIPE_DEV || (r = bg_imagebuild_rootfs_check(err)) >= 0)
        return 0;
    return bg_error_prefix(err, BG_ERR(BG_PROBLEM_IMAGE_BUILD_UNAVAILABLE), "recipe dev");
}

int bg_imagebuild_start(const struct bg_image_ctx *ctx, const struct bg_imagebuild_request *req,
                        struct bg_operation *ret_op, struct bg_error *err)
{
    struct bg_pkglist pkgs = {0};
    struct bg_imagebuild *b;
    int r;

    if (req->recipe == BG_RECIPE_DEV &&
        bg_recipe_dev_packages(ctx->dev_packages, req->packages, req->n_packages, &pkgs, err) < 0)
        return bg_error_prefix(err, BG_ERR(BG_PROBLEM_INVALID_FIELD), "recipe dev");
    b = build_new(ctx, req, &pkgs);
    if ((r = bg_image_op_record(ctx->store, &b->img, &b->op, err)) < 0)
        goto fail;
    *ret_op = b->op; /* plain data while running: error and result are NULL */
    if ((r = bg_jobs_spawn(ctx->jobs, build_main, b, err)) < 0) {
        struct bg_error e = *err;
        finish(b, &e); /* the records stay, marked failed with the reason */
        goto fail;
    }
    return 0;

fail:
    build_free(b);
    return r;
}
