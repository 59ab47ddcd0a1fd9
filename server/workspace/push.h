/* SPDX-License-Identifier: MIT */
/* Workspaces: a host git repository put at /root/repo in a running VM, streamed over the
 * agent as a tar archive (the tracked files, or a full clone with history) into the guest's
 * tar, with a deadline on every wait and a cancel polled throughout. */
#pragma once

#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"
#include "guest/agentconn.h"
#include "workspace/git.h"
#include "workspace/request.h"

#define BG_WORKSPACE_GUEST_DIR "/root/repo"
#define BG_WORKSPACE_STALL_MS (60 * 1000)     /* one write may wait this long for the guest */
#define BG_WORKSPACE_FINISH_MS (60 * 1000)    /* the guest's tar ends this long after EOF */
#define BG_WORKSPACE_GUEST_CMD_MS (30 * 1000) /* a short guest command (mkdir) */
#define BG_WORKSPACE_POLL_MS 250              /* how often deadlines and the cancel are seen */

/* How a push runs. Everything is borrowed for the call. */
struct bg_workspace_push_opts {
    const char *state_dir;             /* clones go to <state_dir>/tmp/clone-XXXXXX */
    const char *guest_dir;             /* absolute, where the files go; NULL: GUEST_DIR */
    struct bg_workspace_cancel cancel; /* polled between chunks and while waiting */
    int stall_ms;                      /* 0: BG_WORKSPACE_STALL_MS */
    int finish_ms;                     /* 0: BG_WORKSPACE_FINISH_MS */
};

/* What a transfer moved. */
struct bg_workspace_result {
    uint64_t files; /* regular files and symlinks sent */
    uint64_t bytes; /* tar bytes streamed */
    int64_t ms;     /* wall time of the whole transfer */
};

/* The whole transfer into the VM whose agent connection is conn: resolve the work tree of
 * req->path, clone if asked, `mkdir -p DIR`, then `tar -x -C DIR -f -` fed with the archive.
 * Returns 0 with *ret, or:
 * - BG_ERR(BG_PROBLEM_INVALID_FIELD): the request cannot be served as asked (not a work tree,
 *   "from" not a commit, a directory of the work tree replaced by a symlink, a tree too deep
 *   or too big); f (may be NULL) names the field, "path" or "from";
 * - -ECANCELED: opts->cancel said stop (the guest's tar is killed);
 * - -ETIMEDOUT: the guest took no data for stall_ms, or its tar did not end within finish_ms
 *   of the last byte (it is killed), or a guest command did not answer;
 * - -ECONNRESET: the VM went away;
 * - -EIO and other errors: the transfer failed (err says where). */
int bg_workspace_push(struct bg_agent_conn *conn, const struct bg_workspace_request *req,
                      const struct bg_workspace_push_opts *opts, struct bg_workspace_result *ret,
                      struct bg_field_error *f, struct bg_error *err);
