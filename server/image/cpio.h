/* SPDX-License-Identifier: MIT */
/* A writer of newc ("070701") cpio archives, the format the kernel unpacks as an initramfs
 * (libarchive's newc writer, with every header field set here). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"

#define BG_CPIO_NAME_MAX 4095 /* bytes in an entry name or link target (kernel PATH_MAX - 1) */
#define BG_CPIO_FILE_MAX 0xffffffffu /* newc stores sizes in 32 bits */

struct bg_cpio;

/* Start an archive written to fd (borrowed: it must stay open until bg_cpio_free()). Every
 * entry gets the given mtime (its low 32 bits), uid and gid 0, device numbers 0 and inode
 * numbers counted from 1, so the same calls always produce the same bytes. */
struct bg_cpio *bg_cpio_new(int fd, int64_t mtime);
/* Free the writer (not the fd); an archive not finished gets no trailer. Accepts NULL. */
void bg_cpio_free(struct bg_cpio *c);
void bg_cpio_freep(struct bg_cpio **c);

/* Add one entry. name is relative ("bin/sh"), not "TRAILER!!!", at most BG_CPIO_NAME_MAX bytes,
 * no leading or trailing '/', no empty, "." or ".." component. perm holds the permission
 * bits only (07777). Directories must be added before what they contain.
 * Returns 0; -EINVAL for a bad name, perm or target (nothing is written); -EFBIG for a file
 * over BG_CPIO_FILE_MAX; -errno when reading src or writing fails, after which every further
 * call fails with the same code. */
int bg_cpio_add_dir(struct bg_cpio *c, const char *name, mode_t perm, struct bg_error *err);
/* A regular file whose content is copied from the host file src (followed if a link; a FIFO
 * or device is refused with -EINVAL without waiting on it). */
int bg_cpio_add_file(struct bg_cpio *c, const char *name, mode_t perm, const char *src,
                     struct bg_error *err);
/* A regular file with the given content (borrowed for the call). */
int bg_cpio_add_data(struct bg_cpio *c, const char *name, mode_t perm, const void *data, size_t len,
                     struct bg_error *err);
/* A symbolic link to target (not empty, at most BG_CPIO_NAME_MAX bytes). */
int bg_cpio_add_symlink(struct bg_cpio *c, const char *name, const char *target,
                        struct bg_error *err);

/* Write the "TRAILER!!!" entry, pad the archive to a multiple of 512 bytes and flush. No entry
 * may be added afterwards (-EINVAL). Fails with the code of an earlier failure. */
int bg_cpio_finish(struct bg_cpio *c, struct bg_error *err);

/* Bytes written to fd so far: the writer buffers up to 64 KiB, so before bg_cpio_finish() this
 * lags behind the entries added; after it, the archive's size. */
uint64_t bg_cpio_size(const struct bg_cpio *c);
