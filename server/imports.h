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

/* After a restart: operations (imports, builds) that were running can never finish; mark them
 * and their images failed. */
int bg_import_recover(struct bg_daemon *d, struct bg_error *err);
