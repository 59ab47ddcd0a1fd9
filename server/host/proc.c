/* SPDX-License-Identifier: MIT */
/* Process helpers: /proc/PID/stat identity, pidfds, PATH lookup, attached and detached spawns. */
#include "host/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/parse.h"
#include "banger/timefmt.h"
#include "host/spawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define STAT_MAX 1024
#define STARTTIME_FIELD 22

/* What children get: no inherited secrets, a predictable PATH. */
static char env_path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
static char env_lang[] = "LC_ALL=C";
static char *const child_env[] = {env_path, env_lang, NULL};

int bg_proc_stat_parse(const char *text, char *ret_state, uint64_t *ret_start_time,
                       struct bg_error *err)
{
    const char *p = strrchr(text, ')');
    char field[32];

    if (!p || p[1] != ' ' || !p[2])
        return bg_error_set(err, -EBADMSG, "/proc stat: no command name");
    char state = p[2];
    p += 2;
    /* p is at field 3; skip to field 22 */
    for (int i = 3; i < STARTTIME_FIELD; i++) {
        p = strchr(p, ' ');
        if (!p)
            return bg_error_set(err, -EBADMSG, "/proc stat: only %d fields", i);
        p++;
    }
    size_t n = strcspn(p, " \n");
    if (n == 0 || n >= sizeof(field))
        return bg_error_set(err, -EBADMSG, "/proc stat: bad start time field");
    memcpy(field, p, n);
    field[n] = '\0';
    if (bg_parse_u64(field, 0, UINT64_MAX, ret_start_time, err) < 0)
        return bg_error_set(err, -EBADMSG, "/proc stat: start time '%s' is not a number", field);
    *ret_state = state;
    return 0;
}

int bg_proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start_time, struct bg_error *err)
{
    char path[64], buf[STAT_MAX];
    bg_autoclose int fd = -1;

    if (pid <= 0)
        return bg_error_set(err, -ESRCH, "no process (pid %d)", (int)pid);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return bg_error_set(err, -ESRCH, "process %d does not exist", (int)pid);
    if (fd < 0)
        return bg_error_errno(err, "open %s", path);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0 && errno == ESRCH)
        return bg_error_set(err, -ESRCH, "process %d does not exist", (int)pid);
    if (n < 0)
        return bg_error_errno(err, "read %s", path);
    buf[n] = '\0';
    return bg_proc_stat_parse(buf, ret_state, ret_start_time, err);
}

int bg_proc_pidfd_open(pid_t pid, uint64_t start_time, int *ret_fd, struct bg_error *err)
{
    uint64_t now_start;
    char state;
    int r;

    if (pid <= 0)
        return bg_error_set(err, -ESRCH, "no process recorded");
    bg_autoclose int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 && errno == ESRCH)
        return bg_error_set(err, -ESRCH, "process %d is gone", (int)pid);
    if (fd < 0)
        return bg_error_errno(err, "pidfd_open %d", (int)pid);
    /* Checked after the pidfd exists: if the start time matches now, the pidfd names our
     * process, whatever happens to the pid number later. */
    if ((r = bg_proc_stat(pid, &state, &now_start, err)) < 0)
        return r;
    if (now_start != start_time)
        return bg_error_set(
            err, -ESRCH, "process %d is gone (the pid now belongs to another process)", (int)pid);
    if (state == 'Z' || state == 'X')
        return bg_error_set(err, -ESRCH, "process %d has exited", (int)pid);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

int bg_proc_pidfd_wait(int pidfd, int timeout_ms)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int64_t deadline = bg_now_ms() + timeout_ms;

    for (;;) {
        int64_t left = deadline - bg_now_ms();
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return 1;
        if (r == 0 || (r < 0 && errno != EINTR))
            return 0;
    }
}

int bg_proc_pidfd_signal(int pidfd, int sig, struct bg_error *err)
{
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
        if (errno == ESRCH)
            return bg_error_set(err, -ESRCH, "process has exited");
        return bg_error_errno(err, "signal %d", sig);
    }
    return 0;
}

static bool executable(const char *path)
{
    return access(path, X_OK) == 0;
}

int bg_proc_find_program(const char *name, char **ret, struct bg_error *err)
{
    static const char fallback[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    const char *env = getenv("PATH");

    if (strchr(name, '/')) {
        if (!executable(name))
            return bg_error_set(err, -ENOENT, "%s is not an executable file", name);
        *ret = bg_strdup(name);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        bg_autofree char *list = bg_strdup(pass == 0 ? (env ? env : "") : fallback);
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
    return bg_error_set(err, -ENOENT, "%s not found in PATH", name);
}

/* bg_proc_run's output buffer and deadline, fed by bg_spawn_run. */
struct capture {
    char *out;
    size_t len, used;
    int64_t deadline_ms;
    bool timed_out;
};

static int capture_chunk(void *userdata, const char *buf, size_t len, struct bg_error *err)
{
    struct capture *c = userdata;

    (void)err;
    if (!c->out || c->len == 0)
        return 0; /* not kept, but read: the program must not block on a full pipe */
    size_t room = c->len - 1 - c->used;
    size_t n = len < room ? len : room;
    memcpy(c->out + c->used, buf, n);
    c->used += n;
    c->out[c->used] = '\0';
    return 0;
}

static bool capture_expired(void *userdata)
{
    struct capture *c = userdata;

    if (bg_now_ms() >= c->deadline_ms)
        c->timed_out = true;
    return c->timed_out;
}

int bg_proc_run(const char *const *argv, int timeout_ms, char *out, size_t out_len,
                struct bg_error *err)
{
    struct capture c = {.out = out, .len = out_len, .deadline_ms = bg_now_ms() + timeout_ms};
    struct bg_spawn_opts o = {
        .argv = argv,
        .env = child_env,
        .own_pgroup = true, /* the kill reaches what it started, which may hold the pipes */
        .cancelled = capture_expired,
        .cancel_signal = SIGKILL,
        .out_fd = -1,
        .on_out = capture_chunk,
        .on_err = capture_chunk,
        .userdata = &c,
    };
    int status, r;

    if (out && out_len)
        out[0] = '\0';
    if ((r = bg_spawn_run(&o, &status, err)) < 0)
        return r;
    if (c.timed_out)
        return bg_error_set(err, -ETIMEDOUT, "run %s: killed after %d ms", argv[0], timeout_ms);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

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
    execve(argv[0], (char *const *)argv, child_env);
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

int bg_proc_spawn_detached(const char *const *argv, const char *log_path, pid_t *ret_pid,
                           struct bg_error *err)
{
    bg_autoclose int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
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
