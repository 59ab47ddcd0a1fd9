/* SPDX-License-Identifier: MIT */
/* The dev recipe's rootfs: Debian 12 from the host's package mirror with mmdebstrap, made into
 * an ext4 image, kept in the cache under a key of everything that decides its bytes. */
#pragma once

#include "banger/error.h"
#include "image/buildjob.h"

#define BG_ROOTFS_STEPS 3    /* mirror, mmdebstrap, ext4 */
#define BG_ROOTFS_FORMAT "1" /* bumped when the pipeline changes what the same inputs make */
#define BG_ROOTFS_FILE "rootfs.ext4"
#define BG_ROOTFS_PACKAGES_FILE "packages.txt" /* "NAME VERSION" lines of what is installed */
#define BG_ROOTFS_LOG_FILE "build.log"         /* mmdebstrap's output, in the image directory */

/* Whether this host can make a dev rootfs: mmdebstrap and what it needs for bangerd's user,
 * and a Debian 12 entry in the host's apt sources. Returns 0, or a failure that says what to
 * do (its code -ENOENT, -EPERM or -EINVAL). */
int bg_imagebuild_rootfs_check(struct bg_error *err);

/* Make b's rootfs, its steps counted from first: check the mirror (the InRelease files of the
 * host's Debian 12 sources) and work out the cache key; unless <cache_dir>/rootfs holds an image
 * of that key, run mmdebstrap and make the ext4 image there; then link it (or copy it, across
 * file systems) into the image directory with the list of installed packages. Sets
 * b->img.files[BG_IMAGE_ROOTFS] (hashed). Returns 0, -ECANCELED, or a failure that says what
 * to do about it (mmdebstrap missing, user namespaces, no Debian 12 mirror). */
int bg_imagebuild_rootfs(struct bg_imagebuild *b, unsigned first, struct bg_error *err);
