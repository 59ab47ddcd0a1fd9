/* SPDX-License-Identifier: MIT */
/* Debian packages of an image build: apt's output parsed, packages downloaded into the cache. */
#pragma once

#include <stdint.h>

#include "banger/error.h"
#include "banger/image.h"
#include "image/buildjob.h"

#define BG_IMAGEBUILD_META_PACKAGE "linux-image-cloud-amd64"
#define BG_IMAGEBUILD_BUSYBOX_PACKAGE "busybox-static"

/* The real kernel package named by the meta package's Depends field
 * ("linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)"): the first alternative named
 * linux-image-*-cloud-amd64. *ret_pkg and *ret_version (the "=" version; "" when none) are the
 * caller's. -EINVAL when no such package is named or a name has characters apt never uses. */
int bg_imagebuild_kernel_depends(const char *depends, char **ret_pkg, char **ret_version,
                                 struct bg_error *err);

/* One line of `apt-get download --print-uris`: 'URI' FILE SIZE SHA256:HEX. *ret_file is the
 * caller's: a plain file name ending in ".deb". sha256 gets 64 lowercase hex digits, or ""
 * when the line names another hash. -EINVAL for anything else. */
int bg_imagebuild_uri_parse(const char *line, char **ret_file, uint64_t *ret_size,
                            char ret_sha256[BG_SHA256_HEX_LEN + 1], struct bg_error *err);

/* Make sure the meta, kernel and busybox packages are in b->debs, and set b->debs_*. A package
 * the cache lacks (or holds with another size or hash) is downloaded into the build's scratch
 * directory b->tmp, checked against the size and sha256 apt names, and renamed into the cache:
 * the cache only ever holds whole, checked files, whatever other builds (of this bangerd or
 * another on the same cache) do at the same time. */
int bg_imagebuild_download_all(struct bg_imagebuild *b, struct bg_error *err);
