/* SPDX-License-Identifier: MIT */
/* The ELF vmlinux inside an x86 bzImage: what Firecracker loads, cut out of Debian's kernel. */
#pragma once

#include <stddef.h>

#include "banger/error.h"

#define BG_VMLINUX_BZIMAGE_MAX (64u << 20) /* bytes of bzImage read */
#define BG_VMLINUX_MAX (512u << 20)        /* bytes of vmlinux written */
#define BG_VMLINUX_LZ4_BLOCK (8u << 20)    /* legacy LZ4 frame: one block's decompressed maximum */
#define BG_VMLINUX_PVH_NOTE 0x12           /* XEN_ELFNOTE_PHYS32_ENTRY, name "Xen" */

/* Extract the ELF vmlinux from bzimage (an x86 boot-protocol >= 2.08 image whose payload is
 * LZ4, legacy frame, as Debian's kernels are built) and write it to out_path through a
 * temporary file in the same directory and a rename, mode 0644. The result must be an ELF
 * carrying a PVH entry note, which is how Firecracker and QEMU enter it.
 * Returns 0, or: -errno for I/O; -ENOEXEC when bzimage is not a bzImage (magic "HdrS", boot
 * protocol, payload bounds) or the result is not an ELF or has no PVH note; -EBADMSG when the
 * payload is not legacy LZ4 or is truncated or corrupt; -EFBIG past the size limits. */
int bg_vmlinux_extract(const char *bzimage, const char *out_path, struct bg_error *err);

/* The checks and the decompression of bg_vmlinux_extract on a bzImage in memory (img, len
 * bytes, borrowed; any bytes at all): *ret_elf (the caller's, free()) gets the ELF vmlinux and
 * *ret_len its size. Returns 0, -ENOEXEC, -EBADMSG or -EFBIG as bg_vmlinux_extract does. */
int bg_vmlinux_from_bzimage(const void *img, size_t len, unsigned char **ret_elf, size_t *ret_len,
                            struct bg_error *err);
