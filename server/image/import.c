/* SPDX-License-Identifier: MIT */
/* Image import: each file opened once and checked, then a sha256 job over those descriptors
 * that reports progress. */
#include "image/import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "core/jobs.h"
#include "host/sha256.h"
#include "image/record.h"

#define PROGRESS_INTERVAL_MS 250

/* Why path could not be opened, as the field's refusal. */
static int open_refusal(const char *key, const char *path, int e, struct bg_field_error *f,
                        struct bg_error *err)
{
    struct stat st;

    bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
    if (e == ENOENT)
        return bg_error_set(err, -EINVAL, "%s '%s' does not exist", key, path);
    if (e == EACCES)
        return bg_error_set(err, -EINVAL, "%s '%s' is not readable by bangerd (uid %u)", key, path,
                            (unsigned)getuid());
    /* O_NOFOLLOW: the image records this path and VMs open it later, so it must name the file
     * that was checked and hashed, not a link that can be pointed elsewhere. */
    if (e == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return bg_error_set(err, -EINVAL,
                            "%s '%s' is a symbolic link; give the path of the file itself "
                            "(realpath '%s')",
                            key, path, path);
    return bg_error_set(err, -EINVAL, "%s '%s': %s", key, path, strerror(e));
}

/* Open path once and check what was opened: a regular, non-empty file. *ret_fd is the open
 * file, blocking again, at offset 0. */
static int open_file(const char *key, const char *path, int *ret_fd, struct bg_image_file *ret,
                     bool *ret_elf, struct bg_field_error *f, struct bg_error *err)
{
    /* O_NONBLOCK: opening a FIFO or a device must not wait for a writer or a medium. */
    bg_autoclose int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    unsigned char magic[4] = {0};
    struct stat st;
    int fl;

    if (fd < 0)
        return open_refusal(key, path, errno, f, err);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL, "%s '%s' is not a regular file", key, path);
    }
    if (st.st_size == 0) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL, "%s '%s' is empty", key, path);
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL, "%s '%s': %s", key, path, strerror(errno));
    }
    *ret_elf = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
               !memcmp(magic, "\177ELF", 4);
    ret->path = bg_strdup(path);
    ret->size_bytes = (uint64_t)st.st_size;
    ret->sha256[0] = '\0';
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

static void import_empty(struct bg_import *imp)
{
    *imp = (struct bg_import){0};
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++)
        imp->fds[k] = -1;
}

void bg_import_done(struct bg_import *imp)
{
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++)
        if (imp->fds[k] >= 0)
            close(imp->fds[k]);
    bg_image_done(&imp->img);
    import_empty(imp);
}

/* The kernel files decide which VMMs can boot the image. */
static int check_kernel(struct bg_import *imp, int k, bool elf, const char *path,
                        struct bg_field_error *f, struct bg_error *err)
{
    /* Firecracker loads only an uncompressed ELF vmlinux; QEMU boots either. */
    if (k == BG_IMAGE_VMLINUX && !elf) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "vmlinux");
        return bg_error_set(err, -EINVAL,
                            "vmlinux '%s' is not an uncompressed ELF kernel (Firecracker "
                            "loads only that; pass a bzImage as kernel, for QEMU)",
                            path);
    }
    if ((k == BG_IMAGE_KERNEL || k == BG_IMAGE_VMLINUX) && elf)
        imp->img.vmms |= BG_VMM_FIRECRACKER;
    return 0;
}

int bg_import_check(const struct bg_image_import *req, struct bg_import *ret,
                    struct bg_field_error *f, struct bg_error *err)
{
    struct bg_import imp;

    import_empty(&imp);
    imp.img.state = BG_IMAGE_STATE_IMPORTING;
    imp.img.vmms = BG_VMM_QEMU;
    snprintf(imp.img.name, sizeof(imp.img.name), "%s", req->name);
    snprintf(imp.img.arch, sizeof(imp.img.arch), "x86_64");
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++) {
        bool elf = false;
        if (!req->paths[k])
            continue;
        int r = open_file(bg_image_file_key(k), req->paths[k], &imp.fds[k], &imp.img.files[k], &elf,
                          f, err);
        if (r >= 0)
            r = check_kernel(&imp, k, elf, req->paths[k], f, err);
        if (r < 0) {
            bg_import_done(&imp);
            return r;
        }
    }
    imp.img.source = bg_strdup("import");
    imp.img.created_at = time(NULL);
    *ret = imp;
    return 0;
}

struct import_job {
    struct bg_image_ctx ctx;
    struct bg_import imp;
    struct bg_operation op;
    uint64_t base; /* bytes of the files hashed before the current one */
    int64_t last_report_ms;
};

static void report(struct import_job *job, bool force)
{
    int64_t now = bg_now_ms();

    if (!force && now - job->last_report_ms < PROGRESS_INTERVAL_MS)
        return;
    job->last_report_ms = now;
    bg_image_op_update(job->ctx.store, &job->op);
}

static void on_progress(void *cls, uint64_t done)
{
    struct import_job *job = cls;

    job->op.done = job->base + done;
    report(job, false);
}

static bool on_cancelled(void *cls)
{
    const struct import_job *job = cls;

    return bg_jobs_cancelled(job->ctx.jobs);
}

/* Hash file k from its open descriptor into its sha256, advancing the operation's progress. */
static int hash_file(struct import_job *job, int k, struct bg_error *err)
{
    struct bg_image_file *file = &job->imp.img.files[k];
    const struct bg_sha256_opts o = {
        .progress = on_progress, .cancelled = on_cancelled, .cls = job};
    uint64_t seen = 0;
    int r = bg_sha256_fd(job->imp.fds[k], file->path, &o, file->sha256, &seen, err);

    close(job->imp.fds[k]);
    job->imp.fds[k] = -1;
    if (r == -ECANCELED)
        return bg_error_set(err, r, "bangerd shut down during the import");
    if (r < 0)
        return r;
    if (seen != file->size_bytes)
        return bg_error_set(err, -EIO, "'%s' changed size during the import (%llu, now %llu)",
                            file->path, (unsigned long long)file->size_bytes,
                            (unsigned long long)seen);
    job->base += seen;
    return 0;
}

static void finish(struct import_job *job, const struct bg_error *failure)
{
    bg_image_op_settle(job->ctx.store, &job->imp.img, &job->op, failure);
    if (failure)
        bg_log_warn("import image '%s': %s", job->imp.img.name, failure->msg);
    else
        bg_log_info("import image '%s': ready", job->imp.img.name);
    report(job, true);
}

static void import_main(void *arg)
{
    struct import_job *job = arg;
    struct bg_error err;
    int r = 0;

    for (int k = 0; k < BG_IMAGE_FILE_COUNT_ && r >= 0; k++)
        if (job->imp.fds[k] >= 0)
            r = hash_file(job, k, &err);
    finish(job, r < 0 ? &err : NULL);
    bg_import_done(&job->imp);
    bg_operation_done(&job->op);
    free(job);
}

int bg_import_start(const struct bg_image_ctx *ctx, struct bg_import *imp,
                    struct bg_operation *ret_op, struct bg_error *err)
{
    struct import_job *job = bg_calloc(1, sizeof(*job));
    uint64_t total = 0;
    int r;

    job->ctx = *ctx;
    job->imp = *imp; /* moved; given back on failure */
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++)
        total += imp->img.files[k].size_bytes;
    bg_image_op_init(&job->op, "image_import", imp->img.name, "bytes", total);
    if ((r = bg_image_op_record(ctx->store, &job->imp.img, &job->op, err)) < 0)
        goto fail;
    *ret_op = job->op; /* plain data while running: error and result are NULL */
    if ((r = bg_jobs_spawn(ctx->jobs, import_main, job, err)) < 0) {
        struct bg_error e = *err;
        finish(job, &e); /* the records stay, marked failed with the reason */
        goto fail;
    }
    import_empty(imp);
    return 0;

fail:
    *imp = job->imp;
    bg_operation_done(&job->op);
    free(job);
    return r;
}
