/* SPDX-License-Identifier: MIT */
/* banger vm workspace NAME REPO [--mode copy|clone] [--from REF --branch NAME] */
#include "cmd_workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "git.h"
#include "http.h"
#include "output.h"
#include "upload.h"

int bg_cli_workspace_check(const char *repo, char **ret, struct bg_error *err)
{
    static const char *const args[] = {"rev-parse", "--show-toplevel", NULL};
    bg_autofree char *top = NULL;
    char abs[PATH_MAX];
    size_t len = 0;
    int status = 0;
    int r;

    if (!realpath(repo, abs))
        return bg_error_errno(err, "repository '%s'", repo);
    if ((r = bg_cli_git(abs, args, PATH_MAX, &top, &len, &status, err)) < 0)
        return r;
    top[strcspn(top, "\n")] = '\0';
    if (status != 0 || !top[0])
        return bg_error_set(err, -ENOTDIR,
                            "'%s' is not a git work tree; give the path of a git repository "
                            "(or leave REPO out)",
                            repo);
    *ret = bg_steal_ptr(&top);
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
