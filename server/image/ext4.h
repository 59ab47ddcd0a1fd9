/* SPDX-License-Identifier: MIT */
/* A rootfs tarball made into an ext4 image without root and without a loop mount: the tree
 * unpacked as bangerd's user (every file readable by it), `mkfs.ext4 -d` of that tree, then
 * every inode's owner, mode, times and extended attributes set from the tarball with
 * libext2fs. Owners, modes and times of the tree on the host do not matter, so the same tarball
 * gives the same image bytes whoever unpacks it, and whenever. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"

#define BG_EXT4_ENTRIES_MAX 1000000 /* entries of a rootfs tarball */
#define BG_EXT4_XATTR_MAX 65536     /* bytes of one extended attribute's value */

/* One extended attribute of an entry. */
struct bg_ext4_xattr {
    char *name;  /* "security.capability", owned */
    void *value; /* owned */
    size_t size;
};

/* What the tarball says an entry should be. */
struct bg_ext4_meta {
    char *path; /* relative to the root, "usr/bin/ls"; "" for the root itself; owned */
    uint32_t uid, gid;
    uint32_t perm; /* permission bits with setuid, setgid and sticky (07777) */
    int64_t mtime;
    struct bg_ext4_xattr *xattrs; /* owned */
    size_t n_xattrs;
};

/* The unpacked tree: its entries (in tarball order) and what the file system needs to hold
 * it. */
struct bg_ext4_tree {
    struct bg_ext4_meta *m;
    size_t n;
    uint64_t inodes;        /* entries less hard links */
    uint64_t blocks;        /* 4 KiB blocks of data, directories and long symlinks */
    unsigned skipped_nodes; /* devices, FIFOs and sockets not unpacked (the guest's /dev is
                             * devtmpfs, mounted by the agent) */
};

/* Unpack the tar file at tar into the empty directory dir (its files created 0600, its
 * directories 0700: owners and modes are applied to the image, not to the tree). Every entry is
 * opened beneath dir, never through a symbolic link; a path that is absolute, holds "..", or
 * names a missing directory is refused. cancelled (may be NULL) is polled. Returns 0 with *ret
 * filled (bg_ext4_tree_done), -ECANCELED, or -EINVAL / -errno with err naming the entry. */
int bg_ext4_unpack(const char *tar, const char *dir, bool (*cancelled)(void *cls), void *cls,
                   struct bg_ext4_tree *ret, struct bg_error *err);

void bg_ext4_tree_done(struct bg_ext4_tree *t);

/* The image size, in MiB, for a tree: its data with a tenth more and 64 MiB of headroom
 * (the image is read-only: VMs write to their own overlay). */
uint64_t bg_ext4_size_mib(const struct bg_ext4_tree *t);

/* The argv of mkfs.ext4 making image (size_mib) from dir with a fixed UUID and directory hash
 * seed (both "8-4-4-4-12" hex), no journal (the image is only ever mounted read-only), no
 * reserved blocks and room for t's inodes. NULL-terminated, owned. Run it with
 * E2FSPROGS_FAKE_TIME set, so the file system's own times are fixed too. */
char **bg_ext4_mkfs_argv(const char *dir, const char *image, uint64_t size_mib,
                         const struct bg_ext4_tree *t, const char *uuid, const char *hash_seed);

/* Apply t to image: each entry's owner, permissions, mtime and extended attributes; then every
 * inode's atime, ctime and crtime set to its mtime, nanoseconds zeroed, and the superblock's
 * write time set to epoch. Returns 0 or -EIO with err naming the entry and libext2fs's
 * message. */
int bg_ext4_stamp(const char *image, const struct bg_ext4_tree *t, int64_t epoch,
                  struct bg_error *err);

/* A relative tarball path made canonical into ret (size bytes): "./usr/bin/" becomes
 * "usr/bin", "." and "./" become "". Returns 0, or -EINVAL for an absolute path, a ".."
 * component, an empty component ("a//b"), a control character or one too long. */
int bg_ext4_path_clean(const char *path, char *ret, size_t size);
