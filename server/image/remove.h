/* SPDX-License-Identifier: MIT */
/* Removing an image: its record, and the files bangerd made for it. */
#pragma once

#include "banger/error.h"
#include "image/context.h"

/* Delete image name from ctx's store and, for a built image, the files under
 * <state_dir>/images/<name>/ (an imported image's files are the user's and stay). Returns 0;
 * -ENOENT when there is no such image; BG_ERR(BG_PROBLEM_IMAGE_NOT_READY) while it is still
 * importing or building; BG_ERR(BG_PROBLEM_IMAGE_IN_USE) when VMs use it (err names them);
 * another failure of the store. */
int bg_image_remove(const struct bg_image_ctx *ctx, const char *name, struct bg_error *err);
