/* SPDX-License-Identifier: MIT */
/* git through posix_spawnp, its stdout through a pipe. */
#include "git.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"

extern char **environ;

#define GIT_ARGS_MAX 16

int bg_cli_git(const char *dir, const char *const *args, size_t max, char **ret, size_t *ret_len,
               int *ret_status, struct bg_error *err)
{
    const char *argv[GIT_ARGS_MAX + 6] = {"git", "-C", dir, "-c", "core.fsmonitor=false"};
    posix_spawn_file_actions_t fa;
    bg_autofree char *buf = NULL;
    size_t len = 0, cap = 0;
    int p[2], st = 0;
    pid_t pid;

    for (size_t i = 0; args[i]; i++) {
        if (i == GIT_ARGS_MAX)
            return bg_error_set(err, -E2BIG, "too many git arguments");
        argv[5 + i] = args[i];
    }
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
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = bg_realloc(buf, cap + 1);
        }
        ssize_t n = read(p[0], buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (len += (size_t)n) > max)
            break;
    }
    (void)close(p[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (len > max)
        return bg_error_set(err, -E2BIG, "git %s wrote more than %zu bytes", args[0], max);
    buf[len] = '\0';
    *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    *ret = bg_steal_ptr(&buf);
    *ret_len = len;
    return 0;
}
