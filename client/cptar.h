/* SPDX-License-Identifier: MIT */
/* The archives of banger vm cp, with libarchive: a host file or tree written as tar under a
 * top entry of a chosen name, and an archive from a guest unpacked on the host, every entry
 * checked to lie below its top entry (a guest is not trusted). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"

/* Takes the next len bytes of an archive being written. */
typedef int (*bg_cli_tar_sink)(void *cls, const void *buf, size_t len, struct bg_error *err);
/* Gives the next bytes of an archive being read: the count, 0 at its end, or < 0 with err. */
typedef ssize_t (*bg_cli_tar_source)(void *cls, void *buf, size_t len, struct bg_error *err);

/* Write path (a file, a symlink as the link, or a directory with everything below it, walked
 * without following symlinks) as a tar archive (pax where ustar does not fit) whose top entry
 * is named top (one plain component), to sink as it is made, modes and times kept. Returns 0
 * with *ret_entries (may be NULL) the entries written; -ENOENT and friends when path cannot be
 * read (err names it); the sink's errors. */
int bg_cli_tar_write(const char *path, const char *top, bg_cli_tar_sink sink, void *cls,
                     uint64_t *ret_entries, struct bg_error *err);

/* Read a tar archive from source and unpack it into the directory dir, modes and times kept:
 * its entries must be top or below top (top one plain component; no absolute path, no "..",
 * hard links too), and top becomes as (one plain component; NULL: top). Nothing is written
 * through a symlink. Returns 0 with *ret_entries (may be NULL); -EPROTO (err names the entry)
 * for an entry outside top or an archive that does not parse; -errno when dir cannot be
 * entered or a file cannot be written; the source's errors. */
int bg_cli_tar_extract(bg_cli_tar_source source, void *cls, const char *dir, const char *top,
                       const char *as, uint64_t *ret_entries, struct bg_error *err);

/* The name a host path has as an archive's top entry: its last component (trailing '/'
 * ignored; "." and ".." resolved), into buf (size bytes). -EINVAL for "/" or an empty path. */
int bg_cli_tar_top_name(const char *path, char *buf, size_t size, struct bg_error *err);
