/* SPDX-License-Identifier: MIT */
/* Exec sessions: fork/exec in a clean environment, with pipes or a PTY, in a process group; and
 * TCP channels: a non-blocking connection to a port on the guest's loopback. */
#include "session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "banger/agentproto.h"
#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

/* What the child reports through the exec-status pipe when it cannot run the command. */
struct child_failure {
    int stage; /* 0 chdir, 1 exec, 2 setup */
    int error; /* errno */
};

/* The fds the child gets as 0, 1, 2, and the parent's ends. -1 means none. */
struct stdio_fds {
    int child[3];
    int parent_in, parent_out, parent_err;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        (void)close(*fd);
    *fd = -1;
}

static void stdio_fds_done(struct stdio_fds *f)
{
    /* With a PTY the three child fds are one. */
    if (f->child[2] == f->child[0] || f->child[2] == f->child[1])
        f->child[2] = -1;
    if (f->child[1] == f->child[0])
        f->child[1] = -1;
    for (int i = 0; i < 3; i++)
        close_fd(&f->child[i]);
    close_fd(&f->parent_in);
    close_fd(&f->parent_out);
    close_fd(&f->parent_err);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* A pipe whose parent end is non-blocking; child_end says which end goes to the child. */
static int make_pipe(int *ret_child, int *ret_parent, bool child_reads, struct bg_error *err)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0)
        return bg_error_errno(err, "pipe");
    *ret_child = child_reads ? p[0] : p[1];
    *ret_parent = child_reads ? p[1] : p[0];
    if (set_nonblock(*ret_parent) < 0)
        return bg_error_errno(err, "pipe");
    return 0;
}

static int open_pipes(const struct bg_agentreq_exec *req, struct stdio_fds *f, struct bg_error *err)
{
    int r;

    if (req->attach_stdin) {
        if ((r = make_pipe(&f->child[0], &f->parent_in, true, err)) < 0)
            return r;
    } else if ((f->child[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        return bg_error_errno(err, "open /dev/null");
    }
    if ((r = make_pipe(&f->child[1], &f->parent_out, false, err)) < 0)
        return r;
    return make_pipe(&f->child[2], &f->parent_err, false, err);
}

static int open_pty(const struct bg_agentreq_exec *req, struct stdio_fds *f, struct bg_error *err)
{
    char name[64];
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (master < 0)
        return bg_error_errno(err, "open pty");
    f->parent_out = master;
    if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)))
        return bg_error_errno(err, "set up pty");
    if ((f->child[0] = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        return bg_error_errno(err, "open %s", name);
    f->child[1] = f->child[2] = f->child[0];
    if (req->rows && req->cols) {
        struct winsize ws = {.ws_row = req->rows, .ws_col = req->cols};
        (void)ioctl(master, TIOCSWINSZ, &ws);
    }
    if (set_nonblock(master) < 0)
        return bg_error_errno(err, "set up pty");
    return 0;
}

/* The environment: defaults, then the request's variables (which win). */
static char **build_env(const struct bg_agentreq_exec *req)
{
    const char *term = NULL;
    size_t n = 0;

    for (size_t i = 0; i < req->envc; i++)
        if (!strncmp(req->env[i], "TERM=", 5))
            term = req->env[i];
    char **env = bg_calloc(req->envc + 4, sizeof(char *));
    env[n++] = bg_strdup("PATH=" DEFAULT_PATH);
    env[n++] = bg_strdup("HOME=/root");
    if (req->tty && !term)
        env[n++] = bg_strdup("TERM=xterm");
    for (size_t i = 0; i < req->envc; i++) {
        size_t name_len = (size_t)(strchr(req->env[i], '=') - req->env[i]) + 1;
        size_t j = 0;
        while (j < n && strncmp(env[j], req->env[i], name_len))
            j++;
        if (j < n)
            free(env[j]);
        else
            n++;
        env[j] = bg_strdup(req->env[i]);
    }
    return env;
}

/* In the child: never returns. Reports a failure through status_fd, then exits 127. */
static void child_run(const struct bg_agentreq_exec *req, const char *cwd, struct stdio_fds *f,
                      char **env, int status_fd)
{
    struct child_failure fail = {.stage = 2};
    sigset_t none;

    /* The agent blocks SIGCHLD and ignores SIGPIPE; both survive exec, so undo them. */
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)signal(SIGPIPE, SIG_DFL);
    if (req->tty) {
        if (setsid() < 0 || ioctl(f->child[0], TIOCSCTTY, 0) < 0)
            goto fail;
    } else if (setpgid(0, 0) < 0) {
        goto fail;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(f->child[i], i) < 0)
            goto fail;
    fail.stage = 0;
    if (chdir(cwd) < 0)
        goto fail;
    fail.stage = 1;
    environ = env;
    execvp(req->argv[0], req->argv);
fail:
    fail.error = errno;
    (void)!write(status_fd, &fail, sizeof(fail));
    _exit(127);
}

/* Wait for the child's exec: 0 when it ran, or the failure it reported. */
static int await_exec(pid_t pid, int status_fd, const struct bg_agentreq_exec *req, const char *cwd,
                      struct bg_error *err)
{
    struct child_failure fail;
    ssize_t n;

    do
        n = read(status_fd, &fail, sizeof(fail));
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(fail))
        return bg_error_set(err, -EIO, "exec '%s': the child failed before exec",
                            BG_QUOTE(req->argv[0]));
    if (fail.stage == 0)
        return bg_error_set(err, -fail.error, "chdir '%s': %s", BG_QUOTE(cwd),
                            strerror(fail.error));
    if (fail.stage == 1)
        return bg_error_set(err, -fail.error, "exec '%s': %s", BG_QUOTE(req->argv[0]),
                            strerror(fail.error));
    return bg_error_set(err, -fail.error, "set up '%s': %s", BG_QUOTE(req->argv[0]),
                        strerror(fail.error));
}

static pid_t spawn(const struct bg_agentreq_exec *req, const char *cwd, struct stdio_fds *f,
                   struct bg_error *err)
{
    bg_autoclose int status_rd = -1;
    bg_autoclose int status_wr = -1;
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0)
        return bg_error_errno(err, "pipe");
    status_rd = p[0];
    status_wr = p[1];
    char **env = build_env(req);
    pid_t pid = fork();
    if (pid == 0)
        child_run(req, cwd, f, env, status_wr);
    bg_strv_free(env);
    if (pid < 0)
        return bg_error_errno(err, "fork");
    /* Also in the parent, so a signal sent before the child ran setpgid finds the group. */
    if (!req->tty)
        (void)setpgid(pid, pid);
    (void)close(bg_steal_fd(&status_wr));
    int r = await_exec(pid, status_rd, req, cwd, err);
    return r < 0 ? r : pid;
}

int bg_session_start(uint32_t channel, const struct bg_agentreq_exec *req, const char *default_cwd,
                     struct bg_session **ret, struct bg_error *err)
{
    struct stdio_fds f = {{-1, -1, -1}, -1, -1, -1};
    const char *cwd = req->cwd ? req->cwd : default_cwd;
    int r = req->tty ? open_pty(req, &f, err) : open_pipes(req, &f, err);

    if (r < 0) {
        stdio_fds_done(&f);
        return r;
    }
    pid_t pid = spawn(req, cwd, &f, err);
    if (pid < 0) {
        stdio_fds_done(&f);
        return (int)pid;
    }
    struct bg_session *s = bg_calloc(1, sizeof(*s));
    *s = (struct bg_session){
        .channel = channel,
        .pid = pid,
        .tty = req->tty,
        .in_fd = req->tty ? f.parent_out : f.parent_in,
        .out_fd = f.parent_out,
        .err_fd = req->tty ? -1 : f.parent_err,
        .in_buf = bg_malloc(BG_AGENT_WINDOW_INITIAL),
        .in_credit = BG_AGENT_WINDOW_INITIAL,
        .out_credit = {BG_AGENT_WINDOW_INITIAL, BG_AGENT_WINDOW_INITIAL},
    };
    if (!req->tty && !req->attach_stdin)
        s->in_fd = -1;
    f.parent_in = f.parent_out = f.parent_err = -1; /* now the session's */
    stdio_fds_done(&f);
    *ret = s;
    return 0;
}

/* The session of a TCP channel on sock (taken). */
static struct bg_session *tcp_session(uint32_t channel, uint16_t port, int sock, bool connecting)
{
    struct bg_session *s = bg_calloc(1, sizeof(*s));
    int dup_fd = fcntl(sock, F_DUPFD_CLOEXEC, 0);

    /* Reading and writing end apart (half-close): stdout ends on the dup, stdin by shutting
     * the socket down for writing; the socket closes with the last of the two. */
    *s = (struct bg_session){
        .channel = channel,
        .tcp = true,
        .in_fd = sock,
        .out_fd = dup_fd,
        .err_fd = -1,
        .in_buf = bg_malloc(BG_AGENT_WINDOW_INITIAL),
        .in_credit = BG_AGENT_WINDOW_INITIAL,
        .out_credit = {BG_AGENT_WINDOW_INITIAL, 0},
        .connecting = connecting,
        .connect_deadline = bg_now_ms() + BG_SESSION_CONNECT_TIMEOUT_MS,
        .port = port,
    };
    return s;
}

int bg_session_connect(uint32_t channel, uint16_t port, struct bg_session **ret,
                       struct bg_error *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    bg_autoclose int sock = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    bool connecting = false;

    if (sock < 0)
        return bg_error_errno(err, "connect 127.0.0.1:%u: socket", port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EINPROGRESS)
            return bg_error_errno(err, "connect 127.0.0.1:%u", port);
        connecting = true;
    }
    struct bg_session *s = tcp_session(channel, port, sock, connecting);
    if (s->out_fd < 0) {
        int r = bg_error_errno(err, "connect 127.0.0.1:%u: dup", port);
        s->in_fd = -1; /* still sock's, closed on return */
        bg_session_free(s);
        return r;
    }
    (void)bg_steal_fd(&sock);
    *ret = s;
    return 0;
}

int bg_session_connect_finish(struct bg_session *s, struct bg_error *err)
{
    int e = 0;
    socklen_t len = sizeof(e);

    if (getsockopt(s->in_fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return bg_error_errno(err, "connect 127.0.0.1:%u", s->port);
    if (e)
        return bg_error_set(err, -e, "connect 127.0.0.1:%u: %s", s->port, strerror(e));
    s->connecting = false;
    return 0;
}

void bg_session_signal(struct bg_session *s, int signo)
{
    if (s->pid > 0)
        (void)kill(-s->pid, signo);
}

void bg_session_resize(struct bg_session *s, uint16_t rows, uint16_t cols)
{
    struct winsize ws = {.ws_row = rows, .ws_col = cols};

    if (s->tty && s->out_fd >= 0)
        (void)ioctl(s->out_fd, TIOCSWINSZ, &ws);
}

void bg_session_close_stdin(struct bg_session *s)
{
    if (s->in_fd < 0)
        return;
    if (s->tcp) {
        (void)shutdown(s->in_fd, SHUT_WR);
        (void)close(s->in_fd);
    } else if (s->tty) {
        /* Closing the master would hang up the terminal: type EOF instead, as a user would. */
        struct termios t;
        char eof = tcgetattr(s->in_fd, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
        (void)!write(s->in_fd, &eof, 1);
    } else {
        (void)close(s->in_fd);
    }
    s->in_fd = -1;
}

void bg_session_close_fds(struct bg_session *s)
{
    if (!s->tty && s->in_fd >= 0)
        (void)close(s->in_fd);
    if (s->out_fd >= 0)
        (void)close(s->out_fd);
    if (s->err_fd >= 0)
        (void)close(s->err_fd);
    s->in_fd = s->out_fd = s->err_fd = -1;
}

bool bg_session_done(const struct bg_session *s)
{
    if (s->tcp)
        return s->in_fd < 0 && s->out_fd < 0;
    return s->pid == 0 && s->out_fd < 0 && s->err_fd < 0;
}

void bg_session_free(struct bg_session *s)
{
    if (!s)
        return;
    bg_session_signal(s, SIGKILL);
    bg_session_close_fds(s);
    free(s->in_buf);
    free(s);
}
