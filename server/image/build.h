/* SPDX-License-Identifier: MIT */
/* `image build`: Debian's cloud kernel and busybox-static made into vmlinuz + initrd.img. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/image.h"
#include "banger/operation.h"

struct bg_daemon;

#define BG_IMAGEBUILD_DEFAULT_NAME "default"
#define BG_IMAGEBUILD_META_PACKAGE "linux-image-cloud-amd64"
#define BG_IMAGEBUILD_BUSYBOX_PACKAGE "busybox-static"
#define BG_IMAGEBUILD_STEPS 7             /* progress total, unit "steps" */
#define BG_IMAGEBUILD_TEXT_MAX (4u << 20) /* bytes of modules.dep or modules.builtin read */
#define BG_IMAGEBUILD_MODULES_MAX 64      /* modules in the initrd, dependencies included */

/* Modules the agent needs, in no particular order; their dependencies come along. */
extern const char *const bg_imagebuild_modules[];

/* Record image `name` (state importing, source BG_IMAGE_SOURCE_BUILD) and a running
 * "image_build" operation, then build in a background job: download the packages into
 * <cache_dir>/debs (reusing what is there), unpack them, and write vmlinuz and initrd.img into
 * <state_dir>/images/<name>/. The image ends ready or failed (with the reason, also the
 * operation's problem). *ret_op is the operation as recorded (plain data).
 * Returns 0, -EEXIST when the name is taken, or another -errno from the store. */
int bg_imagebuild_start(struct bg_daemon *d, const char *name, struct bg_operation *ret_op,
                        struct bg_error *err);

/* Remove what a build of image `name` wrote to <state_dir>/images/<name>/, and the directory.
 * For after the record is deleted; what cannot be removed is logged and left. */
void bg_imagebuild_remove_files(struct bg_daemon *d, const char *name);

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

/* The "depends=" value of a kernel module's .modinfo section (ELF64 little-endian, len bytes):
 * a comma-separated list, "" when the module depends on nothing. *ret is the caller's.
 * -ENOEXEC when elf is not such an ELF file or has no .modinfo section. */
int bg_imagebuild_modinfo_depends(const void *elf, size_t len, char **ret, struct bg_error *err);

/* Load order for the modules named in wanted (NULL-terminated; '-' and '_' are the same) and
 * everything they depend on, from modules.dep text ("PATH: DEP DEP", paths relative to the
 * modules directory). Modules listed in builtin (modules.builtin text, may be NULL) are built
 * into the kernel and skipped. Dependencies come before their users; each path appears once.
 * *ret_paths (NULL-terminated, *ret_n entries) is the caller's: free each and the array.
 * -ENOENT when a wanted module or a dependency is in neither list, -ELOOP for a cycle,
 * -E2BIG beyond BG_IMAGEBUILD_MODULES_MAX, -EINVAL for a malformed line. */
int bg_imagebuild_modules_order(const char *modules_dep, const char *builtin,
                                const char *const *wanted, char ***ret_paths, size_t *ret_n,
                                struct bg_error *err);

/* "virtio_blk" from "kernel/drivers/block/virtio-blk.ko.xz": the base name without the .ko
 * suffix (and compression suffix), '-' turned into '_', into buf (size len). Returns buf. */
char *bg_imagebuild_module_name(const char *path, char *buf, size_t len);
