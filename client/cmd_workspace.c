/* SPDX-License-Identifier: MIT */
/* banger vm workspace NAME REPO [--mode copy|clone] [--from REF --branch NAME] */
#include "cmd_workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "http.h"
#include "output.h"
#include "upload.h"

extern char **environ;

/* Run git -C dir rev-parse --show-toplevel; its first output line into buf. */
static int git_toplevel(const char *dir, char *buf, size_t len, int *ret_status,
                        struct bg_error *err)
{
    const char *argv[] = {"git", "-C", dir, "rev-parse", "--show-toplevel", NULL};
    posix_spawn_file_actions_t fa;
    int p[2], st = 0;
    size_t have = 0;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return bg_error_errno(err, "pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* posix_spawn takes char *const[] for historical reasons; it does not write to it. */
    int r = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    (void)close(p[1]);
    if (r != 0) {
        (void)close(p[0]);
        return bg_error_set(err, -r, "cannot run git: %s", strerror(r));
    }
    for (ssize_t n; have + 1 < len && (n = read(p[0], buf + have, len - 1 - have)) > 0;)
        have += (size_t)n;
    buf[have] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    (void)close(p[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return 0;
}

int bg_cli_workspace_check(const char *repo, char **ret, struct bg_error *err)
{
    char abs[PATH_MAX], top[PATH_MAX];
    int status = 0;
    int r;

    if (!realpath(repo, abs))
        return bg_error_errno(err, "repository '%s'", repo);
    if ((r = git_toplevel(abs, top, sizeof(top), &status, err)) < 0)
        return r;
    if (status != 0 || !top[0])
        return bg_error_set(err, -ENOTDIR,
                            "'%s' is not a git work tree; give the path of a git repository "
                            "(or leave REPO out)",
                            repo);
    *ret = bg_strdup(top);
    return 0;
}

/* A remote daemon cannot read this host's files: the tracked files go up as a tar instead. */
static int push_remote(const char *socket, const char *vm, const char *repo, const char *mode,
                       json_t **ret, struct bg_error *err)
{
    bg_autofree char *top = NULL;
    json_t *j = NULL;
    int r;

    if (mode && strcmp(mode, "copy"))
        return bg_error_set(err, -ENOTSUP,
                            "--mode %s needs the repository on the daemon's host; a remote daemon "
                            "takes --mode copy (the tracked files) only",
                            mode);
    if ((r = bg_cli_workspace_check(repo, &top, err)) < 0 ||
        (r = bg_cli_upload_repo(socket, vm, top, "/root/repo", &j, err)) < 0)
        return r;
    if (ret)
        *ret = j;
    else
        json_decref(j);
    return 0;
}

int bg_cli_workspace_push(const char *socket, const char *vm, const char *repo, const char *mode,
                          const char *from, const char *branch, json_t **ret, struct bg_error *err)
{
    char abs[PATH_MAX];

    if (bg_cli_http_remote())
        return push_remote(socket, vm, repo, mode, ret, err);
    bg_autofree char *esc = bg_cli_http_escape(vm);
    bg_autofree char *path = bg_asprintf("/v1/vms/%s/workspace", esc);

    if (!realpath(repo, abs))
        return bg_error_errno(err, "repository '%s'", repo);
    bg_auto(bg_cli_json_decrefp) json_t *body = json_pack("{s:s}", "path", abs);
    /* json_object_set_new steals the new value's reference */
    if (mode)
        (void)json_object_set_new(body, "mode", json_string(mode));
    if (from)
        (void)json_object_set_new(body, "from", json_string(from));
    if (branch)
        (void)json_object_set_new(body, "branch", json_string(branch));
    return bg_cli_http_call(socket, "POST", path, body, ret, err);
}

int bg_cli_workspace_cmd(const char *socket, const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_cli_json_decrefp) json_t *j = NULL;
    char size[BG_CLI_TEXT_MAX];
    int r = bg_cli_workspace_push(socket, a->name, a->repo, a->mode, a->from, a->branch, &j, err);

    if (r < 0)
        return r;
    if (a->json) {
        bg_cli_output_json(stdout, j);
        return 0;
    }
    printf("copied %llu files (%s) to vm '%s':/root/repo in %llu ms\n",
           (unsigned long long)bg_cli_json_u64(j, "files"),
           bg_cli_output_size(bg_cli_json_u64(j, "bytes"), size), a->name,
           (unsigned long long)bg_cli_json_u64(j, "ms"));
    return 0;
}
