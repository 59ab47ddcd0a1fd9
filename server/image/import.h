/* SPDX-License-Identifier: MIT */
/* Image import: open and check the files now, hash those same open files in a background
 * operation. */
#pragma once

#include "banger/image.h"
#include "banger/operation.h"
#include "banger/problem.h"
#include "image/context.h"

/* Files of an import, opened and checked. Release with bg_import_done. */
struct bg_import {
    struct bg_image img;           /* state importing, paths, sizes, the VMMs that can boot it */
    int fds[BG_IMAGE_FILE_COUNT_]; /* each file opened read-only, at offset 0; -1 when absent */
};

/* Open every file of req once (read-only, not following a symlink as the last component,
 * never blocking on a FIFO or device) and check the opened file: a regular file, not empty.
 * The job hashes these descriptors, so a path swapped after the check changes nothing.
 * Fills *ret (the caller's, bg_import_done) with the image in state importing, its sizes and
 * the VMMs that can boot the kernel (Firecracker only for an uncompressed ELF vmlinux).
 * On failure returns -EINVAL with f naming the field and err saying what is wrong with the
 * file (missing, a symlink, unreadable, not a regular file, empty, a vmlinux that is no ELF). */
int bg_import_check(const struct bg_image_import *req, struct bg_import *ret,
                    struct bg_field_error *f, struct bg_error *err);

/* Close imp's files and free its image; leaves it empty (fds -1). Accepts an imp that
 * bg_import_check filled or bg_import_start or bg_import_done emptied, not a zeroed one. */
void bg_import_done(struct bg_import *imp);

/* Record imp's image (importing) and a running "image_import" operation, and hash the files in
 * a background job with ctx's handles (ctx is copied). On success the job takes imp's image and
 * files (imp is left empty); on failure they stay imp's. Either way the caller then calls
 * bg_import_done(imp). *ret_op is the operation as recorded (plain data). Returns 0,
 * BG_ERR(BG_PROBLEM_IMAGE_EXISTS) when the name is taken, or another failure of the store or of
 * starting the job. */
int bg_import_start(const struct bg_image_ctx *ctx, struct bg_import *imp,
                    struct bg_operation *ret_op, struct bg_error *err);
