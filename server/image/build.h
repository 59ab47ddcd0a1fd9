/* SPDX-License-Identifier: MIT */
/* `image build`: Debian's cloud kernel and busybox-static made into vmlinuz + initrd.img (the
 * minimal recipe), and for the dev recipe a Debian 12 rootfs beside them. */
#pragma once

#include "banger/error.h"
#include "banger/operation.h"
#include "banger/validate.h"
#include "image/context.h"
#include "image/recipe.h"

#define BG_IMAGEBUILD_DEFAULT_NAME "default"
#define BG_IMAGEBUILD_STEPS 7      /* progress total of the minimal recipe, unit "steps" */
#define BG_IMAGEBUILD_DEV_STEPS 10 /* of the dev recipe: the rootfs adds three */

/* What to build. */
struct bg_imagebuild_request {
    char name[BG_NAME_MAX + 1];
    enum bg_recipe recipe;
    const char *const *packages; /* dev: packages to add to the recipe's (checked), borrowed */
    size_t n_packages;
};

/* Whether this host can build req now: for dev, mmdebstrap and what its mode needs for
 * bangerd's user, and a Debian 12 entry in the host's apt sources. Returns 0, or
 * BG_ERR(BG_PROBLEM_IMAGE_BUILD_UNAVAILABLE) with err saying what is missing and the command
 * that provides it. */
int bg_imagebuild_check(const struct bg_imagebuild_request *req, struct bg_error *err);

/* Record image req->name (state importing, source BG_IMAGE_SOURCE_BUILD, its recipe and
 * packages) and a running "image_build" operation, then build in a background job with ctx's
 * handles (ctx is copied): download the packages into <cache_dir>/debs (reusing what is there),
 * unpack them, and write vmlinuz, vmlinux and initrd.img into <state_dir>/images/<name>/; the
 * dev recipe adds rootfs.ext4 (bg_imagebuild_rootfs). The image ends ready or failed (with the
 * reason, also the operation's problem). *ret_op is the operation as recorded (plain data).
 * Returns 0, BG_ERR(BG_PROBLEM_INVALID_FIELD) for a bad package list,
 * BG_ERR(BG_PROBLEM_IMAGE_EXISTS) when the name is taken, or another failure of the store or
 * of starting the job. */
int bg_imagebuild_start(const struct bg_image_ctx *ctx, const struct bg_imagebuild_request *req,
                        struct bg_operation *ret_op, struct bg_error *err);

/* Remove what a build of image `name` wrote to <state_dir>/images/<name>/, and the directory.
 * For after the record is deleted; what cannot be removed is logged and left. */
void bg_imagebuild_remove_files(const char *state_dir, const char *name);
