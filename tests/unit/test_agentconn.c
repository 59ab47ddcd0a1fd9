/* SPDX-License-Identifier: MIT */
/* Tests for server/guest/agentconn.c against the real banger-agent in --serve-unix mode. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/agentproto.h"
#include "banger/agentreq.h"
#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"
#include "guest/agentconn.h"

#define BIG_SIZE (10 * 1024 * 1024)
#define DEADLINE_MS 20000

/* A running agent: its pid and socket. */
struct agent {
    pid_t pid;
    char dir[64];
    char sock[128];
};

static struct agent shared_agent;

static int agent_start(struct agent *a)
{
    const char *bin = getenv("BANGER_AGENT");

    if (!bin) {
        fprintf(stderr, "BANGER_AGENT is not set (the path of banger-agent)\n");
        return -1;
    }
    snprintf(a->dir, sizeof(a->dir), "/tmp/banger-agent-test.XXXXXX");
    if (!mkdtemp(a->dir))
        return -1;
    snprintf(a->sock, sizeof(a->sock), "%s/agent.sock", a->dir);
    a->pid = fork();
    if (a->pid == 0) {
        execl(bin, bin, "--serve-unix", a->sock, (char *)NULL);
        _exit(127);
    }
    return a->pid > 0 ? 0 : -1;
}

static void agent_stop(struct agent *a)
{
    if (a->pid > 0) {
        (void)kill(a->pid, SIGKILL);
        (void)waitpid(a->pid, NULL, 0);
        a->pid = 0;
    }
    (void)unlink(a->sock);
    (void)rmdir(a->dir);
}

/* Connect to the agent's socket, retrying while it starts, and speak HELLO. */
static struct bg_agent_conn *agent_connect(const struct agent *a)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int64_t deadline = bg_now_ms() + DEADLINE_MS;
    struct bg_agent_conn *c = NULL;
    struct bg_error err;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->sock);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            if (bg_agent_conn_open(fd, deadline, &c, &err) < 0)
                fail_msg("open: %s", err.msg);
            return c;
        }
        (void)close(fd);
        if (bg_now_ms() >= deadline)
            fail_msg("connect %s: %s", a->sock, strerror(errno));
        (void)usleep(10000);
    }
}

static int group_setup(void **state)
{
    (void)state;
    (void)signal(SIGPIPE, SIG_IGN);
    return agent_start(&shared_agent);
}

static int group_teardown(void **state)
{
    (void)state;
    agent_stop(&shared_agent);
    return 0;
}

static int setup(void **state)
{
    *state = agent_connect(&shared_agent);
    return 0;
}

static int teardown(void **state)
{
    bg_agent_conn_free(*state);
    return 0;
}

/* What a finished command left. */
struct result {
    char *out, *err;
    size_t out_len, err_len;
    int exit_code, signo;
};

static void result_done(struct result *r)
{
    free(r->out);
    free(r->err);
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    *buf = bg_realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Read s to the end, then wait for its exit. */
static void collect(struct bg_agent_session *s, struct result *r)
{
    char buf[4096];
    struct bg_error err;
    int stream;
    ssize_t n;

    *r = (struct result){.out = bg_strdup(""), .err = bg_strdup("")};
    while ((n = bg_agent_session_read(s, &stream, buf, sizeof(buf), bg_now_ms() + DEADLINE_MS,
                                      &err)) > 0) {
        if (stream == 2)
            append(&r->err, &r->err_len, buf, (size_t)n);
        else
            append(&r->out, &r->out_len, buf, (size_t)n);
    }
    if (n < 0)
        fail_msg("read: %s", err.msg);
    if (bg_agent_session_wait(s, bg_now_ms() + DEADLINE_MS, &r->exit_code, &r->signo, &err) < 0)
        fail_msg("wait: %s", err.msg);
}

static struct bg_agent_session *start(struct bg_agent_conn *c,
                                      const struct bg_agent_exec_spec *spec)
{
    struct bg_agent_session *s = NULL;
    struct bg_error err;

    if (bg_agent_exec(c, spec, &s, &err) < 0)
        fail_msg("exec %s: %s", spec->argv[0], err.msg);
    assert_true(bg_agent_session_pid(s) > 0);
    return s;
}

static void run(struct bg_agent_conn *c, const char *const *argv, struct result *r)
{
    struct bg_agent_exec_spec spec = {.argv = argv};
    struct bg_agent_session *s = start(c, &spec);

    collect(s, r);
    bg_agent_session_free(s);
}

static void test_echo(void **state)
{
    const char *const argv[] = {"echo", "hello", NULL};
    struct result r;

    run(*state, argv, &r);
    assert_string_equal(r.out, "hello\n");
    assert_string_equal(r.err, "");
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.signo, 0);
    result_done(&r);
}

static void test_exit_code(void **state)
{
    const char *const argv[] = {"sh", "-c", "exit 7", NULL};
    struct result r;

    run(*state, argv, &r);
    assert_int_equal(r.exit_code, 7);
    assert_int_equal(r.signo, 0);
    result_done(&r);
}

static void test_stderr_separate(void **state)
{
    const char *const argv[] = {"sh", "-c", "echo out; echo err >&2; echo more", NULL};
    struct result r;

    run(*state, argv, &r);
    assert_string_equal(r.out, "out\nmore\n");
    assert_string_equal(r.err, "err\n");
    result_done(&r);
}

static void test_env_cwd(void **state)
{
    const char *const argv[] = {"sh", "-c", "pwd; echo \"$FOO|$HOME|$PATH|$TERM\"", NULL};
    const char *const env[] = {"FOO=bar baz", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .env = env, .cwd = "/tmp"};
    struct bg_agent_session *s = start(*state, &spec);
    struct result r;

    collect(s, &r);
    assert_string_equal(r.out, "/tmp\nbar baz|/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                               "/usr/bin:/sbin:/bin|\n");
    bg_agent_session_free(s);
    result_done(&r);
}

static void test_killed_by_signal(void **state)
{
    const char *const argv[] = {"sh", "-c", "kill -TERM $$", NULL};
    struct result r;

    run(*state, argv, &r);
    assert_int_equal(r.signo, SIGTERM);
    assert_int_equal(r.exit_code, -1);
    result_done(&r);
}

static void test_signal_forwarded(void **state)
{
    const char *const argv[] = {"sleep", "1000", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv};
    struct bg_agent_session *s = start(*state, &spec);
    struct bg_error err;
    struct result r;

    assert_int_equal(bg_agent_session_signal(s, SIGINT, &err), 0);
    collect(s, &r);
    assert_int_equal(r.signo, SIGINT);
    assert_int_equal(bg_agent_session_signal(s, 0, &err), -EINVAL);
    assert_int_equal(bg_agent_session_signal(s, SIGKILL, &err), 0); /* ended: a no-op */
    bg_agent_session_free(s);
    result_done(&r);
}

static void test_stdin_cat(void **state)
{
    const char *const argv[] = {"cat", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .stdin = true};
    struct bg_agent_session *s = start(*state, &spec);
    struct bg_error err;
    struct result r;

    assert_int_equal(bg_agent_session_write(s, "one\n", 4, &err), 0);
    assert_int_equal(bg_agent_session_write(s, "two\n", 4, &err), 0);
    assert_int_equal(bg_agent_session_close_stdin(s, &err), 0);
    assert_int_equal(bg_agent_session_close_stdin(s, &err), 0); /* idempotent */
    assert_int_equal(bg_agent_session_write(s, "x", 1, &err), -EPIPE);
    collect(s, &r);
    assert_string_equal(r.out, "one\ntwo\n");
    assert_int_equal(r.exit_code, 0);
    bg_agent_session_free(s);
    result_done(&r);
}

static void test_stdin_not_attached(void **state)
{
    const char *const argv[] = {"cat", NULL};
    struct result r;

    run(*state, argv, &r); /* reads /dev/null: ends at once */
    assert_string_equal(r.out, "");
    assert_int_equal(r.exit_code, 0);
    result_done(&r);
}

/* Deterministic bytes for the big transfers, and an FNV-1a hash to compare them. */
static void fill(uint64_t *seed, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        buf[i] = (uint8_t)*seed;
    }
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

struct writer {
    struct bg_agent_session *s;
    uint64_t hash;
    int result;
};

static void *write_big(void *arg)
{
    struct writer *w = arg;
    static uint8_t buf[100000]; /* not a multiple of the frame size, on purpose */
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct bg_error err;
    size_t left = BIG_SIZE;

    w->hash = 0xcbf29ce484222325ull;
    while (left > 0 && w->result == 0) {
        size_t n = left < sizeof(buf) ? left : sizeof(buf);
        fill(&seed, buf, n);
        w->hash = fnv1a(w->hash, buf, n);
        w->result = bg_agent_session_write(w->s, buf, n, &err);
        left -= n;
    }
    if (w->result == 0)
        w->result = bg_agent_session_close_stdin(w->s, &err);
    return NULL;
}

/* Read everything; returns the byte count and hashes it. Checks the window bound as it goes. */
static size_t read_all_hashed(struct bg_agent_session *s, uint64_t *ret_hash)
{
    static uint8_t buf[65536];
    uint64_t h = 0xcbf29ce484222325ull;
    struct bg_error err;
    size_t total = 0;
    int stream;
    ssize_t n;

    while ((n = bg_agent_session_read(s, &stream, buf, sizeof(buf), bg_now_ms() + DEADLINE_MS,
                                      &err)) > 0) {
        assert_int_equal(stream, 1);
        assert_true(bg_agent_session_buffered(s) <= BG_AGENT_WINDOW_INITIAL);
        h = fnv1a(h, buf, (size_t)n);
        total += (size_t)n;
    }
    if (n < 0)
        fail_msg("read: %s", err.msg);
    *ret_hash = h;
    return total;
}

/* 10 MiB through cat: stdin credit and output credit both have to work, byte-exact. */
static void test_big_round_trip(void **state)
{
    const char *const argv[] = {"cat", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .stdin = true};
    struct bg_agent_session *s = start(*state, &spec);
    struct writer w = {.s = s};
    struct bg_error err;
    pthread_t t;
    uint64_t hash;
    int code, sig;

    int64_t t0 = bg_now_ms();
    assert_int_equal(pthread_create(&t, NULL, write_big, &w), 0);
    size_t total = read_all_hashed(s, &hash);
    pthread_join(t, NULL);
    int64_t ms = bg_now_ms() - t0;
    assert_int_equal(w.result, 0);
    assert_int_equal(total, BIG_SIZE);
    assert_true(hash == w.hash);
    assert_int_equal(bg_agent_session_wait(s, bg_now_ms() + DEADLINE_MS, &code, &sig, &err), 0);
    assert_int_equal(code, 0);
    print_message("10 MiB through cat (stdin + stdout) in %lld ms: %.1f MiB/s\n", (long long)ms,
                  ms ? 10.0 * 1000.0 / (double)ms : 0.0);
    bg_agent_session_free(s);
}

/* A reader that stops reading: the agent sends exactly the window, then waits. */
static void test_flow_control_window(void **state)
{
    const char *const argv[] = {"head", "-c", "10485760", "/dev/zero", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv};
    struct bg_agent_session *s = start(*state, &spec);
    int64_t deadline = bg_now_ms() + DEADLINE_MS;
    struct bg_error err;
    uint64_t hash;
    int code, sig;

    /* wait (on the session's condition, not a sleep) until the window is full */
    while (bg_agent_session_buffered(s) < BG_AGENT_WINDOW_INITIAL && bg_now_ms() < deadline)
        (void)bg_agent_session_wait(s, bg_now_ms() + 20, &code, &sig, &err);
    assert_int_equal(bg_agent_session_buffered(s), BG_AGENT_WINDOW_INITIAL);
    /* more time passes; the agent has no credit, so nothing more may arrive */
    assert_int_equal(bg_agent_session_wait(s, bg_now_ms() + 200, &code, &sig, &err), -ETIMEDOUT);
    assert_int_equal(bg_agent_session_buffered(s), BG_AGENT_WINDOW_INITIAL);
    assert_false(bg_agent_conn_dead(*state));

    int64_t t0 = bg_now_ms();
    size_t total = read_all_hashed(s, &hash);
    int64_t ms = bg_now_ms() - t0;
    assert_int_equal(total, BIG_SIZE);
    assert_int_equal(bg_agent_session_wait(s, bg_now_ms() + DEADLINE_MS, &code, &sig, &err), 0);
    assert_int_equal(code, 0);
    print_message("10 MiB of output in %lld ms: %.1f MiB/s\n", (long long)ms,
                  ms ? 10.0 * 1000.0 / (double)ms : 0.0);
    bg_agent_session_free(s);
}

/* Read a PTY session until its output contains want. */
static void read_until(struct bg_agent_session *s, struct result *r, const char *want)
{
    char buf[256];
    struct bg_error err;
    int stream;

    while (!strstr(r->out, want)) {
        ssize_t n =
            bg_agent_session_read(s, &stream, buf, sizeof(buf), bg_now_ms() + DEADLINE_MS, &err);
        if (n <= 0)
            fail_msg("waiting for '%s', got '%s': %s", want, r->out, n ? err.msg : "EOF");
        assert_int_equal(stream, 1);
        append(&r->out, &r->out_len, buf, (size_t)n);
    }
}

static void test_pty(void **state)
{
    const char *const argv[] = {"tty", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .tty = true, .rows = 24, .cols = 80};
    struct bg_agent_session *s = start(*state, &spec);
    struct result r;

    collect(s, &r);
    assert_int_equal(r.exit_code, 0);
    assert_true(!strncmp(r.out, "/dev/pts/", 9));
    assert_non_null(strstr(r.out, "\r\n")); /* the terminal's ONLCR */
    assert_string_equal(r.err, "");
    bg_agent_session_free(s);
    result_done(&r);
}

static void test_pty_resize(void **state)
{
    const char *const argv[] = {"sh", "-c", "stty size; read x; stty size; echo \"$TERM\"", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .tty = true, .rows = 24, .cols = 80};
    struct bg_agent_session *s = start(*state, &spec);
    struct result r = {.out = bg_strdup("")};
    struct bg_error err;
    int code, sig;

    read_until(s, &r, "24 80");
    assert_int_equal(bg_agent_session_resize(s, 50, 132, &err), 0);
    assert_int_equal(bg_agent_session_write(s, "go\n", 3, &err), 0);
    read_until(s, &r, "50 132");
    read_until(s, &r, "xterm");
    assert_int_equal(bg_agent_session_wait(s, bg_now_ms() + DEADLINE_MS, &code, &sig, &err), 0);
    assert_int_equal(code, 0);
    bg_agent_session_free(s);
    result_done(&r);
}

static void test_exec_failures(void **state)
{
    const char *const missing[] = {"nosuch-banger-command", NULL};
    const char *const ls[] = {"ls", NULL};
    const char *const bad_env[] = {"1BAD=x", NULL};
    struct bg_agent_exec_spec spec = {.argv = missing};
    struct bg_agent_session *s = NULL;
    struct bg_error err;

    assert_int_equal(bg_agent_exec(*state, &spec, &s, &err), BG_ERR(BG_PROBLEM_EXEC_FAILED));
    assert_string_equal(err.msg, "exec 'nosuch-banger-command': No such file or directory");
    assert_null(s);
    spec = (struct bg_agent_exec_spec){.argv = ls, .cwd = "/nonexistent-banger-dir"};
    assert_int_equal(bg_agent_exec(*state, &spec, &s, &err), BG_ERR(BG_PROBLEM_EXEC_FAILED));
    assert_non_null(strstr(err.msg, "chdir '/nonexistent-banger-dir'"));
    spec = (struct bg_agent_exec_spec){.argv = ls, .env = bad_env};
    assert_int_equal(bg_agent_exec(*state, &spec, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a variable name"));
    spec = (struct bg_agent_exec_spec){.argv = ls, .cwd = "relative"};
    assert_int_equal(bg_agent_exec(*state, &spec, &s, &err), -EINVAL);

    /* the connection still works */
    struct result r;
    const char *const echo[] = {"echo", "still", NULL};
    run(*state, echo, &r);
    assert_string_equal(r.out, "still\n");
    result_done(&r);
}

static void test_free_kills(void **state)
{
    const char *const argv[] = {"sleep", "1000", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv};
    struct bg_agent_session *s = start(*state, &spec);
    pid_t pid = bg_agent_session_pid(s);
    int64_t deadline = bg_now_ms() + DEADLINE_MS;

    assert_int_equal(kill(pid, 0), 0);
    bg_agent_session_free(s);
    while (kill(pid, 0) == 0 && bg_now_ms() < deadline)
        (void)usleep(5000);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void test_many_sessions(void **state)
{
    const char *const argv[] = {"sh", "-c", "read x; echo \"got $x\"", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .stdin = true};
    struct bg_agent_session *s[8];
    struct bg_error err;

    for (size_t i = 0; i < 8; i++)
        s[i] = start(*state, &spec);
    for (size_t i = 8; i-- > 0;) {
        char line[16];
        struct result r;
        int n = snprintf(line, sizeof(line), "%zu\n", i);
        assert_int_equal(bg_agent_session_write(s[i], line, (size_t)n, &err), 0);
        collect(s[i], &r);
        char want[32];
        snprintf(want, sizeof(want), "got %zu\n", i);
        assert_string_equal(r.out, want);
        bg_agent_session_free(s[i]);
        result_done(&r);
    }
}

struct blocked_read {
    struct bg_agent_session *s;
    ssize_t result;
    struct bg_error err;
};

static void *read_blocked(void *arg)
{
    struct blocked_read *b = arg;
    char buf[64];
    int stream;

    b->result = bg_agent_session_read(b->s, &stream, buf, sizeof(buf), 0, &b->err);
    return NULL;
}

static void test_agent_killed(void **state)
{
    (void)state;
    const char *const argv[] = {"sleep", "1000", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv};
    struct agent a = {0};
    struct bg_error err;
    pthread_t t;

    assert_int_equal(agent_start(&a), 0);
    struct bg_agent_conn *c = agent_connect(&a);
    struct bg_agent_session *s = start(c, &spec);
    pid_t child = bg_agent_session_pid(s);
    struct blocked_read b = {.s = s};
    assert_int_equal(pthread_create(&t, NULL, read_blocked, &b), 0);
    (void)kill(a.pid, SIGKILL);
    pthread_join(t, NULL);
    assert_int_equal(b.result, -ECONNRESET);
    assert_non_null(strstr(b.err.msg, "agent connection lost"));
    assert_true(bg_agent_conn_dead(c));
    assert_int_equal(bg_agent_session_write(s, "x", 1, &err), -ECONNRESET);
    int code, sig;
    assert_int_equal(bg_agent_session_wait(s, 0, &code, &sig, &err), -ECONNRESET);
    struct bg_agent_session *s2 = NULL;
    assert_int_equal(bg_agent_exec(c, &spec, &s2, &err), -ECONNRESET);
    bg_agent_session_free(s);
    bg_agent_conn_free(c);
    (void)kill(-child, SIGKILL); /* the agent died without killing its session */
    agent_stop(&a);
}

static void test_poweroff_ends_test_double(void **state)
{
    (void)state;
    struct agent a = {0};
    struct bg_error err;
    int st = 0;

    assert_int_equal(agent_start(&a), 0);
    struct bg_agent_conn *c = agent_connect(&a);
    assert_int_equal(bg_agent_conn_poweroff(c, false, &err), 0);
    assert_int_equal(waitpid(a.pid, &st, 0), a.pid);
    a.pid = 0;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    bg_agent_conn_free(c);
    agent_stop(&a);
}

/* A hand-written agent on a socketpair, for what the real one never does. */
struct fake {
    int fd;
    const char *hello; /* the HELLO payload it answers with */
    size_t flood;      /* stdout bytes it sends after STARTED, ignoring credit */
    const char *error; /* when set, the ERROR payload it answers EXEC with, not STARTED */
};

static void fake_send(int fd, uint8_t type, uint8_t flags, uint32_t ch, const void *p, size_t n)
{
    uint8_t hdr[BG_AGENT_HEADER_SIZE];
    struct bg_agent_header h = {.type = type, .flags = flags, .channel = ch, .length = (uint32_t)n};

    bg_agent_header_encode(&h, hdr);
    if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) || (n && write(fd, p, n) != (ssize_t)n))
        return;
}

/* Read one frame; returns its header (type 0 on EOF). */
static uint8_t fake_payload[BG_AGENT_PAYLOAD_MAX + 1];

static struct bg_agent_header fake_recv(int fd)
{
    uint8_t hdr[BG_AGENT_HEADER_SIZE];
    uint8_t *payload = fake_payload;
    struct bg_agent_header h = {0};

    if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr) ||
        bg_agent_header_decode(hdr, &h, NULL) < 0 ||
        (h.length && recv(fd, payload, h.length, MSG_WAITALL) != (ssize_t)h.length))
        return (struct bg_agent_header){0};
    payload[h.length] = '\0';
    return h;
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    static uint8_t zeros[BG_AGENT_PAYLOAD_MAX];

    if (fake_recv(f->fd).type != BG_AGENT_HELLO)
        return NULL;
    fake_send(f->fd, BG_AGENT_HELLO, 0, 0, f->hello, strlen(f->hello));
    struct bg_agent_header exec = fake_recv(f->fd);
    if (exec.type != BG_AGENT_EXEC)
        return NULL;
    if (f->error)
        fake_send(f->fd, BG_AGENT_ERROR, 0, exec.channel, f->error, strlen(f->error));
    else
        fake_send(f->fd, BG_AGENT_STARTED, 0, exec.channel, "{\"pid\":4242}", 12);
    for (size_t left = f->flood; left > 0;) {
        size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
        fake_send(f->fd, BG_AGENT_DATA, BG_AGENT_F_STDOUT, exec.channel, zeros, n);
        left -= n;
    }
    while (fake_recv(f->fd).type != 0)
        ;
    return NULL;
}

static void test_fake_bad_hello(void **state)
{
    (void)state;
    const char *hellos[] = {"{\"version\":1,\"caps\":[\"pty\"]}", "{\"version\":\"one\"}", "[]"};

    for (size_t i = 0; i < sizeof(hellos) / sizeof(hellos[0]); i++) {
        int sv[2];
        struct fake f = {.hello = hellos[i]};
        struct bg_agent_conn *c = NULL;
        struct bg_error err;
        pthread_t t;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        f.fd = sv[1];
        assert_int_equal(pthread_create(&t, NULL, fake_main, &f), 0);
        assert_int_equal(bg_agent_conn_open(sv[0], bg_now_ms() + DEADLINE_MS, &c, &err), -EPROTO);
        pthread_join(t, NULL);
        (void)close(sv[1]);
    }
}

static void test_fake_hello_timeout(void **state)
{
    (void)state;
    struct bg_agent_conn *c = NULL;
    struct bg_error err;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(bg_agent_conn_open(sv[0], bg_now_ms() + 100, &c, &err), -ETIMEDOUT);
    (void)close(sv[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    (void)close(sv[1]);
    assert_int_equal(bg_agent_conn_open(sv[0], bg_now_ms() + DEADLINE_MS, &c, &err), -ECONNRESET);
}

/* An agent that sends more than the window kills the connection instead of the memory. */
static void test_fake_over_credit(void **state)
{
    (void)state;
    const char *const argv[] = {"x", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv};
    struct fake f = {.hello = "{\"version\":1,\"caps\":[\"exec\"]}",
                     .flood = BG_AGENT_WINDOW_INITIAL + 1};
    struct bg_agent_conn *c = NULL;
    struct bg_agent_session *s = NULL;
    struct bg_error err;
    pthread_t t;
    int sv[2];
    int code, sig;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    f.fd = sv[1];
    assert_int_equal(pthread_create(&t, NULL, fake_main, &f), 0);
    assert_int_equal(bg_agent_conn_open(sv[0], bg_now_ms() + DEADLINE_MS, &c, &err), 0);
    assert_int_equal(bg_agent_exec(c, &spec, &s, &err), 0);
    assert_int_equal(bg_agent_session_pid(s), 4242);
    assert_int_equal(bg_agent_session_wait(s, bg_now_ms() + DEADLINE_MS, &code, &sig, &err),
                     -ECONNRESET);
    assert_non_null(strstr(err.msg, "over the granted credit"));
    assert_true(bg_agent_session_buffered(s) <= BG_AGENT_WINDOW_INITIAL);
    bg_agent_session_free(s);
    bg_agent_conn_free(c);
    (void)shutdown(sv[1], SHUT_RDWR);
    pthread_join(t, NULL);
    (void)close(sv[1]);
}

/* A fake agent on a socketpair with HELLO done: *ret_conn is the daemon's end. */
static void fake_open(struct fake *f, pthread_t *t, int sv[2], struct bg_agent_conn **ret_conn)
{
    struct bg_error err;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    f->fd = sv[1];
    if (!f->hello)
        f->hello = "{\"version\":1,\"caps\":[\"exec\"]}";
    assert_int_equal(pthread_create(t, NULL, fake_main, f), 0);
    if (bg_agent_conn_open(sv[0], bg_now_ms() + DEADLINE_MS, ret_conn, &err) < 0)
        fail_msg("open: %s", err.msg);
}

static void fake_close(pthread_t t, int sv[2], struct bg_agent_conn *c)
{
    bg_agent_conn_free(c);
    (void)shutdown(sv[1], SHUT_RDWR);
    pthread_join(t, NULL);
    (void)close(sv[1]);
}

/* The agent's refusal, as long as it may be and cut by the daemon to its message buffer, is
 * cut on a character boundary: no half character (which would become '?') at the end. */
static void test_fake_error_cut_on_boundary(void **state)
{
    (void)state;
    const char *const argv[] = {"x", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv};
    char payload[16 + 2 * 500 + 4] = "{\"message\":\"";
    struct fake f = {.error = payload};
    struct bg_agent_conn *c = NULL;
    struct bg_agent_session *s = NULL;
    struct bg_error err;
    pthread_t t;
    int sv[2];

    for (int i = 0; i < 500; i++)
        strcat(payload, "\xc3\xa9"); /* 1000 bytes: within the agent's 1024, over our 512 */
    strcat(payload, "\"}");
    fake_open(&f, &t, sv, &c);
    assert_int_equal(bg_agent_exec(c, &spec, &s, &err), BG_ERR(BG_PROBLEM_EXEC_FAILED));
    assert_int_equal(err.code, BG_ERR(BG_PROBLEM_EXEC_FAILED));
    assert_true(bg_utf8_valid(err.msg, strlen(err.msg)));
    assert_int_equal(strlen(err.msg) % 2, 0);
    assert_null(strchr(err.msg, '?'));
    assert_true(strlen(err.msg) >= BG_ERROR_MSG_MAX - 2);
    fake_close(t, sv, c);
}

/* An agent that never grants stdin credit: the write gives up after the stall deadline with
 * -ETIMEDOUT and says why; the connection itself stays up. */
static void test_fake_stdin_stall(void **state)
{
    (void)state;
    const char *const argv[] = {"x", NULL};
    struct bg_agent_exec_spec spec = {.argv = argv, .stdin = true};
    struct fake f = {0};
    struct bg_agent_conn *c = NULL;
    struct bg_agent_session *s = NULL;
    static uint8_t big[BG_AGENT_WINDOW_INITIAL + 1];
    struct bg_error err;
    pthread_t t;
    int sv[2];

    fake_open(&f, &t, sv, &c);
    assert_int_equal(bg_agent_exec(c, &spec, &s, &err), 0);
    bg_agent_conn_write_stall_ms = 200;
    int64_t t0 = bg_now_ms();
    assert_int_equal(bg_agent_session_write(s, big, sizeof(big), &err), -ETIMEDOUT);
    assert_int_equal(err.code, -ETIMEDOUT);
    assert_non_null(strstr(err.msg, "granted no credit in 200 ms"));
    assert_true(bg_now_ms() - t0 >= 200);
    bg_agent_conn_write_stall_ms = 30000;
    /* the window is used up: a bounded write of more sends nothing and says so */
    assert_int_equal(bg_agent_session_write_some(s, big, 1, bg_now_ms() + 50, &err), -ETIMEDOUT);
    assert_non_null(strstr(err.msg, "no credit before the deadline"));
    assert_int_equal(bg_agent_session_write_some(s, big, 0, 0, &err), 0);
    assert_false(bg_agent_conn_dead(c));
    bg_agent_session_free(s);
    fake_close(t, sv, c);
}

/* A raw connection to the shared agent that has said HELLO. */
static int raw_connect(bool hello)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const char *h = "{\"version\":1}";

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", shared_agent.sock);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (hello) {
        fake_send(fd, BG_AGENT_HELLO, 0, 0, h, strlen(h));
        assert_int_equal(fake_recv(fd).type, BG_AGENT_HELLO);
        assert_non_null(strstr((char *)fake_payload, "\"exec\""));
    }
    return fd;
}

static void raw_exec(int fd, uint32_t channel, const char *json)
{
    fake_send(fd, BG_AGENT_EXEC, 0, channel, json, strlen(json));
}

/* The agent refuses bad requests with ERROR on their channel and keeps serving. */
static void test_raw_bad_requests(void **state)
{
    (void)state;
    int fd = raw_connect(true);
    const char *bad[] = {
        "{\"argv\":[]}",
        "{\"argv\":[\"ls\"],\"extra\":1}",
        "{\"argv\":[\"ls\"],\"env\":{\"A\":[]}}",
        "not json",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        raw_exec(fd, (uint32_t)(10 + i), bad[i]);
        struct bg_agent_header h = fake_recv(fd);
        assert_int_equal(h.type, BG_AGENT_ERROR);
        assert_int_equal(h.channel, 10 + i);
        assert_non_null(strstr((char *)fake_payload, "EXEC: "));
    }
    /* stdin on a session without stdin: ERROR, and the channel is over (no EXIT) */
    raw_exec(fd, 20, "{\"argv\":[\"sleep\",\"1000\"]}");
    assert_int_equal(fake_recv(fd).type, BG_AGENT_STARTED);
    fake_send(fd, BG_AGENT_DATA, BG_AGENT_F_STDIN, 20, "x", 1);
    struct bg_agent_header h = fake_recv(fd);
    assert_int_equal(h.type, BG_AGENT_ERROR);
    assert_non_null(strstr((char *)fake_payload, "stdin is not attached"));
    /* still serving: a good request runs, and its EXIT is the next frame after its output */
    raw_exec(fd, 20, "{\"argv\":[\"true\"]}");
    assert_int_equal(fake_recv(fd).type, BG_AGENT_STARTED);
    for (h = fake_recv(fd); h.type == BG_AGENT_EOF; h = fake_recv(fd))
        ;
    assert_int_equal(h.type, BG_AGENT_EXIT);
    assert_string_equal((char *)fake_payload, "{\"exit_code\":0}");
    (void)close(fd);
}

/* Requests whose refusal quotes text that is not UTF-8, or that is long: every one gets an
 * ERROR on its channel that the daemon's decoder takes, with a well-formed message. */
static void test_raw_refusals_encode(void **state)
{
    (void)state;
    int fd = raw_connect(true);
    char long_key[2048], long_prog[2048];
    const char *bad[4];

    strcpy(long_key, "{\"argv\":[\"ls\"],\"");
    for (int i = 0; i < 600; i++)
        strcat(long_key, "\xe2\x82\xac"); /* a key of 1800 bytes of U+20AC */
    strcat(long_key, "\":1}");
    strcpy(long_prog, "{\"argv\":[\"");
    for (int i = 0; i < 600; i++)
        strcat(long_prog, "\xc3\xa9");
    strcat(long_prog, "\"]}");
    bad[0] = "{\"argv\":[\"\xff\xfe\"]}"; /* not UTF-8 */
    bad[1] = "\xc3\x28\xa0\xa1 not json"; /* garbage jansson quotes back */
    bad[2] = long_key;
    bad[3] = long_prog; /* runs, and fails to exec: the message quotes the name */
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        char msg[BG_AGENT_MESSAGE_MAX + 1];
        struct bg_error err;
        raw_exec(fd, (uint32_t)(30 + i), bad[i]);
        struct bg_agent_header h = fake_recv(fd);
        assert_int_equal(h.type, BG_AGENT_ERROR);
        assert_int_equal(h.channel, 30 + i);
        if (bg_agentreq_error_decode(fake_payload, h.length, msg, sizeof(msg), &err) < 0)
            fail_msg("ERROR %zu does not decode: %s: %s", i, err.msg, (char *)fake_payload);
        assert_true(bg_utf8_valid(msg, strlen(msg)));
        assert_non_null(strstr(msg, i < 3 ? "EXEC: " : "exec '"));
    }
    (void)close(fd);
}

/* CLOSE kills the session, and EXIT still comes. */
static void test_raw_close(void **state)
{
    (void)state;
    int fd = raw_connect(true);
    struct bg_agent_header h;

    raw_exec(fd, 3, "{\"argv\":[\"sleep\",\"1000\"]}");
    assert_int_equal(fake_recv(fd).type, BG_AGENT_STARTED);
    fake_send(fd, BG_AGENT_CLOSE, 0, 3, NULL, 0);
    h = fake_recv(fd);
    assert_int_equal(h.type, BG_AGENT_EXIT);
    assert_int_equal(h.channel, 3);
    assert_string_equal((char *)fake_payload, "{\"signal\":9}");
    (void)close(fd);
}

/* Framing errors and frames out of order end the connection. */
static void test_raw_protocol_errors(void **state)
{
    (void)state;
    const uint8_t reserved[BG_AGENT_HEADER_SIZE] = {BG_AGENT_EXEC, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    uint8_t byte;
    int fd;

    fd = raw_connect(false); /* EXEC before HELLO */
    raw_exec(fd, 1, "{\"argv\":[\"true\"]}");
    assert_int_equal(recv(fd, &byte, 1, 0), 0);
    (void)close(fd);

    fd = raw_connect(true); /* reserved bytes set */
    assert_int_equal(write(fd, reserved, sizeof(reserved)), sizeof(reserved));
    assert_int_equal(recv(fd, &byte, 1, 0), 0);
    (void)close(fd);

    fd = raw_connect(true); /* a frame only the agent sends */
    fake_send(fd, BG_AGENT_EXIT, 0, 1, "{}", 2);
    assert_int_equal(recv(fd, &byte, 1, 0), 0);
    (void)close(fd);

    fd = raw_connect(true); /* EXEC on a channel in use */
    raw_exec(fd, 4, "{\"argv\":[\"sleep\",\"1000\"]}");
    assert_int_equal(fake_recv(fd).type, BG_AGENT_STARTED);
    raw_exec(fd, 4, "{\"argv\":[\"true\"]}");
    assert_int_equal(recv(fd, &byte, 1, 0), 0);
    (void)close(fd);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_echo),
        T(test_exit_code),
        T(test_stderr_separate),
        T(test_env_cwd),
        T(test_killed_by_signal),
        T(test_signal_forwarded),
        T(test_stdin_cat),
        T(test_stdin_not_attached),
        T(test_big_round_trip),
        T(test_flow_control_window),
        T(test_pty),
        T(test_pty_resize),
        T(test_exec_failures),
        T(test_free_kills),
        T(test_many_sessions),
        cmocka_unit_test(test_agent_killed),
        cmocka_unit_test(test_poweroff_ends_test_double),
        cmocka_unit_test(test_fake_bad_hello),
        cmocka_unit_test(test_fake_hello_timeout),
        cmocka_unit_test(test_fake_over_credit),
        cmocka_unit_test(test_fake_error_cut_on_boundary),
        cmocka_unit_test(test_fake_stdin_stall),
        cmocka_unit_test(test_raw_bad_requests),
        cmocka_unit_test(test_raw_refusals_encode),
        cmocka_unit_test(test_raw_close),
        cmocka_unit_test(test_raw_protocol_errors),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
