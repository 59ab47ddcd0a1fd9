/* SPDX-License-Identifier: MIT */
/* git for workspaces: the work tree a path lies in, its tracked files, and throwaway clones
 * below <state_dir>/tmp. git runs with an environment and configuration of banger's own, so a
 * repository's settings can never make it run a command (fsmonitor, hooks, filters). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "banger/error.h"

#define BG_WORKSPACE_GIT_TIMEOUT_MS (10 * 60 * 1000) /* one git command, clones included */
#define BG_WORKSPACE_LS_MAX (256u << 20)             /* bytes of `git ls-files -z` read */
#define BG_WORKSPACE_TMP "tmp"                       /* below the state dir: the clones */
#define BG_WORKSPACE_CLONE_PREFIX "clone-"           /* clone-XXXXXX (mkdtemp) */

/* Tells a long piece of work to stop: fn(cls) is true once nobody waits for the result (the
 * HTTP client went away). It may be called from any thread, and often: it must not block. */
struct bg_workspace_cancel {
    bool (*fn)(void *cls); /* NULL: never cancelled */
    void *cls;
};

/* The top of the git work tree that contains path (git rev-parse --show-toplevel), as a new
 * string in *ret. BG_ERR(BG_PROBLEM_INVALID_FIELD) when path is not inside a work tree, or when
 * the work tree does not contain path (core.worktree pointing elsewhere); -ENOENT when git is
 * not installed; -ECANCELED / -ETIMEDOUT when git was stopped. cancel may be NULL. */
int bg_workspace_toplevel(const char *path, const struct bg_workspace_cancel *cancel, char **ret,
                          struct bg_error *err);

/* The tracked paths of the work tree top (`git ls-files -z --cached`): *ret (the caller's to
 * free) holds *ret_len bytes of NUL-terminated paths relative to top. -EIO when git fails,
 * -EFBIG past BG_WORKSPACE_LS_MAX bytes, or the errors of bg_workspace_toplevel. */
int bg_workspace_ls_files(const char *top, const struct bg_workspace_cancel *cancel, char **ret,
                          size_t *ret_len, struct bg_error *err);

/* Make a full clone of top in a new directory tmp_parent/clone-XXXXXX (tmp_parent created as
 * needed): `git clone --no-hardlinks`, then with branch `git checkout -B BRANCH FROM` (FROM
 * defaults to HEAD). *ret_dir is the clone: the caller removes it with
 * bg_workspace_clone_remove and frees it. BG_ERR(BG_PROBLEM_INVALID_FIELD) when from is not a
 * commit of the repository (about the field "from"); -EIO when git fails. */
int bg_workspace_clone(const char *top, const char *from, const char *branch,
                       const char *tmp_parent, const struct bg_workspace_cancel *cancel,
                       char **ret_dir, struct bg_error *err);

/* Remove the clone dir with all it holds, however deep its tree, from any thread. Returns 0,
 * or a negative errno after logging what was left (the next start's sweep removes it). */
int bg_workspace_clone_remove(const char *dir);

/* Remove the clones a crashed bangerd left in <state_dir>/tmp (every clone-* directory).
 * Call at start, with the state directory locked, before any request runs. Returns how many
 * were removed; failures are logged, never fatal. */
int bg_workspace_clones_sweep(const char *state_dir);
