/* SPDX-License-Identifier: MIT */
/* Image import: synchronous file checks, then a sha256 job that reports progress. */
#include "image/import.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "rest/daemon.h"

#define HASH_CHUNK (1024 * 1024)
#define PROGRESS_INTERVAL_MS 250

static int check_file(const char *key, const char *path, struct bg_image_file *ret, bool *ret_elf,
                      struct bg_field_error *f, struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    unsigned char magic[4] = {0};

    if (fd < 0) {
        int e = errno;
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        if (e == ENOENT)
            return bg_error_set(err, -EINVAL, "%s '%s' does not exist", key, path);
        if (e == EACCES)
            return bg_error_set(err, -EINVAL, "%s '%s' is not readable by bangerd (uid %u)", key,
                                path, (unsigned)getuid());
        return bg_error_set(err, -EINVAL, "%s '%s': %s", key, path, strerror(e));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL, "%s '%s' is not a regular file", key, path);
    }
    if (st.st_size == 0) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL, "%s '%s' is empty", key, path);
    }
    *ret_elf = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
               !memcmp(magic, "\177ELF", 4);
    ret->path = bg_strdup(path);
    ret->size_bytes = (uint64_t)st.st_size;
    ret->sha256[0] = '\0';
    return 0;
}

int bg_import_check(const struct bg_image_import *req, struct bg_image *ret,
                    struct bg_field_error *f, struct bg_error *err)
{
    struct bg_image img = {.state = BG_IMAGE_STATE_IMPORTING, .vmms = BG_VMM_QEMU};

    snprintf(img.name, sizeof(img.name), "%s", req->name);
    snprintf(img.arch, sizeof(img.arch), "x86_64");
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++) {
        bool elf = false;
        if (!req->paths[k])
            continue;
        int r = check_file(bg_image_file_key(k), req->paths[k], &img.files[k], &elf, f, err);
        if (r < 0) {
            bg_image_done(&img);
            return r;
        }
        /* Firecracker loads only an uncompressed ELF vmlinux; QEMU boots either. */
        if (k == BG_IMAGE_VMLINUX && !elf) {
            bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "vmlinux");
            bg_image_done(&img);
            return bg_error_set(err, -EINVAL,
                                "vmlinux '%s' is not an uncompressed ELF kernel (Firecracker "
                                "loads only that; pass a bzImage as kernel, for QEMU)",
                                req->paths[k]);
        }
        if ((k == BG_IMAGE_KERNEL || k == BG_IMAGE_VMLINUX) && elf)
            img.vmms |= BG_VMM_FIRECRACKER;
    }
    img.source = bg_strdup("import");
    img.created_at = time(NULL);
    *ret = img;
    return 0;
}

struct import_job {
    struct bg_daemon *d;
    struct bg_image img;
    struct bg_operation op;
    int64_t last_report_ms;
};

static void report(struct import_job *job, bool force)
{
    struct bg_error err;
    int64_t now = bg_now_ms();

    if (!force && now - job->last_report_ms < PROGRESS_INTERVAL_MS)
        return;
    job->last_report_ms = now;
    job->op.updated_at = time(NULL);
    if (bg_store_op_update(job->d->store, &job->op, NULL, &err) < 0)
        bg_log_warn("update operation '%s': %s", job->op.id, err.msg);
}

/* Hash one file into file->sha256, advancing the operation's progress. */
static int hash_file(struct import_job *job, struct bg_image_file *file, struct bg_error *err)
{
    bg_autoclose int fd = open(file->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    bg_autofree unsigned char *buf = bg_malloc(HASH_CHUNK);
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    uint64_t seen = 0;

    if (fd < 0)
        return bg_error_errno(err, "open '%s'", file->path);
    crypto_hash_sha256_init(&st);
    for (;;) {
        if (bg_jobs_cancelled(job->d->jobs))
            return bg_error_set(err, -ECANCELED, "bangerd shut down during the import");
        ssize_t n = read(fd, buf, HASH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read '%s'", file->path);
        if (n == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (size_t)n);
        seen += (uint64_t)n;
        job->op.done += (uint64_t)n;
        report(job, false);
    }
    if (seen != file->size_bytes)
        return bg_error_set(err, -EIO, "'%s' changed size during the import (%llu, now %llu)",
                            file->path, (unsigned long long)file->size_bytes,
                            (unsigned long long)seen);
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(file->sha256, sizeof(file->sha256), digest, sizeof(digest));
    return 0;
}

void bg_image_op_init(struct bg_operation *op, const char *kind, const char *name, const char *unit,
                      uint64_t total)
{
    unsigned char rnd[8];

    randombytes_buf(rnd, sizeof(rnd));
    memcpy(op->id, "op-", 3);
    sodium_bin2hex(op->id + 3, sizeof(op->id) - 3, rnd, sizeof(rnd));
    snprintf(op->kind, sizeof(op->kind), "%s", kind);
    snprintf(op->target, sizeof(op->target), "/v1/images/%s", name);
    snprintf(op->unit, sizeof(op->unit), "%s", unit);
    op->state = BG_OPERATION_STATE_RUNNING;
    op->total = total;
    op->created_at = op->updated_at = time(NULL);
}

int bg_image_op_record(struct bg_daemon *d, const struct bg_image *img,
                       const struct bg_operation *op, struct bg_error *err)
{
    int r = bg_store_image_insert(d->store, img, NULL, err);

    if (r >= 0 && (r = bg_store_op_insert(d->store, op, NULL, err)) < 0)
        (void)bg_store_image_delete(d->store, img->name, NULL, NULL);
    return r;
}

void bg_image_op_settle(struct bg_daemon *d, struct bg_image *img, struct bg_operation *op,
                        const struct bg_error *failure)
{
    struct bg_error err;

    if (failure) {
        img->state = BG_IMAGE_STATE_FAILED;
        img->error = bg_strdup(failure->msg);
        op->state = BG_OPERATION_STATE_FAILED;
        op->error = bg_problem_to_json(BG_PROBLEM_INTERNAL, failure->msg, op->target);
    } else {
        img->state = BG_IMAGE_STATE_READY;
        op->state = BG_OPERATION_STATE_SUCCEEDED;
        op->done = op->total;
        op->result = bg_image_to_json(img);
    }
    if (bg_store_image_update(d->store, img, NULL, &err) < 0)
        bg_log_error("%s image '%s': %s", op->kind, img->name, err.msg);
}

static void finish(struct import_job *job, const struct bg_error *failure)
{
    bg_image_op_settle(job->d, &job->img, &job->op, failure);
    if (failure)
        bg_log_warn("import image '%s': %s", job->img.name, failure->msg);
    else
        bg_log_info("import image '%s': ready", job->img.name);
    report(job, true);
}

static void import_main(void *arg)
{
    struct import_job *job = arg;
    struct bg_error err;
    int r = 0;

    for (int k = 0; k < BG_IMAGE_FILE_COUNT_ && r >= 0; k++)
        if (job->img.files[k].path)
            r = hash_file(job, &job->img.files[k], &err);
    finish(job, r < 0 ? &err : NULL);
    bg_image_done(&job->img);
    bg_operation_done(&job->op);
    free(job);
}

static void image_copy(struct bg_image *dst, const struct bg_image *src)
{
    *dst = *src;
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++)
        dst->files[k].path = src->files[k].path ? bg_strdup(src->files[k].path) : NULL;
    dst->source = src->source ? bg_strdup(src->source) : NULL;
    dst->error = src->error ? bg_strdup(src->error) : NULL;
}

int bg_import_start(struct bg_daemon *d, const struct bg_image *img, struct bg_operation *ret_op,
                    struct bg_error *err)
{
    struct import_job *job = bg_calloc(1, sizeof(*job));
    int r;

    job->d = d;
    image_copy(&job->img, img);
    uint64_t total = 0;
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++)
        total += img->files[k].size_bytes;
    bg_image_op_init(&job->op, "image_import", img->name, "bytes", total);
    if ((r = bg_image_op_record(d, img, &job->op, err)) < 0)
        goto fail;
    *ret_op = job->op; /* plain data while running: error and result are NULL */
    if ((r = bg_jobs_spawn(d->jobs, import_main, job, err)) < 0) {
        struct bg_error e = *err;
        finish(job, &e); /* the records stay, marked failed with the reason */
        goto fail;
    }
    return 0;

fail:
    bg_image_done(&job->img);
    bg_operation_done(&job->op);
    free(job);
    return r;
}

#define RECOVER_OPS_MAX 10000

int bg_import_recover(struct bg_daemon *d, struct bg_error *err)
{
    static const char why[] = "bangerd restarted while this operation ran; remove the image "
                              "and import or build it again";
    struct bg_image *imgs;
    struct bg_operation *ops;
    size_t n;
    int r;

    if ((r = bg_store_image_list(d->store, &imgs, &n, err)) < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++)
        if (imgs[i].state == BG_IMAGE_STATE_IMPORTING) {
            imgs[i].state = BG_IMAGE_STATE_FAILED;
            imgs[i].error = bg_strdup(why);
            r = bg_store_image_update(d->store, &imgs[i], NULL, err);
        }
    bg_store_images_free(imgs, n);
    if (r < 0 || (r = bg_store_op_list(d->store, RECOVER_OPS_MAX, &ops, &n, err)) < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++)
        if (ops[i].state == BG_OPERATION_STATE_RUNNING) {
            ops[i].state = BG_OPERATION_STATE_FAILED;
            ops[i].error = bg_problem_to_json(BG_PROBLEM_INTERNAL, why, ops[i].target);
            ops[i].updated_at = time(NULL);
            r = bg_store_op_update(d->store, &ops[i], NULL, err);
        }
    bg_store_ops_free(ops, n);
    return r < 0 ? r : 0;
}
