/* SPDX-License-Identifier: MIT */
/* Running host programs: posix_spawn into a process group with pipes, a poll loop that keeps
 * stdout and the tail of stderr under a deadline and a cancel, and a detached double fork. */
#include "host/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define CLEAN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static char env_path[] = "PATH=" CLEAN_PATH;
static char env_lang[] = "LC_ALL=C";
char *const bg_run_clean_env[] = {env_path, env_lang, NULL};

static bool executable(const char *path)
{
    return access(path, X_OK) == 0;
}

int bg_run_find_program(const char *name, char **ret, struct bg_error *err)
{
    const char *env = getenv("PATH");

    if (strchr(name, '/')) {
        if (!executable(name))
            return bg_error_set(err, -ENOENT, "%s is not an executable file", name);
        *ret = bg_strdup(name);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        bg_autofree char *list = bg_strdup(pass == 0 ? (env ? env : "") : CLEAN_PATH);
        char *save = NULL;
        for (char *dir = strtok_r(list, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            if (dir[0] != '/')
                continue;
            bg_autofree char *path = bg_asprintf("%s/%s", dir, name);
            if (executable(path)) {
                *ret = bg_steal_ptr(&path);
                return 0;
            }
        }
    }
    return bg_error_set(err, -ENOENT, "%s not found in PATH or %s", name, CLEAN_PATH);
}

/* ---- running to the end ---- */

static int spawn_setup(const struct bg_run_opts *o, posix_spawn_file_actions_t *fa,
                       posix_spawnattr_t *at, int out_fd, int err_fd)
{
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP;
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
     * neither, or it could not be stopped and would ignore a closed pipe. Its own process
     * group lets a kill reach everything it started, which may hold the pipes open. */
    if ((r = posix_spawnattr_setflags(at, flags)) || (r = posix_spawnattr_setsigmask(at, &none)) ||
        (r = posix_spawnattr_setsigdefault(at, &dfl)) || (r = posix_spawnattr_setpgroup(at, 0)))
        return -r;
    return 0;
}

static int spawn(const struct bg_run_opts *o, int out_fd, int err_fd, pid_t *ret_pid,
                 struct bg_error *err)
{
    bg_autofree char *prog = NULL;
    /* posix_spawn takes char *const[] for historical reasons; it does not write to it. */
    char *const *argv = (char *const *)o->argv;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int r;

    struct bg_error e;

    if ((r = bg_run_find_program(o->argv[0], &prog, &e)) < 0)
        return bg_error_set(err, r, "cannot run %s: %s", o->argv[0], e.msg);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    r = spawn_setup(o, &fa, &at, out_fd, err_fd);
    if (r == 0)
        r = -posix_spawn(ret_pid, prog, &fa, &at, argv, o->env ? o->env : bg_run_clean_env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return r < 0 ? bg_error_set(err, r, "cannot run %s: %s", o->argv[0], strerror(-r)) : 0;
}

static void keep_out(const struct bg_run_opts *o, struct bg_run_result *r, const char *buf,
                     size_t n)
{
    size_t max = o->out_max ? o->out_max : BG_RUN_OUT_DEFAULT;

    if (r->out_len + n > max) {
        r->out_truncated = true;
        n = max - r->out_len;
    }
    if (n == 0)
        return;
    r->out = bg_realloc(r->out, r->out_len + n + 1);
    memcpy(r->out + r->out_len, buf, n);
    r->out_len += n;
    r->out[r->out_len] = '\0';
}

/* Keep the last BG_RUN_ERR_MAX bytes. */
static void keep_err(struct bg_run_result *r, const char *buf, size_t n)
{
    if (n >= BG_RUN_ERR_MAX) {
        memcpy(r->err, buf + n - BG_RUN_ERR_MAX, BG_RUN_ERR_MAX);
        r->err_len = BG_RUN_ERR_MAX;
    } else {
        size_t drop = r->err_len + n > BG_RUN_ERR_MAX ? r->err_len + n - BG_RUN_ERR_MAX : 0;
        memmove(r->err, r->err + drop, r->err_len - drop);
        memcpy(r->err + r->err_len - drop, buf, n);
        r->err_len += n - drop;
    }
    r->err[r->err_len] = '\0';
}

/* Why the group must die now: -ETIMEDOUT, -ECANCELED, or 0. */
static int must_stop(const struct bg_run_opts *o, int64_t deadline)
{
    if (deadline && bg_now_ms() >= deadline)
        return -ETIMEDOUT;
    if (o->cancelled && o->cancelled(o->cls))
        return -ECANCELED;
    return 0;
}

/* Read both pipes until they close; on a deadline or cancel, kill the group once and go on
 * draining (what it started may still write until it dies). Returns 0 or the stop reason. */
static int collect(const struct bg_run_opts *o, pid_t pid, int out_fd, int err_fd,
                   struct bg_run_result *r, struct bg_error *err)
{
    struct pollfd p[2] = {{.fd = err_fd, .events = POLLIN}, {.fd = out_fd, .events = POLLIN}};
    int64_t deadline = o->timeout_ms > 0 ? bg_now_ms() + o->timeout_ms : 0;
    bool watched = deadline || o->cancelled;
    int stop = 0;
    char buf[16384];

    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (!stop && (stop = must_stop(o, deadline)) < 0)
            (void)kill(-pid, SIGKILL);
        if (poll(p, 2, watched && !stop ? BG_RUN_POLL_MS : -1) < 0 && errno != EINTR)
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
            if (o->on_output)
                o->on_output(o->cls, i == 0 ? 2 : 1, buf, (size_t)n);
            if (i == 0)
                keep_err(r, buf, (size_t)n);
            else
                keep_out(o, r, buf, (size_t)n);
        }
    }
    return stop;
}

static void close_pair(int fds[2])
{
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            (void)close(fds[i]);
    fds[0] = fds[1] = -1;
}

static int wait_status(pid_t pid, int *ret_status)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    *ret_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

int bg_run(const struct bg_run_opts *o, struct bg_run_result *ret, struct bg_error *err)
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    struct bg_run_result res = {.out = bg_strdup("")};
    pid_t pid;
    int r, w;

    if (pipe2(err_pipe, O_CLOEXEC) < 0 || (o->out_fd < 0 && pipe2(out_pipe, O_CLOEXEC) < 0)) {
        r = bg_error_errno(err, "pipe");
        goto out;
    }
    if ((r = spawn(o, o->out_fd >= 0 ? o->out_fd : out_pipe[1], err_pipe[1], &pid, err)) < 0)
        goto out;
    (void)close(err_pipe[1]);
    err_pipe[1] = -1;
    if (out_pipe[1] >= 0)
        (void)close(out_pipe[1]);
    out_pipe[1] = -1;
    r = collect(o, pid, out_pipe[0], err_pipe[0], &res, err);
    close_pair(out_pipe);
    close_pair(err_pipe);
    w = wait_status(pid, &res.status);
    if (r == -ETIMEDOUT)
        r = bg_error_set(err, r, "run %s: killed after %d ms", o->argv[0], o->timeout_ms);
    else if (r == -ECANCELED)
        r = bg_error_set(err, r, "run %s: cancelled", o->argv[0]);
    else if (r >= 0 && w < 0)
        r = bg_error_set(err, w, "wait for %s: %s", o->argv[0], strerror(-w));
out:
    close_pair(out_pipe);
    close_pair(err_pipe);
    if (r < 0) {
        bg_run_result_done(&res);
        return r;
    }
    *ret = res;
    return 0;
}

const char *bg_run_last_line(const struct bg_run_result *r, char *buf, size_t len)
{
    const char *text = r->err_len ? r->err : r->out ? r->out : "";
    const char *end = text + strlen(text);

    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    snprintf(buf, len, "%.*s", (int)(end - start), start);
    return buf;
}

int bg_run_ok(const struct bg_run_opts *o, struct bg_run_result *ret, struct bg_error *err)
{
    char line[512];
    int r = bg_run(o, ret, err);

    if (r < 0 || ret->status == 0)
        return r;
    r = bg_error_set(err, -EIO, "%s failed (exit %d): %s", o->argv[0], ret->status,
                     bg_run_last_line(ret, line, sizeof(line))[0] ? line : "no message");
    bg_run_result_done(ret);
    return r;
}

void bg_run_result_done(struct bg_run_result *r)
{
    free(r->out);
    memset(r, 0, sizeof(*r));
}

/* ---- detached ---- */

/* A message from the detached spawn's helpers: kind 'p' (pid) or 'e' (errno of a step). */
struct spawn_msg {
    char kind;
    int value;
};

static void msg_send(int fd, char kind, int value)
{
    struct spawn_msg m = {kind, value};
    (void)!write(fd, &m, sizeof(m));
}

/* Runs in the grandchild after fork: only async-signal-safe calls until exec. */
static _Noreturn void exec_child(const char *const *argv, int null_fd, int log_fd, int report_fd)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t none;

    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        (void)sigaction(s, &dfl, NULL);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
        msg_send(report_fd, 'e', errno);
        _exit(127);
    }
    /* Mark every other fd close-on-exec (report_fd must stay open until exec succeeds). */
    (void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(argv[0], (char *const *)argv, bg_run_clean_env);
    msg_send(report_fd, 'e', errno);
    _exit(127);
}

/* Collect the helpers' reports: the grandchild's pid, then EOF (exec worked) or an errno. */
static int spawn_collect(int fd, pid_t *ret_pid, int *ret_errno)
{
    struct spawn_msg m;
    pid_t pid = 0;
    int e = 0;

    for (;;) {
        ssize_t n = read(fd, &m, sizeof(m));
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(m))
            break;
        if (m.kind == 'p')
            pid = m.value;
        else
            e = m.value;
    }
    *ret_pid = pid;
    *ret_errno = e;
    return pid > 0 && e == 0 ? 0 : -1;
}

int bg_run_detached(const char *const *argv, const char *log_path, pid_t *ret_pid,
                    struct bg_error *err)
{
    bg_autoclose int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* O_APPEND: a log that is cut from outside (console caps) goes on at its new end */
    bg_autoclose int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int pipefd[2];
    pid_t pid, grandchild;
    int e;

    if (null_fd < 0)
        return bg_error_errno(err, "open /dev/null");
    if (log_fd < 0)
        return bg_error_errno(err, "open %s", log_path);
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return bg_error_errno(err, "pipe");
    pid = fork();
    if (pid < 0) {
        e = errno;
        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        return bg_error_set(err, -e, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        (void)close(pipefd[0]);
        (void)setsid();
        pid_t g = fork();
        if (g < 0)
            msg_send(pipefd[1], 'e', errno);
        if (g == 0)
            exec_child(argv, null_fd, log_fd, pipefd[1]);
        msg_send(pipefd[1], 'p', g);
        _exit(0);
    }
    (void)close(pipefd[1]);
    int r = spawn_collect(pipefd[0], &grandchild, &e);
    (void)close(pipefd[0]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return bg_error_set(err, e ? -e : -ECHILD, "start %s: %s", argv[0],
                            e ? strerror(e) : "the launcher died");
    *ret_pid = grandchild;
    return 0;
}
