/* SPDX-License-Identifier: MIT */
/* TCP channels (CONNECT) of server/guest/agentconn.c against the real banger-agent in its
 * --serve-unix mode with --ssh-root, where "the guest's 127.0.0.1" is the host's: servers on
 * loopback ports stand in for the guest's, a temporary directory for the guest's root. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/agentproto.h"
#include "banger/agentreq.h"
#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "guest/agentconn.h"
#include "testutil.h"

#define DEADLINE_MS 20000
#define BIG_SIZE (8 * 1024 * 1024)
#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk"
#define ECDSA                                                                                      \
    "ecdsa-sha2-nistp256 "                                                                         \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHUCdp/npSMg9JWTl3nT/"                    \
    "KL4sBtWqRqk0ImE2p0oylUka1IYQu6+bb4xHS7EMhR02wI3M93McxSGXCl2cfrYQZk="

static pid_t agent_pid;
static char agent_sock[256];
static char ssh_root[256];

static int group_setup(void **state)
{
    const char *bin = getenv("BANGER_AGENT");

    (void)signal(SIGPIPE, SIG_IGN);
    if (!bin || bg_test_dir_setup(state) < 0) {
        fprintf(stderr, "BANGER_AGENT is not set (the path of banger-agent)\n");
        return -1;
    }
    snprintf(agent_sock, sizeof(agent_sock), "%s/agent.sock", bg_test_dir());
    snprintf(ssh_root, sizeof(ssh_root), "%s/guest", bg_test_dir());
    (void)mkdir(ssh_root, 0755);
    agent_pid = fork();
    if (agent_pid == 0) {
        execl(bin, bin, "--serve-unix", agent_sock, "--ssh-root", ssh_root, (char *)NULL);
        _exit(127);
    }
    return agent_pid > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)kill(agent_pid, SIGKILL);
    (void)waitpid(agent_pid, NULL, 0);
    return bg_test_dir_teardown(state);
}

static int conn_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int64_t deadline = bg_now_ms() + DEADLINE_MS;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        (void)close(fd);
        if (bg_now_ms() >= deadline)
            fail_msg("connect %s: %s", path, strerror(errno));
        (void)usleep(10000);
    }
}

static int setup(void **state)
{
    struct bg_agent_conn *c = NULL;
    struct bg_error err;

    if (bg_agent_conn_open(conn_to(agent_sock), bg_now_ms() + DEADLINE_MS, &c, &err) < 0)
        fail_msg("open: %s", err.msg);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    bg_agent_conn_free(*state);
    return 0;
}

/* A server on 127.0.0.1 standing in for one in the guest: it accepts one connection and does
 * what mode says. */
enum server_mode {
    SERVER_ECHO,       /* send back everything until end of input, then close */
    SERVER_GREET,      /* send "hello\n", close its sending side, then count what comes */
    SERVER_COUNT_SLOW, /* wait for release, then read everything */
};

struct server {
    int lfd;
    uint16_t port;
    enum server_mode mode;
    size_t received; /* bytes read until end of input */
    int release[2];  /* SERVER_COUNT_SLOW waits for a byte here */
    bool saw_eof;    /* it read end of input (a half-close arrived) */
    pthread_t thread;
};

static void *server_main(void *arg)
{
    struct server *s = arg;
    static char buf[65536];
    int fd = accept(s->lfd, NULL, NULL);
    ssize_t n;

    if (fd < 0)
        return NULL;
    if (s->mode == SERVER_GREET) {
        (void)!write(fd, "hello\n", 6);
        (void)shutdown(fd, SHUT_WR);
    }
    if (s->mode == SERVER_COUNT_SLOW) {
        char b;
        (void)!read(s->release[0], &b, 1);
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        s->received += (size_t)n;
        if (s->mode == SERVER_ECHO && write(fd, buf, (size_t)n) != n)
            break;
    }
    s->saw_eof = n == 0;
    (void)close(fd);
    return NULL;
}

static void server_start(struct server *s, enum server_mode mode)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);

    *s = (struct server){.mode = mode, .release = {-1, -1}};
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
    if (mode == SERVER_COUNT_SLOW)
        assert_int_equal(pipe(s->release), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_join(struct server *s)
{
    pthread_join(s->thread, NULL);
    (void)close(s->lfd);
    if (s->release[0] >= 0) {
        (void)close(s->release[0]);
        (void)close(s->release[1]);
    }
}

/* A port nothing listens on: one that was bound a moment ago. */
static uint16_t closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    (void)close(fd);
    return ntohs(sa.sin_port);
}

static struct bg_agent_session *
connect_ok(struct bg_agent_conn *c, const struct bg_agent_connect_spec *spec, char ***ret_keys)
{
    struct bg_agent_session *s = NULL;
    struct bg_error err;
    char **keys = NULL;

    if (bg_agent_connect(c, spec, &s, &keys, &err) < 0)
        fail_msg("connect %u: %s", spec->port, err.msg);
    if (ret_keys)
        *ret_keys = keys;
    else
        bg_strv_free(keys);
    return s;
}

/* Everything the guest side sends until its end, into a new buffer. */
static char *read_all(struct bg_agent_session *s, size_t *ret_len)
{
    char *out = bg_malloc(1);
    size_t len = 0;
    char buf[65536];
    struct bg_error err;
    int stream;
    ssize_t n;

    while ((n = bg_agent_session_read(s, &stream, buf, sizeof(buf), bg_now_ms() + DEADLINE_MS,
                                      &err)) > 0) {
        assert_int_equal(stream, 1);
        out = bg_realloc(out, len + (size_t)n + 1);
        memcpy(out + len, buf, (size_t)n);
        len += (size_t)n;
    }
    if (n < 0)
        fail_msg("read: %s", err.msg);
    out[len] = '\0';
    *ret_len = len;
    return out;
}

static void wait_closed(struct bg_agent_session *s)
{
    struct bg_error err;
    int code = -1, sig = -1;

    if (bg_agent_session_wait(s, bg_now_ms() + DEADLINE_MS, &code, &sig, &err) < 0)
        fail_msg("wait: %s", err.msg);
    assert_int_equal(code, 0);
    assert_int_equal(sig, 0);
}

/* Bytes both ways, the client's end of input passed on, then the server's close. */
static void test_echo(void **state)
{
    struct server srv;
    struct bg_error err;
    size_t len;

    server_start(&srv, SERVER_ECHO);
    struct bg_agent_connect_spec spec = {.port = srv.port};
    struct bg_agent_session *s = connect_ok(*state, &spec, NULL);
    assert_int_equal(bg_agent_session_pid(s), 0);
    assert_int_equal(bg_agent_session_write(s, "ping\n", 5, &err), 0);
    assert_int_equal(bg_agent_session_close_stdin(s, &err), 0);
    bg_autofree char *got = read_all(s, &len);
    assert_string_equal(got, "ping\n");
    wait_closed(s);
    bg_agent_session_free(s);
    server_join(&srv);
    assert_true(srv.saw_eof);
}

/* The guest's side ends first; the channel stays open for the client's bytes (a half-close),
 * and is over once the client's side ends too. */
static void test_guest_half_close(void **state)
{
    struct server srv;
    struct bg_error err;
    size_t len;

    server_start(&srv, SERVER_GREET);
    struct bg_agent_connect_spec spec = {.port = srv.port};
    struct bg_agent_session *s = connect_ok(*state, &spec, NULL);
    bg_autofree char *got = read_all(s, &len);
    assert_string_equal(got, "hello\n");
    assert_int_equal(bg_agent_session_write(s, "after\n", 6, &err), 0);
    assert_int_equal(bg_agent_session_close_stdin(s, &err), 0);
    wait_closed(s);
    bg_agent_session_free(s);
    server_join(&srv);
    assert_true(srv.saw_eof);
    assert_int_equal(srv.received, 6);
}

/* Megabytes both ways at once, byte-exact, within the windows. */
static void *write_big(void *arg)
{
    struct bg_agent_session *s = arg;
    struct bg_error err;
    char *buf = bg_malloc(BIG_SIZE);

    for (size_t i = 0; i < BIG_SIZE; i++)
        buf[i] = (char)(i * 7 + i / 65536);
    if (bg_agent_session_write(s, buf, BIG_SIZE, &err) < 0 ||
        bg_agent_session_close_stdin(s, &err) < 0)
        fprintf(stderr, "write_big: %s\n", err.msg);
    free(buf);
    return NULL;
}

static void test_big_both_ways(void **state)
{
    struct server srv;
    pthread_t t;
    size_t len;

    server_start(&srv, SERVER_ECHO);
    struct bg_agent_connect_spec spec = {.port = srv.port};
    struct bg_agent_session *s = connect_ok(*state, &spec, NULL);
    assert_int_equal(pthread_create(&t, NULL, write_big, s), 0);
    bg_autofree char *got = read_all(s, &len);
    pthread_join(t, NULL);
    assert_int_equal(len, BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; i++)
        if (got[i] != (char)(i * 7 + i / 65536))
            fail_msg("byte %zu differs", i);
    wait_closed(s);
    bg_agent_session_free(s);
    server_join(&srv);
}

/* A guest server that reads nothing: the client's writes stop at the window (and what the
 * socket buffers), then go on once it reads. */
static void test_backpressure(void **state)
{
    static char chunk[65536];
    struct server srv;
    struct bg_error err;
    size_t sent = 0;

    server_start(&srv, SERVER_COUNT_SLOW);
    struct bg_agent_connect_spec spec = {.port = srv.port};
    struct bg_agent_session *s = connect_ok(*state, &spec, NULL);
    for (;;) {
        ssize_t n = bg_agent_session_write_some(s, chunk, sizeof(chunk), bg_now_ms() + 300, &err);
        if (n == -ETIMEDOUT)
            break;
        assert_true(n > 0);
        sent += (size_t)n;
        assert_true(sent < 64 * 1024 * 1024);
    }
    assert_true(sent >= BG_AGENT_WINDOW_INITIAL);
    assert_int_equal(write(srv.release[1], "x", 1), 1);
    assert_int_equal(bg_agent_session_write(s, chunk, sizeof(chunk), &err), 0);
    assert_int_equal(bg_agent_session_close_stdin(s, &err), 0);
    size_t len;
    bg_autofree char *got = read_all(s, &len);
    assert_int_equal(len, 0);
    wait_closed(s);
    bg_agent_session_free(s);
    server_join(&srv);
    assert_int_equal(srv.received, sent + sizeof(chunk));
}

/* Nothing listens: the agent's message, as the tunnel's problem. */
static void test_refused(void **state)
{
    struct bg_agent_connect_spec spec = {.port = closed_port()};
    struct bg_agent_session *s = NULL;
    struct bg_error err;
    char **keys = NULL;
    char want[64];

    snprintf(want, sizeof(want), "connect 127.0.0.1:%u: Connection refused", spec.port);
    assert_err(bg_agent_connect(*state, &spec, &s, &keys, &err), err,
               BG_ERR(BG_PROBLEM_TUNNEL_FAILED), want);
    assert_null(s);
    /* the connection serves on */
    struct server srv;
    server_start(&srv, SERVER_GREET);
    spec.port = srv.port;
    s = connect_ok(*state, &spec, NULL);
    bg_agent_session_free(s);
    server_join(&srv);
}

/* The connect that never completes, on its own thread. */
struct pending {
    struct bg_agent_conn *c;
    uint16_t port;
    int r;
    struct bg_error err;
};

static void *connect_pending(void *arg)
{
    struct pending *p = arg;
    struct bg_agent_connect_spec spec = {.port = p->port};
    struct bg_agent_session *s = NULL;
    char **keys = NULL;

    p->r = bg_agent_connect(p->c, &spec, &s, &keys, &p->err);
    return NULL;
}

/* A listener that takes no more connections (its accept queue full: the kernel drops the
 * SYN) leaves the connect in progress; the agent gives up after 10 s, and serves on
 * meanwhile. */
static void test_connect_timeout(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct pending p = {.c = *state};
    struct server srv;
    struct bg_error err;
    int fill[4];
    pthread_t t;
    size_t n;

    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    for (size_t i = 0; i < BG_ARRAY_SIZE(fill); i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    p.port = ntohs(sa.sin_port);
    int64_t t0 = bg_now_ms();
    assert_int_equal(pthread_create(&t, NULL, connect_pending, &p), 0);
    /* another channel meanwhile: the agent's loop does not wait for the connect */
    server_start(&srv, SERVER_ECHO);
    struct bg_agent_connect_spec spec = {.port = srv.port};
    struct bg_agent_session *s = connect_ok(*state, &spec, NULL);
    assert_int_equal(bg_agent_session_write(s, "x", 1, &err), 0);
    assert_int_equal(bg_agent_session_close_stdin(s, &err), 0);
    bg_autofree char *got = read_all(s, &n);
    assert_string_equal(got, "x");
    assert_true(bg_now_ms() - t0 < 5000);
    bg_agent_session_free(s);
    server_join(&srv);
    pthread_join(t, NULL);
    assert_err(p.r, p.err, BG_ERR(BG_PROBLEM_TUNNEL_FAILED), "no answer in 10000 ms");
    assert_true(bg_now_ms() - t0 >= 10000);
    for (size_t i = 0; i < BG_ARRAY_SIZE(fill); i++)
        (void)close(fill[i]);
    (void)close(lfd);
}

/* Freeing an open channel closes the guest's socket (CLOSE): its server reads end of input. */
static void test_free_closes(void **state)
{
    struct server srv;
    struct bg_error err;

    server_start(&srv, SERVER_ECHO);
    struct bg_agent_connect_spec spec = {.port = srv.port};
    struct bg_agent_session *s = connect_ok(*state, &spec, NULL);
    assert_int_equal(bg_agent_session_write(s, "abc", 3, &err), 0);
    bg_agent_session_free(s);
    server_join(&srv);
    assert_true(srv.saw_eof);
}

static void write_text(const char *path, const char *text)
{
    bg_autofree char *p = bg_test_write_file(path, text, strlen(text));
}

/* The client key lands in root's authorized_keys once, other lines kept; the host keys come
 * back without their comments. */
static void test_ssh_authorize_and_host_keys(void **state)
{
    bg_autofree char *etc = bg_asprintf("%s/etc", ssh_root);
    bg_autofree char *etc_ssh = bg_asprintf("%s/etc/ssh", ssh_root);
    bg_autofree char *ak = bg_asprintf("%s/root/.ssh/authorized_keys", ssh_root);
    bg_autofree char *pub = bg_asprintf("%s/ssh_host_ed25519_key.pub", etc_ssh);
    bg_autofree char *pub2 = bg_asprintf("%s/ssh_host_ecdsa_key.pub", etc_ssh);
    struct server srv;
    char **keys = NULL;
    struct stat st;

    (void)mkdir(etc, 0755);
    (void)mkdir(etc_ssh, 0755);
    write_text(pub, ED25519 " root@guest\n");
    write_text(pub2, ECDSA "\n");
    for (int i = 0; i < 2; i++) {
        server_start(&srv, SERVER_GREET);
        struct bg_agent_connect_spec spec = {
            .port = srv.port, .authorized_key = ECDSA, .host_keys = true};
        struct bg_agent_session *s = connect_ok(*state, &spec, &keys);
        assert_non_null(keys[0]);
        assert_string_equal(keys[0], ED25519);
        assert_non_null(keys[1]);
        assert_string_equal(keys[1], ECDSA);
        assert_null(keys[2]);
        bg_strv_free(keys);
        bg_agent_session_free(s);
        server_join(&srv);
    }
    size_t len;
    bg_autofree char *text = bg_test_slurp(ak, &len);
    assert_string_equal(text, ECDSA " banger\n");
    assert_int_equal(stat(ak, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    bg_autofree char *dir = bg_asprintf("%s/root/.ssh", ssh_root);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* a bad key is the agent's ERROR, refused before anything is written */
    struct bg_agent_connect_spec bad = {.port = 1, .authorized_key = "ssh-ed25519 AAAA"};
    struct bg_agent_session *s = NULL;
    struct bg_error err;
    assert_err(bg_agent_connect(*state, &bad, &s, &keys, &err), err, -EINVAL, "authorized_key");
}

/* host_keys without any: the agent refuses with where it looked. */
static void test_ssh_no_host_keys(void **state)
{
    bg_autofree char *etc_ssh = bg_asprintf("%s/etc/ssh", ssh_root);
    bg_autofree char *pub = bg_asprintf("%s/ssh_host_ed25519_key.pub", etc_ssh);
    bg_autofree char *pub2 = bg_asprintf("%s/ssh_host_ecdsa_key.pub", etc_ssh);
    struct bg_agent_connect_spec spec = {.port = closed_port(), .host_keys = true};
    struct bg_agent_session *s = NULL;
    struct server srv;
    struct bg_error err;
    char **keys = NULL;

    (void)unlink(pub);
    (void)unlink(pub2);
    server_start(&srv, SERVER_GREET);
    spec.port = srv.port;
    assert_err(bg_agent_connect(*state, &spec, &s, &keys, &err), err,
               BG_ERR(BG_PROBLEM_TUNNEL_FAILED), "no ssh host keys in");
    server_join(&srv);
}

/* HELLO offers "tcp", and "sshd" when the agent has ssh to manage. */
static void test_hello_caps(void **state)
{
    assert_true(bg_agent_conn_has_sshd(*state));
}

/* A hand-made agent whose HELLO lacks "tcp": CONNECT is never sent (it would take it for a
 * framing error), and the refusal says what to do. */
static void *old_agent(void *arg)
{
    int fd = *(int *)arg;
    uint8_t hdr[BG_AGENT_HEADER_SIZE];
    char payload[256];
    const char *hello = "{\"version\":1,\"caps\":[\"exec\",\"pty\"]}";
    struct bg_agent_header h = {.type = BG_AGENT_HELLO, .length = (uint32_t)strlen(hello)};
    struct bg_agent_header in;

    if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr) ||
        bg_agent_header_decode(hdr, &in, NULL) < 0 ||
        recv(fd, payload, in.length, MSG_WAITALL) != (ssize_t)in.length)
        return NULL;
    bg_agent_header_encode(&h, hdr);
    (void)!write(fd, hdr, sizeof(hdr));
    (void)!write(fd, hello, strlen(hello));
    /* anything more is a failure: the test sees it as the connection dying */
    (void)recv(fd, hdr, sizeof(hdr), MSG_WAITALL);
    return NULL;
}

static void test_old_agent(void **state)
{
    (void)state;
    struct bg_agent_connect_spec spec = {.port = 22};
    struct bg_agent_session *s = NULL;
    struct bg_agent_conn *c = NULL;
    struct bg_error err;
    char **keys = NULL;
    pthread_t t;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(pthread_create(&t, NULL, old_agent, &sv[1]), 0);
    assert_int_equal(bg_agent_conn_open(sv[0], bg_now_ms() + DEADLINE_MS, &c, &err), 0);
    assert_false(bg_agent_conn_has_sshd(c));
    assert_err(bg_agent_connect(c, &spec, &s, &keys, &err), err, BG_ERR(BG_PROBLEM_TUNNEL_FAILED),
               "stop and start the VM");
    assert_false(bg_agent_conn_dead(c));
    bg_agent_conn_free(c);
    pthread_join(t, NULL);
    (void)close(sv[1]);
}

/* What the guest must not send on a TCP channel ends the connection: output on stderr, a
 * STARTED with a bad host key, an EXIT with a status. */
static void test_hostile_replies(void **state)
{
    (void)state;
    static const struct {
        uint8_t type, flags;
        const char *payload;
        const char *fragment;
    } cases[] = {
        {BG_AGENT_DATA, BG_AGENT_F_STDERR, "x", "DATA after EOF"},
        {BG_AGENT_STARTED, 0, "{\"host_keys\":[\"ssh-ed25519 AAAA\"]}", "host_keys"},
        {BG_AGENT_STARTED, 0, "{\"pid\":7}", "unknown field"},
        {BG_AGENT_EXIT, 0, "{\"exit_code\":0}", "unknown field"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        struct bg_agent_conn *c = bg_agent_conn_new_testing(fd);
        struct bg_agent_session *s = NULL;
        uint8_t frame[BG_AGENT_HEADER_SIZE + 256];
        struct bg_error err;
        assert_int_equal(bg_agent_tcp_new_testing(c, &s, &err), 0);
        size_t n = 0;
        if (cases[i].type != BG_AGENT_STARTED) {
            struct bg_agent_header st = {.type = BG_AGENT_STARTED, .channel = 1, .length = 2};
            bg_agent_header_encode(&st, frame);
            memcpy(frame + BG_AGENT_HEADER_SIZE, "{}", 2);
            n = BG_AGENT_HEADER_SIZE + 2;
        }
        struct bg_agent_header h = {.type = cases[i].type,
                                    .flags = cases[i].flags,
                                    .channel = 1,
                                    .length = (uint32_t)strlen(cases[i].payload)};
        bg_agent_header_encode(&h, frame + n);
        memcpy(frame + n + BG_AGENT_HEADER_SIZE, cases[i].payload, h.length);
        n += BG_AGENT_HEADER_SIZE + h.length;
        int r = bg_agent_conn_feed_testing(c, frame, n, &err);
        assert_true(r < 0);
        if (!strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].fragment);
        assert_true(bg_agent_conn_dead(c));
        bg_agent_session_free(s);
        bg_agent_conn_free(c);
    }
}

/* Raw frames to the agent, for what the daemon never sends. */
static void raw_send(int fd, uint8_t type, uint8_t flags, uint32_t ch, const void *p, size_t n)
{
    uint8_t hdr[BG_AGENT_HEADER_SIZE];
    struct bg_agent_header h = {.type = type, .flags = flags, .channel = ch, .length = (uint32_t)n};

    bg_agent_header_encode(&h, hdr);
    assert_int_equal(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
    if (n)
        assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static char raw_payload[BG_AGENT_PAYLOAD_MAX + 1];

/* The next frame that is not CREDIT or DATA (type 0 at end of stream). */
static struct bg_agent_header raw_next(int fd)
{
    uint8_t hdr[BG_AGENT_HEADER_SIZE];
    struct bg_agent_header h;

    for (;;) {
        if (recv(fd, hdr, sizeof(hdr), MSG_WAITALL) != (ssize_t)sizeof(hdr) ||
            bg_agent_header_decode(hdr, &h, NULL) < 0 ||
            (h.length && recv(fd, raw_payload, h.length, MSG_WAITALL) != (ssize_t)h.length))
            return (struct bg_agent_header){0};
        raw_payload[h.length] = '\0';
        if (h.type != BG_AGENT_CREDIT && h.type != BG_AGENT_DATA)
            return h;
    }
}

static int raw_open(const char *sock)
{
    int fd = conn_to(sock);
    const char *hello = "{\"version\":1}";

    raw_send(fd, BG_AGENT_HELLO, 0, 0, hello, strlen(hello));
    assert_int_equal(raw_next(fd).type, BG_AGENT_HELLO);
    return fd;
}

static void raw_connect(int fd, uint32_t ch, uint16_t port)
{
    char json[64];

    snprintf(json, sizeof(json), "{\"port\":%u}", port);
    raw_send(fd, BG_AGENT_CONNECT, 0, ch, json, strlen(json));
    struct bg_agent_header h = raw_next(fd);
    assert_int_equal(h.type, BG_AGENT_STARTED);
    assert_int_equal(h.channel, ch);
    assert_string_equal(raw_payload, "{}");
}

/* What a TCP channel has not: a terminal, a process, stderr. Each is ERROR on that channel,
 * which is then over; the agent serves on. CONNECT on a channel in use ends the connection. */
static void test_raw_violations(void **state)
{
    (void)state;
    struct server srv[3];
    uint8_t four[4] = {0};
    static const struct {
        uint8_t type, flags;
        const char *fragment;
    } bad[] = {
        {BG_AGENT_RESIZE, 0, "RESIZE on a TCP channel"},
        {BG_AGENT_SIGNAL, 0, "SIGNAL on a TCP channel"},
        {BG_AGENT_CREDIT, BG_AGENT_F_STDERR, "a TCP channel has no stderr"},
    };
    int fd = raw_open(agent_sock);

    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        server_start(&srv[i], SERVER_ECHO);
        raw_connect(fd, (uint32_t)(7 + i), srv[i].port);
        raw_send(fd, bad[i].type, bad[i].flags, (uint32_t)(7 + i), four, 4);
        struct bg_agent_header h = raw_next(fd);
        assert_int_equal(h.type, BG_AGENT_ERROR);
        assert_int_equal(h.channel, 7 + i);
        if (!strstr(raw_payload, bad[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, raw_payload, bad[i].fragment);
        server_join(&srv[i]); /* the agent closed the guest's socket */
        assert_true(srv[i].saw_eof);
    }
    struct server one;
    server_start(&one, SERVER_ECHO);
    raw_connect(fd, 20, one.port);
    const char *again = "{\"port\":1}";
    raw_send(fd, BG_AGENT_CONNECT, 0, 20, again, strlen(again));
    assert_int_equal(raw_next(fd).type, 0);
    (void)close(fd);
    server_join(&one);
}

/* 64 channels at most, TCP channels and commands together: the 65th CONNECT is ERROR. */
static void test_raw_too_many(void **state)
{
    (void)state;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char json[64];

    /* connections complete into the accept queue: nothing needs to accept them */
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 2 * BG_AGENT_SESSIONS_MAX), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    int fd = raw_open(agent_sock);
    for (uint32_t ch = 1; ch <= BG_AGENT_SESSIONS_MAX; ch++)
        raw_connect(fd, ch, ntohs(sa.sin_port));
    snprintf(json, sizeof(json), "{\"port\":%u}", ntohs(sa.sin_port));
    raw_send(fd, BG_AGENT_CONNECT, 0, 100, json, strlen(json));
    struct bg_agent_header h = raw_next(fd);
    assert_int_equal(h.type, BG_AGENT_ERROR);
    assert_int_equal(h.channel, 100);
    assert_non_null(strstr(raw_payload, "too many sessions"));
    (void)close(fd);
    (void)close(lfd);
}

/* An agent without --ssh-root (and a guest without sshd) does nothing about ssh: CONNECT's
 * ssh members are its ERROR, and its HELLO offers no "sshd". */
static void test_raw_no_ssh_root(void **state)
{
    (void)state;
    const char *bin = getenv("BANGER_AGENT");
    bg_autofree char *sock = bg_asprintf("%s/plain.sock", bg_test_dir());
    pid_t pid = fork();

    if (pid == 0) {
        execl(bin, bin, "--serve-unix", sock, (char *)NULL);
        _exit(127);
    }
    int fd = conn_to(sock);
    const char *hello = "{\"version\":1}";
    raw_send(fd, BG_AGENT_HELLO, 0, 0, hello, strlen(hello));
    assert_int_equal(raw_next(fd).type, BG_AGENT_HELLO);
    assert_non_null(strstr(raw_payload, "\"tcp\""));
    assert_null(strstr(raw_payload, "sshd"));
    const char *ssh = "{\"port\":22,\"host_keys\":true}";
    raw_send(fd, BG_AGENT_CONNECT, 0, 3, ssh, strlen(ssh));
    struct bg_agent_header h = raw_next(fd);
    assert_int_equal(h.type, BG_AGENT_ERROR);
    assert_non_null(strstr(raw_payload, "does not manage ssh"));
    (void)close(fd);
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_echo),
        T(test_guest_half_close),
        T(test_big_both_ways),
        T(test_backpressure),
        T(test_refused),
        T(test_connect_timeout),
        T(test_free_closes),
        T(test_ssh_authorize_and_host_keys),
        T(test_ssh_no_host_keys),
        T(test_hello_caps),
        cmocka_unit_test(test_old_agent),
        cmocka_unit_test(test_hostile_replies),
        cmocka_unit_test(test_raw_violations),
        cmocka_unit_test(test_raw_too_many),
        cmocka_unit_test(test_raw_no_ssh_root),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
