/* SPDX-License-Identifier: MIT */
/* Kernel modules of an image build: .modinfo and modules.dep parsing, the load order, plain
 * .ko files. */
#pragma once

#include <stddef.h>

#include "banger/error.h"
#include "image/buildjob.h"

#define BG_IMAGEBUILD_MODULES_MAX 64 /* modules in the initrd, dependencies included */

/* Modules the agent needs, in no particular order; their dependencies come along. */
extern const char *const bg_imagebuild_modules[];

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

/* moddir/rel as a plain .ko file: itself, or decompressed into <b->tmp>/ko/NAME.ko (*ret is
 * the caller's). */
int bg_imagebuild_plain_module(struct bg_imagebuild *b, const char *moddir, const char *rel,
                               char **ret, struct bg_error *err);

/* Load order of bg_imagebuild_modules and their dependencies in the kernel tree moddir
 * (lib/modules/VERSION): from its modules.dep, or, when the package ships none, from the
 * modules' own .modinfo. *ret_paths (NULL-terminated, *ret_n) relative to moddir, the
 * caller's. */
int bg_imagebuild_module_order(struct bg_imagebuild *b, const char *moddir, char ***ret_paths,
                               size_t *ret_n, struct bg_error *err);
