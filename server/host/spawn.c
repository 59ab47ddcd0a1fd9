/* SPDX-License-Identifier: MIT */
/* posix_spawn with pipes for stdout and stderr, a poll loop that feeds them to sinks, and wait. */
#include "host/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int spawn_setup(const struct bg_spawn_opts *o, posix_spawn_file_actions_t *fa,
                       posix_spawnattr_t *at, int out_fd, int err_fd)
{
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    sigset_t none, dfl;
    int r;

    sigemptyset(&none);
    sigemptyset(&dfl);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaddset(&dfl, s);
    if ((r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (r = posix_spawn_file_actions_adddup2(fa, out_fd, 1)) ||
        (r = posix_spawn_file_actions_adddup2(fa, err_fd, 2)) ||
        (o->cwd && (r = posix_spawn_file_actions_addchdir_np(fa, o->cwd))) ||
        (r = posix_spawn_file_actions_addclosefrom_np(fa, 3)))
        return -r;
    /* bangerd blocks SIGTERM/SIGINT in every thread and ignores SIGPIPE; the program must get
     * neither, or it could not be stopped and would ignore a closed pipe. */
    if (o->own_pgroup)
        flags |= POSIX_SPAWN_SETPGROUP;
    if ((r = posix_spawnattr_setflags(at, flags)) || (r = posix_spawnattr_setsigmask(at, &none)) ||
        (r = posix_spawnattr_setsigdefault(at, &dfl)) ||
        (o->own_pgroup && (r = posix_spawnattr_setpgroup(at, 0))))
        return -r;
    return 0;
}

static int spawn(const struct bg_spawn_opts *o, int out_fd, int err_fd, pid_t *ret_pid,
                 struct bg_error *err)
{
    char *const *env = o->env ? o->env : environ;
    /* posix_spawn takes char *const[] for historical reasons; it does not write to it. */
    char *const *argv = (char *const *)o->argv;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int r;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    r = spawn_setup(o, &fa, &at, out_fd, err_fd);
    if (r == 0)
        r = -(o->file ? posix_spawn(ret_pid, o->file, &fa, &at, argv, env)
                      : posix_spawnp(ret_pid, o->argv[0], &fa, &at, argv, env));
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return r < 0 ? bg_error_set(err, r, "cannot run %s: %s", o->argv[0], strerror(-r)) : 0;
}

/* Feed both pipes to the sinks until they close; on cancel, terminate the program (group). */
static int collect(const struct bg_spawn_opts *o, pid_t pid, int out_fd, int err_fd,
                   struct bg_error *err)
{
    struct pollfd p[2] = {{.fd = err_fd, .events = POLLIN}, {.fd = out_fd, .events = POLLIN}};
    bool killed = false;
    char buf[16384];

    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (!killed && o->cancelled && o->cancelled(o->userdata)) {
            (void)kill(o->own_pgroup ? -pid : pid, o->cancel_signal ? o->cancel_signal : SIGTERM);
            killed = true;
        }
        if (poll(p, 2, o->cancelled ? BG_SPAWN_POLL_MS : -1) < 0 && errno != EINTR)
            return bg_error_errno(err, "poll");
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                p[i].fd = -1;
                continue;
            }
            int r = (i == 0 ? o->on_err : o->on_out)(o->userdata, buf, (size_t)n, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static void close_pair(int fds[2])
{
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            (void)close(fds[i]);
    fds[0] = fds[1] = -1;
}

int bg_spawn_run(const struct bg_spawn_opts *o, int *ret_status, struct bg_error *err)
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int status = 0, r;
    pid_t pid;

    if (pipe2(err_pipe, O_CLOEXEC) < 0 || (o->out_fd < 0 && pipe2(out_pipe, O_CLOEXEC) < 0)) {
        r = bg_error_errno(err, "pipe");
        goto out;
    }
    r = spawn(o, o->out_fd >= 0 ? o->out_fd : out_pipe[1], err_pipe[1], &pid, err);
    if (r < 0)
        goto out;
    (void)close(err_pipe[1]);
    err_pipe[1] = -1;
    if (out_pipe[1] >= 0)
        (void)close(out_pipe[1]);
    out_pipe[1] = -1;
    r = collect(o, pid, out_pipe[0], err_pipe[0], err);
    /* closed before the wait: a program still writing after a sink gave up gets EPIPE */
    close_pair(out_pipe);
    close_pair(err_pipe);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            if (r >= 0)
                r = bg_error_errno(err, "wait for %s", o->argv[0]);
            break;
        }
    if (r >= 0)
        *ret_status = status;
out:
    close_pair(out_pipe);
    close_pair(err_pipe);
    return r;
}
