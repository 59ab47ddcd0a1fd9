/* SPDX-License-Identifier: MIT */
/* The records of image jobs: an image and its operation, created, updated and settled
 * together, and what a restart finds of jobs that were running. */
#pragma once

#include <stdint.h>

#include "banger/error.h"
#include "banger/image.h"
#include "banger/operation.h"

struct bg_store;

/* A new running operation of kind ("image_import", "image_build") on image name, counting
 * total units: a fresh random id, created now. */
void bg_image_op_init(struct bg_operation *op, const char *kind, const char *name, const char *unit,
                      uint64_t total);

/* Record a new image job: img (importing) and op (running), both or neither. Returns 0,
 * BG_ERR(BG_PROBLEM_IMAGE_EXISTS) when the image name is taken, or another failure of the
 * store. */
int bg_image_op_record(struct bg_store *store, const struct bg_image *img,
                       const struct bg_operation *op, struct bg_error *err);

/* Store op's progress (updated_at set to now). A failure is logged, not returned: progress is
 * advisory and the job goes on. */
void bg_image_op_update(struct bg_store *store, struct bg_operation *op);

/* The end of an image job. Without failure img becomes ready and op succeeded (done = total)
 * with img as its result; with one both are failed with its message. img is stored; op stays
 * the caller's to store (bg_image_op_update). */
void bg_image_op_settle(struct bg_store *store, struct bg_image *img, struct bg_operation *op,
                        const struct bg_error *failure);

/* After a restart: operations (imports, builds) that were running can never finish; mark them
 * and their images failed. Returns 0 or a failure of the store. */
int bg_image_recover(struct bg_store *store, struct bg_error *err);
