/* SPDX-License-Identifier: MIT */
/* Image import: check the files now, hash them in a background operation. */
#pragma once

#include "banger/image.h"
#include "banger/operation.h"
#include "banger/problem.h"

struct bg_daemon;

/* Check every file of req: exists, regular, readable by bangerd. Fills ret (owned by the
 * caller, release with bg_image_done) in state importing with sizes and the VMMs that can
 * boot the kernel (Firecracker only for an uncompressed ELF vmlinux). On failure returns
 * -EINVAL with f naming the field and err saying what is wrong with the file. */
int bg_import_check(const struct bg_image_import *req, struct bg_image *ret,
                    struct bg_field_error *f, struct bg_error *err);

/* Record img (importing) and a running operation, and start hashing in the background.
 * img stays the caller's. -EEXIST when the name is taken. */
int bg_import_start(struct bg_daemon *d, const struct bg_image *img, struct bg_operation *ret_op,
                    struct bg_error *err);

/* A new running operation of kind ("image_import", "image_build") on image name, counting
 * total units: a fresh random id, created now. */
void bg_image_op_init(struct bg_operation *op, const char *kind, const char *name, const char *unit,
                      uint64_t total);

/* Record a new image job: img (importing) and op (running), both or neither. -EEXIST when the
 * image name is taken. */
int bg_image_op_record(struct bg_daemon *d, const struct bg_image *img,
                       const struct bg_operation *op, struct bg_error *err);

/* The end of an image job. Without failure img becomes ready and op succeeded (done = total)
 * with img as its result; with one both are failed with its message. img is stored; op stays
 * the caller's to store. */
void bg_image_op_settle(struct bg_daemon *d, struct bg_image *img, struct bg_operation *op,
                        const struct bg_error *failure);

/* After a restart: operations (imports, builds) that were running can never finish; mark them
 * and their images failed. */
int bg_import_recover(struct bg_daemon *d, struct bg_error *err);
