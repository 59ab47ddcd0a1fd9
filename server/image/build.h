/* SPDX-License-Identifier: MIT */
/* `image build`: Debian's cloud kernel and busybox-static made into vmlinuz + initrd.img. */
#pragma once

#include "banger/error.h"
#include "banger/operation.h"
#include "image/context.h"

#define BG_IMAGEBUILD_DEFAULT_NAME "default"
#define BG_IMAGEBUILD_STEPS 7 /* progress total, unit "steps" */

/* Record image `name` (state importing, source BG_IMAGE_SOURCE_BUILD) and a running
 * "image_build" operation, then build in a background job with ctx's handles (ctx is copied):
 * download the packages into <cache_dir>/debs (reusing what is there), unpack them, and write
 * vmlinuz, vmlinux and initrd.img into <state_dir>/images/<name>/. The image ends ready or
 * failed (with the reason, also the operation's problem). *ret_op is the operation as recorded
 * (plain data). Returns 0, BG_ERR(BG_PROBLEM_IMAGE_EXISTS) when the name is taken, or another
 * failure of the store or of starting the job. */
int bg_imagebuild_start(const struct bg_image_ctx *ctx, const char *name,
                        struct bg_operation *ret_op, struct bg_error *err);

/* Remove what a build of image `name` wrote to <state_dir>/images/<name>/, and the directory.
 * For after the record is deleted; what cannot be removed is logged and left. */
void bg_imagebuild_remove_files(const char *state_dir, const char *name);
