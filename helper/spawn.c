/* SPDX-License-Identifier: MIT */
/* bangerd-root's program runner: clean environment, no inherited fds, optional uid drop. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/agentio.h"
#include "banger/alloc.h"
#include "banger/parse.h"
#include "banger/proc.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"

static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
static char env_lc[] = "LC_ALL=C";
static char *const clean_env[] = {env_path, env_lc, NULL};

/* In a child: default signals, fds 0..2 from in/out/err, nothing else open but keep. */
static void child_setup(int in, int out, int errfd, int keep)
{
    sigset_t none;

    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++)
        (void)signal(s, SIG_DFL);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
        _exit(127);
    for (int fd = 3; fd < 1024; fd++)
        if (fd != keep)
            (void)close(fd);
}

/* Read what fd gives until it closes or the deadline; keep the first max-1 bytes (nft says
 * what is wrong first) and drop the rest. */
static void read_head(int fd, char *buf, size_t max, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    size_t n = 0;
    char chunk[512];

    for (;;) {
        int64_t left = deadline - bg_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got <= 0)
            break;
        size_t take = (size_t)got < max - 1 - n ? (size_t)got : max - 1 - n;
        memcpy(buf + n, chunk, take);
        n += take;
    }
    buf[n] = '\0';
}

static int reap(pid_t pid, int64_t deadline, int *ret_status)
{
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            *ret_status = st;
            return 0;
        }
        if (w < 0 && errno != EINTR)
            return -errno;
        if (bg_now_ms() > deadline) {
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &st, 0);
            return -ETIMEDOUT;
        }
        (void)usleep(2000);
    }
}

int bg_spawn_run(const char *const *argv, const char *input, size_t len, int timeout_ms,
                 struct bg_error *err)
{
    int in[2], ep[2], status;
    char tail[BG_SPAWN_ERR_MAX];
    int64_t deadline = bg_now_ms() + timeout_ms;

    if (pipe2(in, O_CLOEXEC) < 0)
        return bg_error_errno(err, "pipe");
    if (pipe2(ep, O_CLOEXEC) < 0) {
        int r = bg_error_errno(err, "pipe");
        (void)close(in[0]);
        (void)close(in[1]);
        return r;
    }
    pid_t pid = fork();
    if (pid == 0) {
        child_setup(in[0], ep[1], ep[1], -1);
        execve(argv[0], (char *const *)argv, clean_env);
        _exit(127);
    }
    (void)close(in[0]);
    (void)close(ep[1]);
    if (pid < 0) {
        (void)close(in[1]);
        (void)close(ep[0]);
        return bg_error_errno(err, "fork for %s", argv[0]);
    }
    /* small inputs (a ruleset) fit the pipe; a program that stops reading gets EPIPE */
    int wr = bg_write_all(in[1], input, len);
    (void)close(in[1]);
    read_head(ep[0], tail, sizeof(tail), deadline);
    (void)close(ep[0]);
    int r = reap(pid, deadline, &status);
    if (r == -ETIMEDOUT)
        return bg_error_set(err, r, "%s did not finish within %d ms", argv[0], timeout_ms);
    if (r < 0)
        return bg_error_set(err, r, "wait for %s: %s", argv[0], strerror(-r));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && wr == 0)
        return 0;
    tail[strcspn(tail, "\n")] = '\0';
    bg_utf8_fix(tail);
    return bg_error_set(err, -EIO, "%s failed (exit %d): %s", argv[0],
                        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                        tail[0] ? tail : "(no output)");
}

/* The grandchild: drop, open the log, exec. Any failure writes its errno to report. */
static void detached_fail(int report, const char *step)
{
    int e = errno;
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "%d %s", e, step);
    (void)!write(report, msg, (size_t)n);
    _exit(127);
}

static void detached_exec(const struct bg_spawn_detached *s, int report)
{
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (devnull < 0)
        detached_fail(report, "open /dev/null");
    if (s->drop) {
        if (setgroups(0, NULL) < 0)
            detached_fail(report, "setgroups");
        if (setresgid(s->gid, s->gid, s->gid) < 0)
            detached_fail(report, "setresgid");
        if (setresuid(s->uid, s->uid, s->uid) < 0)
            detached_fail(report, "setresuid");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            detached_fail(report, "no_new_privs");
    }
    int log = s->log_fd >= 0
                  ? s->log_fd
                  : open(s->log_path,
                         O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    if (log < 0)
        detached_fail(report, "open the log");
    child_setup(devnull, log, log, report);
    execve(s->argv[0], (char *const *)s->argv, clean_env);
    detached_fail(report, "exec");
}

/* One report from the launcher ("P<pid>") or the grandchild ("<errno> <step>") into buf;
 * the length read (0 at EOF). */
static ssize_t report_read(int fd, char *buf, size_t len)
{
    ssize_t n;

    while ((n = read(fd, buf, len - 1)) < 0 && errno == EINTR)
        ;
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

static int report_parse(const char *buf, pid_t *ret_pid, struct bg_error *err, const char *what)
{
    char num[16];
    uint64_t v;

    if (!buf[0])
        return bg_error_set(err, -EIO, "launch %s: the launcher gave no pid", what);
    if (buf[0] == 'P') {
        if (bg_parse_u64(buf + 1, 1, BG_PROC_PID_MAX, &v, NULL) < 0)
            return bg_error_set(err, -EIO, "launch %s: fork failed", what);
        *ret_pid = (pid_t)v;
        return 0;
    }
    size_t n = strcspn(buf, " ");
    snprintf(num, sizeof(num), "%.*s", (int)(n < sizeof(num) ? n : 0), buf);
    int e = bg_parse_u64(num, 1, 4095, &v, NULL) == 0 ? (int)v : EIO;
    return bg_error_set(err, -e, "launch %s: %s: %s", what, buf[n] ? buf + n + 1 : "?",
                        strerror(e));
}

int bg_spawn_detached(const struct bg_spawn_detached *s, pid_t *ret_pid, struct bg_error *err)
{
    int pp[2], ep[2], st;
    pid_t grandchild = 0;

    if (pipe2(pp, O_CLOEXEC) < 0)
        return bg_error_errno(err, "pipe");
    if (pipe2(ep, O_CLOEXEC) < 0) {
        int r = bg_error_errno(err, "pipe");
        (void)close(pp[0]);
        (void)close(pp[1]);
        return r;
    }
    pid_t child = fork();
    if (child == 0) {
        (void)setsid();
        pid_t g = fork();
        if (g == 0)
            detached_exec(s, ep[1]);
        char msg[32];
        int n = snprintf(msg, sizeof(msg), "P%d", (int)g);
        (void)!write(pp[1], msg, (size_t)n);
        _exit(g < 0 ? 1 : 0);
    }
    (void)close(pp[1]);
    (void)close(ep[1]);
    if (child < 0) {
        (void)close(pp[0]);
        (void)close(ep[0]);
        return bg_error_errno(err, "fork");
    }
    char buf[160];
    (void)report_read(pp[0], buf, sizeof(buf));
    int r = report_parse(buf, &grandchild, err, s->argv[0]);
    (void)waitpid(child, &st, 0);
    (void)close(pp[0]);
    /* the exec status: EOF (CLOEXEC closed it) means exec succeeded */
    ssize_t n = report_read(ep[0], buf, sizeof(buf));
    (void)close(ep[0]);
    if (r < 0)
        return r;
    if (n > 0) {
        pid_t unused;
        return report_parse(buf, &unused, err, s->argv[0]);
    }
    *ret_pid = grandchild;
    return 0;
}
