/* SPDX-License-Identifier: MIT */
/* Upgraded exec stream: a frame proxy between the client socket and one agent session. */
#include "exec/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "banger/agentio.h"
#include "banger/agentproto.h"
#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "banger/validate.h"
#include "exec/collect.h"
#include "exec/registry.h"
#include "rest/daemon.h"
#include "vm/runtime.h"

#define POLL_MS 500               /* how often blocked waits look at timeouts and shutdown */
#define FIRST_RESIZE_WAIT_MS 2000 /* a tty client sends its window size first */
#define CREDIT_MAX ((int64_t)1 << 30)

enum { OUT_STDOUT, OUT_STDERR };

struct bg_exec_stream {
    struct bg_daemon *d;
    char vm[BG_NAME_MAX + 1];
    char id[BG_EXEC_ID_LEN + 1];
    struct bg_agent_conn *conn;
    struct bg_exec_request req;
    struct bg_agent_session *sess;
    int fd;
    const char *extra; /* bytes MHD read past the request; the input side consumes them */
    size_t extra_len;
    uint16_t rows, cols;
    pthread_mutex_t wlock; /* one frame at a time to the client */
    pthread_mutex_t lock;  /* guards what follows */
    pthread_cond_t cond;
    int64_t credit[2]; /* bytes of stdout/stderr the client can still take */
    bool client_gone;  /* the client closed, broke the protocol, or a write failed */
    bool ended;        /* EXIT or ERROR went out: the input side stops */
    int64_t deadline;  /* timeout_s as a bg_now_ms() time, 0 for none */
    int64_t kill_deadline;
    bool timed_out;
};

struct bg_exec_stream *bg_exec_stream_new(struct bg_daemon *d, const char *vm, const char *id,
                                          struct bg_agent_conn *conn, struct bg_exec_request *req)
{
    struct bg_exec_stream *s = bg_calloc(1, sizeof(*s));

    s->d = d;
    snprintf(s->vm, sizeof(s->vm), "%s", vm);
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->conn = conn;
    s->req = *req;
    *req = (struct bg_exec_request){0};
    s->fd = -1;
    s->credit[OUT_STDOUT] = s->credit[OUT_STDERR] = BG_AGENT_WINDOW_INITIAL;
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    return s;
}

static void stream_destroy(struct bg_exec_stream *s, int exit_code, int signo)
{
    bg_exec_registry_finish(s->d->execs, s->id, exit_code, signo);
    bg_agent_session_free(s->sess); /* CLOSE if still running: the agent kills it */
    bg_vm_agent_release(s->d->runtime, s->conn);
    bg_exec_request_done(&s->req);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->wlock);
    free(s);
}

void bg_exec_stream_free(void *stream)
{
    if (stream)
        stream_destroy(stream, -1, 0);
}

/* ---- the client socket ---- */

static void mark_gone(struct bg_exec_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->client_gone = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static bool client_gone(struct bg_exec_stream *s)
{
    pthread_mutex_lock(&s->lock);
    bool gone = s->client_gone;
    pthread_mutex_unlock(&s->lock);
    return gone;
}

/* One frame on channel 1 to the client. A failed write marks the client gone. */
static int send_frame(struct bg_exec_stream *s, uint8_t type, uint8_t flags, const void *payload,
                      size_t len)
{
    int r;

    pthread_mutex_lock(&s->wlock);
    r = bg_agentio_send_frame(s->fd, type, flags, BG_EXEC_STREAM_CHANNEL, payload, len);
    pthread_mutex_unlock(&s->wlock);
    if (r < 0) {
        mark_gone(s);
        return -EPIPE; /* whatever broke, the client is gone */
    }
    return 0;
}

static int send_json(struct bg_exec_stream *s, uint8_t type, json_t *j)
{
    bg_autofree char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        abort();
    return send_frame(s, type, 0, text, strlen(text));
}

static int send_u32(struct bg_exec_stream *s, uint8_t type, uint8_t flags, uint32_t v)
{
    uint8_t p[4];

    bg_agent_put_u32(p, v);
    return send_frame(s, type, flags, p, sizeof(p));
}

/* Read exactly len bytes: first what MHD already read, then the socket. 0, or -EPIPE at
 * end of stream or on error. */
static int read_exact(struct bg_exec_stream *s, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        size_t n;
        if (s->extra_len) {
            n = len < s->extra_len ? len : s->extra_len;
            memcpy(p, s->extra, n);
            s->extra += n;
            s->extra_len -= n;
        } else {
            ssize_t got = recv(s->fd, p, len, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return -EPIPE;
            n = (size_t)got;
        }
        p += n;
        len -= n;
    }
    return 0;
}

/* One frame from the client into hdr + payload (BG_AGENT_PAYLOAD_MAX bytes). */
static int read_frame(struct bg_exec_stream *s, struct bg_agent_header *hdr, uint8_t *payload)
{
    uint8_t raw[BG_AGENT_HEADER_SIZE];
    struct bg_error err;

    if (read_exact(s, raw, sizeof(raw)) < 0)
        return -EPIPE;
    if (bg_agent_header_decode(raw, hdr, &err) < 0) {
        bg_log_warn("exec stream '%s': bad frame from the client: %s", s->id, err.msg);
        return -EBADMSG;
    }
    if (hdr->channel != BG_EXEC_STREAM_CHANNEL) {
        bg_log_warn("exec stream '%s': frame on channel %u, not %d", s->id, hdr->channel,
                    BG_EXEC_STREAM_CHANNEL);
        return -EBADMSG;
    }
    return read_exact(s, payload, hdr->length);
}

/* ---- client to agent ---- */

static void add_credit(struct bg_exec_stream *s, int which, uint32_t n)
{
    pthread_mutex_lock(&s->lock);
    s->credit[which] += n;
    if (s->credit[which] > CREDIT_MAX)
        s->credit[which] = CREDIT_MAX;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Pass stdin on, then grant the client as many bytes as the agent took: the client's
 * window only reopens as the guest accepts input, so nothing queues here. */
static int forward_stdin(struct bg_exec_stream *s, const uint8_t *p, uint32_t len)
{
    struct bg_error err;

    if (!s->req.attach_stdin)
        return 0; /* the command reads /dev/null; drop it */
    if (bg_agent_session_write(s->sess, p, len, &err) < 0) {
        bg_log_debug("exec stream '%s': stdin: %s", s->id, err.msg);
        return 0; /* the command closed stdin or ended; EXIT comes from the other side */
    }
    return send_u32(s, BG_AGENT_CREDIT, BG_AGENT_F_STDIN, len);
}

/* Act on one client frame. Returns <0 when the client broke the protocol. */
static int handle_client_frame(struct bg_exec_stream *s, const struct bg_agent_header *h,
                               const uint8_t *p)
{
    switch (h->type) {
    case BG_AGENT_DATA:
        return h->flags == BG_AGENT_F_STDIN ? forward_stdin(s, p, h->length) : -EBADMSG;
    case BG_AGENT_EOF:
        if (h->flags != BG_AGENT_F_STDIN)
            return -EBADMSG;
        if (s->req.attach_stdin)
            (void)bg_agent_session_close_stdin(s->sess, NULL);
        return 0;
    case BG_AGENT_CREDIT:
        if (h->flags == BG_AGENT_F_STDIN)
            return -EBADMSG;
        add_credit(s, h->flags == BG_AGENT_F_STDOUT ? OUT_STDOUT : OUT_STDERR, bg_agent_get_u32(p));
        return 0;
    case BG_AGENT_RESIZE:
        if (s->req.tty)
            (void)bg_agent_session_resize(s->sess, bg_agent_get_u16(p), bg_agent_get_u16(p + 2),
                                          NULL);
        return 0;
    case BG_AGENT_SIGNAL: {
        uint32_t signo = bg_agent_get_u32(p);
        if (signo < 1 || signo > 64)
            return -EBADMSG;
        (void)bg_agent_session_signal(s->sess, (int)signo, NULL);
        return 0;
    }
    default:
        return -EBADMSG;
    }
}

static void *input_main(void *arg)
{
    struct bg_exec_stream *s = arg;
    bg_autofree uint8_t *payload = bg_malloc(BG_AGENT_PAYLOAD_MAX);
    struct bg_agent_header h;

    for (;;) {
        int r = read_frame(s, &h, payload);
        if (r == 0)
            r = handle_client_frame(s, &h, payload);
        if (r < 0) {
            bg_log_debug("exec stream '%s': input ends: %s", s->id, strerror(-r));
            break;
        }
    }
    pthread_mutex_lock(&s->lock);
    bool ended = s->ended;
    pthread_mutex_unlock(&s->lock);
    if (!ended) {
        /* The client gave up: the command dies with it (the output side drains and
         * records how it ended). */
        bg_log_info("exec stream '%s': client went away; killing the command", s->id);
        mark_gone(s);
        (void)bg_agent_session_signal(s->sess, SIGKILL, NULL);
    }
    return NULL;
}

/* ---- agent to client ---- */

static void check_deadlines(struct bg_exec_stream *s)
{
    int64_t now = bg_now_ms();
    bool kill = bg_exec_registry_closed(s->d->execs) || (s->deadline && now >= s->deadline);

    if (kill && !s->kill_deadline) {
        s->timed_out = s->deadline && now >= s->deadline;
        (void)bg_agent_session_signal(s->sess, SIGKILL, NULL);
        s->kill_deadline = now + BG_EXEC_KILL_GRACE_MS;
    }
}

/* Wait until the client can take some bytes of stream `which`; returns how many (0 when
 * the client is gone and output is only drained). */
static size_t wait_credit(struct bg_exec_stream *s, int which, size_t want)
{
    size_t n = 0;

    pthread_mutex_lock(&s->lock);
    while (!s->client_gone && s->credit[which] == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        (void)pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        pthread_mutex_unlock(&s->lock);
        check_deadlines(s);
        pthread_mutex_lock(&s->lock);
    }
    if (!s->client_gone) {
        n = (size_t)s->credit[which] < want ? (size_t)s->credit[which] : want;
        s->credit[which] -= (int64_t)n;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Send buf as DATA of stream `which` within the client's credit. */
static void send_output(struct bg_exec_stream *s, int which, const uint8_t *buf, size_t len)
{
    uint8_t flag = which == OUT_STDOUT ? BG_AGENT_F_STDOUT : BG_AGENT_F_STDERR;

    while (len > 0) {
        size_t n = wait_credit(s, which, len);
        if (n == 0 || send_frame(s, BG_AGENT_DATA, flag, buf, n) < 0)
            return; /* gone: the rest is drained and dropped */
        buf += n;
        len -= n;
    }
}

/* Proxy output until both streams end. Returns 0, 1 when abandoned after a kill, or <0
 * when the agent connection broke. Reading only after the previous chunk went out keeps
 * the agent's window (and so the guest's pipes) as the only buffer. */
static int pump_output(struct bg_exec_stream *s, struct bg_error *err)
{
    bg_autofree uint8_t *buf = bg_malloc(BG_AGENT_PAYLOAD_MAX);

    for (;;) {
        check_deadlines(s);
        if (client_gone(s) && !s->kill_deadline) {
            (void)bg_agent_session_signal(s->sess, SIGKILL, NULL);
            s->kill_deadline = bg_now_ms() + BG_EXEC_KILL_GRACE_MS;
        }
        if (s->kill_deadline && bg_now_ms() >= s->kill_deadline)
            return 1;
        int stream = 1;
        ssize_t n = bg_agent_session_read(s->sess, &stream, buf, BG_AGENT_PAYLOAD_MAX,
                                          bg_now_ms() + POLL_MS, err);
        if (n == -ETIMEDOUT)
            continue;
        if (n <= 0)
            return (int)n;
        send_output(s, stream == 2 ? OUT_STDERR : OUT_STDOUT, buf, (size_t)n);
    }
}

/* ---- the whole stream ---- */

/* A tty client sends its window size as the first frame; take it before the command starts
 * so the program sees the right size from the beginning. Any other first frame is an error:
 * the client must not send stdin before STARTED. */
static int read_first_resize(struct bg_exec_stream *s)
{
    struct timeval tv = {.tv_sec = FIRST_RESIZE_WAIT_MS / 1000};
    struct bg_agent_header h;
    uint8_t p[4];
    uint8_t raw[BG_AGENT_HEADER_SIZE];
    int r;

    if (!s->req.tty)
        return 0;
    (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    r = read_exact(s, raw, sizeof(raw));
    tv.tv_sec = 0;
    (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (r < 0)
        return 0; /* no size in time: start with the agent's default */
    if (bg_agent_header_decode(raw, &h, NULL) < 0 || h.type != BG_AGENT_RESIZE ||
        h.channel != BG_EXEC_STREAM_CHANNEL || read_exact(s, p, 4) < 0)
        return -EBADMSG;
    s->rows = bg_agent_get_u16(p);
    s->cols = bg_agent_get_u16(p + 2);
    return 0;
}

static int start_command(struct bg_exec_stream *s)
{
    struct bg_agent_exec_spec spec;
    struct bg_error err;

    if (read_first_resize(s) < 0) {
        (void)send_json(
            s, BG_AGENT_ERROR,
            json_pack("{s:s}", "message", "with tty, the first frame must be RESIZE (rows, cols)"));
        return -EBADMSG;
    }
    bg_exec_agent_spec(&s->req, s->rows, s->cols, &spec);
    if (bg_agent_exec(s->conn, &spec, &s->sess, &err) < 0) {
        bg_log_info("exec stream '%s' in vm '%s': %s", s->id, s->vm, err.msg);
        (void)send_json(s, BG_AGENT_ERROR, json_pack("{s:s}", "message", err.msg));
        return err.code;
    }
    if (s->req.timeout_s)
        s->deadline = bg_now_ms() + (int64_t)s->req.timeout_s * 1000;
    return send_json(s, BG_AGENT_STARTED, json_pack("{s:s}", "id", s->id));
}

/* The last frame goes out next: the client may close at once, which is no longer a reason
 * to kill anything. */
static void mark_ended(struct bg_exec_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->ended = true;
    pthread_mutex_unlock(&s->lock);
}

/* Output is done: end the streams, wait for the status, and send it as the last frame. */
static void finish_command(struct bg_exec_stream *s, int pumped, int *ret_code, int *ret_sig)
{
    struct bg_error err;
    int r = pumped;

    if (r >= 0) {
        (void)send_frame(s, BG_AGENT_EOF, BG_AGENT_F_STDOUT, NULL, 0);
        if (!s->req.tty)
            (void)send_frame(s, BG_AGENT_EOF, BG_AGENT_F_STDERR, NULL, 0);
        r = bg_agent_session_wait(s->sess, bg_now_ms() + BG_EXEC_KILL_GRACE_MS, ret_code, ret_sig,
                                  &err);
    }
    if (r < 0) {
        *ret_code = -1;
        *ret_sig = 0;
        mark_ended(s);
        (void)send_json(s, BG_AGENT_ERROR,
                        json_pack("{s:s}", "message",
                                  r == -ECONNRESET ? "the VM stopped while the command ran"
                                                   : "lost the command's exit status"));
        return;
    }
    mark_ended(s);
    json_t *exit = *ret_sig > 0 ? json_pack("{s:i}", "signal", *ret_sig)
                                : json_pack("{s:i}", "exit_code", *ret_code);
    if (s->timed_out)
        (void)json_object_set_new(exit, "timed_out", json_true()); /* steals */
    (void)send_json(s, BG_AGENT_EXIT, exit);
}

void bg_exec_stream_run(void *stream, int fd, const char *extra, size_t extra_len)
{
    struct bg_exec_stream *s = stream;
    int code = -1, sig = 0;
    struct bg_error err;
    pthread_t input;

    /* MHD's sockets are non-blocking; the proxy threads block on theirs instead. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    s->fd = fd;
    s->extra = extra;
    s->extra_len = extra_len;
    bg_exec_registry_set_fd(s->d->execs, s->id, fd);
    if (start_command(s) < 0) {
        stream_destroy(s, -1, 0);
        return;
    }
    bool have_input = pthread_create(&input, NULL, input_main, s) == 0;
    if (!have_input)
        mark_gone(s); /* cannot read the client: run nothing unattended */
    int pumped = pump_output(s, &err);
    if (pumped < 0)
        bg_log_warn("exec stream '%s' in vm '%s': %s", s->id, s->vm, err.msg);
    finish_command(s, pumped, &code, &sig);
    /* The last frame is out: wake the input side, which may sit in recv(). */
    (void)shutdown(fd, SHUT_RDWR);
    if (have_input)
        pthread_join(input, NULL);
    bg_exec_registry_set_fd(s->d->execs, s->id, -1);
    stream_destroy(s, code, sig);
}
