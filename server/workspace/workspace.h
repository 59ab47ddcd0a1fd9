/* SPDX-License-Identifier: MIT */
/* Workspaces: a host git repository put at /root/repo in a running VM, streamed over the
 * agent as a tar archive (the tracked files, or a full clone with history). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"
#include "guest/agentconn.h"

#define BG_WORKSPACE_GUEST_DIR "/root/repo"
#define BG_WORKSPACE_REF_MAX 255       /* bytes of "from" and "branch" */
#define BG_WORKSPACE_FILES_MAX 1000000 /* tracked files one transfer takes */
#define BG_WORKSPACE_TAR_BUF (64 * 1024)

/* A validated POST /v1/vms/{name}/workspace body; strings owned. */
struct bg_workspace_request {
    char *path;   /* absolute path of the repository (or a directory inside it) */
    bool clone;   /* mode "clone": full history; "copy" (default): tracked files as they are */
    char *from;   /* clone only: the commit-ish to branch from, or NULL */
    char *branch; /* clone only: the branch to create at from, or NULL */
};

/* What a transfer moved. */
struct bg_workspace_result {
    uint64_t files; /* regular files and symlinks sent */
    uint64_t bytes; /* tar bytes streamed */
    int64_t ms;     /* wall time of the whole transfer */
};

/* Decode body strictly: unknown members, a relative path, an unknown mode, "from" without
 * "branch" (field "branch"), refs that are not plain ref names, and from/branch in copy mode
 * are refused with -EINVAL and f/err set. */
int bg_workspace_request_decode(const json_t *body, struct bg_workspace_request *ret,
                                struct bg_field_error *f, struct bg_error *err);
void bg_workspace_request_done(struct bg_workspace_request *r);

/* The top of the git work tree that contains path (git rev-parse --show-toplevel), new
 * string in *ret. -ENOTDIR with a message for people when path is not inside a work tree,
 * -ENOENT when git is not installed. */
int bg_workspace_toplevel(const char *path, char **ret, struct bg_error *err);

/* Where the tar stream goes. write returns 0 or a negative errno with err set. */
struct bg_workspace_sink {
    int (*write)(void *cls, const void *buf, size_t len, struct bg_error *err);
    void *cls;
};

/* A buffered ustar writer with pax extended headers for long names, long link targets and
 * sizes past the octal limit. Caller-owned storage; no cleanup needed. */
struct bg_workspace_tar {
    struct bg_workspace_sink sink;
    uint64_t bytes;   /* written to the sink so far (plus what is buffered) */
    uint64_t entries; /* files and symlinks added */
    size_t fill;
    uint8_t buf[BG_WORKSPACE_TAR_BUF];
};

void bg_workspace_tar_init(struct bg_workspace_tar *t, const struct bg_workspace_sink *sink);
/* Add the entry at relpath below dirfd as name relpath: a regular file (mode, mtime,
 * content), a symlink (kept as a link), or a directory (header only). Other types are
 * skipped (returns 0). Returns 1 when added, 0 when skipped, or a negative errno
 * (-ENOENT: vanished). */
int bg_workspace_tar_add(struct bg_workspace_tar *t, int dirfd, const char *relpath,
                         struct bg_error *err);
/* Write the end-of-archive blocks and flush. */
int bg_workspace_tar_finish(struct bg_workspace_tar *t, struct bg_error *err);

/* Stream the tracked files of the work tree top (copy) into t: each path of
 * `git ls-files -z --cached` as it is on disk now, skipping deleted ones. */
int bg_workspace_tar_tracked(struct bg_workspace_tar *t, const char *top, struct bg_error *err);
/* Stream every entry below dir (directories included, recursively) into t. */
int bg_workspace_tar_tree(struct bg_workspace_tar *t, const char *dir, struct bg_error *err);

/* Make a full clone of top in a new directory below tmp_parent (created as needed):
 * `git clone --no-hardlinks --quiet`, then with branch `git checkout -q -b BRANCH FROM`.
 * *ret_dir is the clone (caller removes it with bg_rm_tree and frees it).
 * -EINVAL when from is not a commit in the repository. */
int bg_workspace_clone(const char *top, const char *from, const char *branch,
                       const char *tmp_parent, char **ret_dir, struct bg_error *err);

/* The whole transfer into the VM whose agent connection is conn: resolve the work tree,
 * clone if asked, `mkdir -p /root/repo`, then `tar -x -C /root/repo -f -` fed with the
 * archive. tmp_parent is where clones go. -ENOTDIR/-EINVAL: the request was wrong (err
 * says how); -ECONNRESET: the VM went away; other errors: the transfer failed. */
int bg_workspace_push(struct bg_agent_conn *conn, const struct bg_workspace_request *req,
                      const char *tmp_parent, struct bg_workspace_result *ret,
                      struct bg_error *err);
