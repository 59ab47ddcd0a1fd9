/* SPDX-License-Identifier: MIT */
/* The workspace archive: a tar stream (libarchive, pax where ustar falls short) of the tracked
 * files of a work tree or of a whole directory, every file opened beneath its root without
 * following a symlink. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "workspace/git.h"

#define BG_WORKSPACE_TAR_BUF (64 * 1024) /* bytes per write to the sink */
#define BG_WORKSPACE_FILES_MAX 1000000   /* entries one archive takes */
#define BG_WORKSPACE_DEPTH_MAX 256       /* directory levels bg_workspace_tar_tree walks */

/* Where the stream goes: write(cls, buf, len, err) takes all of buf and returns 0, or a
 * negative errno with err set, after which nothing more is written. */
struct bg_workspace_sink {
    int (*write)(void *cls, const void *buf, size_t len, struct bg_error *err);
    void *cls;
};

/* A tar stream being written. */
struct bg_workspace_tar;

/* A new stream into sink (copied; sink->cls borrowed until bg_workspace_tar_free). */
int bg_workspace_tar_new(const struct bg_workspace_sink *sink, struct bg_workspace_tar **ret,
                         struct bg_error *err);
/* Free t (accepts NULL). Of a stream not finished, what is still buffered and the
 * end-of-archive blocks never reach the sink: the reader is never handed a shorter archive
 * that looks complete. */
void bg_workspace_tar_free(struct bg_workspace_tar *t);
void bg_workspace_tar_freep(struct bg_workspace_tar **t);

/* Add the entry at relpath below rootfd as name relpath, resolving relpath beneath rootfd
 * with no symlink on the way: a regular file (mode, mtime, content as read through the
 * descriptor its stat came from; a file that shrinks meanwhile is padded with zeros, one that
 * grows is cut), a symlink (kept as a link), or a directory (header only). Returns 1 when a
 * file or symlink was added, 0 for a directory or a skipped type (FIFO, socket, device),
 * -ENOENT when relpath vanished (or a directory on its way became a file),
 * BG_ERR(BG_PROBLEM_INVALID_FIELD) when a directory on its way is a symlink or it is longer
 * than a path may be, or the sink's error. */
int bg_workspace_tar_add(struct bg_workspace_tar *t, int rootfd, const char *relpath,
                         struct bg_error *err);

/* Write the end-of-archive blocks and flush. After it, only bg_workspace_tar_free. */
int bg_workspace_tar_finish(struct bg_workspace_tar *t, struct bg_error *err);

/* Files and symlinks added so far; bytes handed to the sink so far. */
uint64_t bg_workspace_tar_entries(const struct bg_workspace_tar *t);
uint64_t bg_workspace_tar_bytes(const struct bg_workspace_tar *t);

/* Add the tracked files of the work tree top (copy mode): each path of bg_workspace_ls_files
 * as it is on disk now, skipping the deleted ones. BG_ERR(BG_PROBLEM_INVALID_FIELD) past
 * BG_WORKSPACE_FILES_MAX paths or as bg_workspace_tar_add says. */
int bg_workspace_tar_tracked(struct bg_workspace_tar *t, const char *top,
                             const struct bg_workspace_cancel *cancel, struct bg_error *err);

/* Add every entry below dir, directories before what they hold, names in byte order, walked
 * with an explicit stack: BG_ERR(BG_PROBLEM_INVALID_FIELD) past BG_WORKSPACE_DEPTH_MAX
 * directory levels or BG_WORKSPACE_FILES_MAX entries. */
int bg_workspace_tar_tree(struct bg_workspace_tar *t, const char *dir, struct bg_error *err);
