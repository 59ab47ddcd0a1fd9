/* SPDX-License-Identifier: MIT */
/* Running git for workspaces with banger's own environment and configuration. */
#include "workspace/git.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "host/fileio.h"
#include "host/run.h"

#define GIT_ARGV_MAX 24

/* What git gets instead of bangerd's environment: no GIT_DIR, GIT_WORK_TREE, GIT_CONFIG_* or
 * GIT_EXEC_PATH from outside; the global configuration is empty (HOME names nothing and
 * GIT_CONFIG_GLOBAL /dev/null) and the system one is skipped, so nothing but the repository's
 * own configuration applies, and what of it runs programs is overridden by GIT_OVERRIDES.
 * GIT_OPTIONAL_LOCKS=0: reading never rewrites the user's index. */
static char env_home[] = "HOME=/nonexistent";
static char env_global[] = "GIT_CONFIG_GLOBAL=/dev/null";
static char env_nosystem[] = "GIT_CONFIG_NOSYSTEM=1";
static char env_prompt[] = "GIT_TERMINAL_PROMPT=0";
static char env_locks[] = "GIT_OPTIONAL_LOCKS=0";

/* Configuration that beats the repository's own (-c comes last in git's order), for what
 * would run a command during rev-parse, ls-files, clone and checkout: core.fsmonitor (run on
 * every index read, ls-files included) and hooks (post-checkout). Submodules are never
 * recursed into (.gitmodules URLs are content). Filter drivers (filter.*.smudge/process,
 * run on checkout) need configuration to exist: a fresh clone's configuration has none, and
 * the global and system ones are off, so no driver is defined where a checkout runs. */
static const char *const git_overrides[] = {
    "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "submodule.recurse=false",
};

/* bg_run_clean_env (PATH, locale) plus the git settings above. */
static void git_env(char **env, size_t cap)
{
    char *const extra[] = {env_home, env_global, env_nosystem, env_prompt, env_locks};
    size_t n = 0;

    for (char *const *e = bg_run_clean_env; *e && n + 1 < cap; e++)
        env[n++] = *e;
    for (size_t i = 0; i < BG_ARRAY_SIZE(extra) && n + 1 < cap; i++)
        env[n++] = extra[i];
    env[n] = NULL;
}

static bool cancel_fn(void *cls)
{
    const struct bg_workspace_cancel *c = cls;

    return c->fn(c->cls);
}

/* Run `git OVERRIDES args...` from / (never from a directory whose repository git would
 * read) to its end, stdout kept up to out_max. A git that ran and failed is not an error
 * here: see ret->status. */
static int git_capture(const char *const *args, const struct bg_workspace_cancel *cancel,
                       size_t out_max, struct bg_run_result *ret, struct bg_error *err)
{
    const char *argv[GIT_ARGV_MAX];
    char *env[16];
    size_t n = 0;

    argv[n++] = "git";
    for (size_t i = 0; i < BG_ARRAY_SIZE(git_overrides); i++)
        argv[n++] = git_overrides[i];
    for (; *args && n + 1 < GIT_ARGV_MAX; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    git_env(env, BG_ARRAY_SIZE(env));
    struct bg_run_opts o = {
        .argv = argv,
        .cwd = "/",
        .env = env,
        .timeout_ms = BG_WORKSPACE_GIT_TIMEOUT_MS,
        .cancelled = cancel && cancel->fn ? cancel_fn : NULL,
        .cls = (void *)cancel,
        .out_fd = -1,
        .out_max = out_max,
    };
    int r = bg_run(&o, ret, err);

    if (r == -ENOENT)
        return bg_error_set(err, r, "git is not installed on the host running bangerd");
    if (r == 0 && ret->out_truncated) {
        bg_run_result_done(ret);
        return bg_error_set(err, -EFBIG, "git printed more than %zu MiB", out_max >> 20);
    }
    return r;
}

/* The last line of what a failed git said, for messages. */
static const char *git_says(const struct bg_run_result *c, char *buf, size_t len)
{
    return bg_run_last_line(c, buf, len)[0] ? buf : "no message";
}

/* git args..., which must succeed: fail_code with "what failed: LINE" otherwise. */
static int git_ok(const char *const *args, const char *what, int fail_code,
                  const struct bg_workspace_cancel *cancel, struct bg_error *err)
{
    struct bg_run_result c;
    char line[400];
    int r = git_capture(args, cancel, 0, &c, err);

    if (r < 0)
        return r;
    if (c.status != 0)
        r = bg_error_set(err, fail_code, "%s failed: %s", what, git_says(&c, line, sizeof(line)));
    bg_run_result_done(&c);
    return r;
}

/* core.worktree can name any directory as the work tree of a repository: the files sent are
 * those of the repository the caller named, so the top must contain path. */
static int check_contains(const char *top, const char *path, struct bg_error *err)
{
    char real[PATH_MAX];
    size_t n = strlen(top);

    if (!realpath(path, real))
        return bg_error_errno(err, "resolve '%s'", path);
    if (!strncmp(real, top, n) && (real[n] == '\0' || real[n] == '/' || !strcmp(top, "/")))
        return 0;
    return bg_error_set(err, BG_ERR(BG_PROBLEM_INVALID_FIELD),
                        "'%s' is not inside the work tree of its repository ('%s'; core.worktree "
                        "points elsewhere): refusing to send files from outside it",
                        path, top);
}

int bg_workspace_toplevel(const char *path, const struct bg_workspace_cancel *cancel, char **ret,
                          struct bg_error *err)
{
    const char *args[] = {"-C", path, "rev-parse", "--show-toplevel", NULL};
    struct bg_run_result c;
    char line[400];
    int r = git_capture(args, cancel, 0, &c, err);

    if (r < 0)
        return r;
    if (c.status != 0 || c.out_len < 2 || c.out[0] != '/') {
        r = bg_error_set(err, BG_ERR(BG_PROBLEM_INVALID_FIELD),
                         "'%s' is not inside a git work tree (%s)", path,
                         git_says(&c, line, sizeof(line)));
        bg_run_result_done(&c);
        return r;
    }
    c.out[strcspn(c.out, "\n")] = '\0';
    if ((r = check_contains(c.out, path, err)) < 0) {
        bg_run_result_done(&c);
        return r;
    }
    *ret = bg_steal_ptr(&c.out);
    bg_run_result_done(&c);
    return 0;
}

int bg_workspace_ls_files(const char *top, const struct bg_workspace_cancel *cancel, char **ret,
                          size_t *ret_len, struct bg_error *err)
{
    const char *args[] = {"-C", top, "ls-files", "-z", "--cached", NULL};
    struct bg_run_result c;
    char line[400];
    int r = git_capture(args, cancel, BG_WORKSPACE_LS_MAX, &c, err);

    if (r < 0)
        return r;
    if (c.status != 0) {
        r = bg_error_set(err, -EIO, "git ls-files in '%s' failed: %s", top,
                         git_says(&c, line, sizeof(line)));
        bg_run_result_done(&c);
        return r;
    }
    *ret_len = c.out_len;
    *ret = bg_steal_ptr(&c.out);
    bg_run_result_done(&c);
    return 0;
}

/* In the clone dir: FROM must name a commit, then BRANCH is made (or reset) there and checked
 * out. -B: the clone already has the default branch, which may be the one asked for. */
static int clone_branch(const char *dir, const char *from, const char *branch,
                        const struct bg_workspace_cancel *cancel, struct bg_error *err)
{
    bg_autofree char *commit = bg_asprintf("%s^{commit}", from);
    const char *verify[] = {"-C", dir, "rev-parse", "--verify", "--quiet", commit, NULL};
    const char *co[] = {"-C", dir, "checkout", "-q", "-B", branch, from, "--", NULL};
    int r = git_ok(verify, "git rev-parse", BG_ERR(BG_PROBLEM_INVALID_FIELD), cancel, err);

    if (r == BG_ERR(BG_PROBLEM_INVALID_FIELD))
        return bg_error_set(err, r, "field 'from': '%s' is not a commit of the repository", from);
    return r < 0 ? r : git_ok(co, "git checkout", -EIO, cancel, err);
}

int bg_workspace_clone(const char *top, const char *from, const char *branch,
                       const char *tmp_parent, const struct bg_workspace_cancel *cancel,
                       char **ret_dir, struct bg_error *err)
{
    bg_autofree char *dir = bg_asprintf("%s/" BG_WORKSPACE_CLONE_PREFIX "XXXXXX", tmp_parent);
    int r;

    if (mkdir(tmp_parent, 0700) < 0 && errno != EEXIST)
        return bg_error_errno(err, "mkdir %s", tmp_parent);
    if (!mkdtemp(dir))
        return bg_error_errno(err, "mkdtemp in %s", tmp_parent);
    const char *clone[] = {"clone", "--no-hardlinks", "--quiet", "--", top, dir, NULL};
    r = git_ok(clone, "git clone", -EIO, cancel, err);
    if (r == 0 && branch)
        r = clone_branch(dir, from ? from : "HEAD", branch, cancel, err);
    if (r < 0) {
        (void)bg_workspace_clone_remove(dir);
        return r;
    }
    *ret_dir = bg_steal_ptr(&dir);
    return 0;
}

int bg_workspace_clone_remove(const char *dir)
{
    struct bg_error err;
    int r = bg_rm_tree(dir, &err);

    if (r < 0)
        bg_log_warn("remove clone '%s': %s", dir, err.msg);
    return r;
}

int bg_workspace_clones_sweep(const char *state_dir)
{
    bg_autofree char *tmp = bg_asprintf("%s/" BG_WORKSPACE_TMP, state_dir);
    size_t plen = strlen(BG_WORKSPACE_CLONE_PREFIX);
    DIR *d = opendir(tmp);
    struct dirent *de;
    int n = 0;

    if (!d) {
        if (errno != ENOENT)
            bg_log_warn("sweep clones in '%s': %s", tmp, strerror(errno));
        return 0;
    }
    while ((de = readdir(d))) {
        struct stat st;
        if (strncmp(de->d_name, BG_WORKSPACE_CLONE_PREFIX, plen) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        bg_autofree char *path = bg_asprintf("%s/%s", tmp, de->d_name);
        if (bg_workspace_clone_remove(path) == 0)
            n++;
    }
    closedir(d);
    if (n > 0)
        bg_log_info("sweep clones in '%s': removed %d left by an earlier bangerd", tmp, n);
    return n;
}
