/* SPDX-License-Identifier: MIT */
/* Agent client: HELLO, a reader thread that demultiplexes frames, sessions and TCP channels
 * with credits. */
#include "guest/agentconn.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banger/agentproto.h"
#include "banger/agentreq.h"
#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"

/* Output credit goes back to the agent in batches of this many consumed bytes. */
#define GRANT_BATCH (BG_AGENT_WINDOW_INITIAL / 4)
/* Stdin credit the agent may pile up; more is pointless and could overflow the counter. */
#define CREDIT_CAP ((uint64_t)1 << 40)
/* How long the agent may take to answer EXEC (it forks and execs, nothing more). */
#define EXEC_ANSWER_MS 30000
/* A write that makes no progress this long means the agent stopped reading (the socket) or
 * granting credit (stdin). A variable, so tests can shorten it. */
BG_TESTABLE int bg_agent_conn_write_stall_ms = 30000;
#define RBUF_SIZE (2 * (BG_AGENT_HEADER_SIZE + BG_AGENT_PAYLOAD_MAX))

enum session_state {
    SESSION_STARTING, /* EXEC sent, no answer yet */
    SESSION_RUNNING,  /* STARTED */
    SESSION_EXITED,   /* EXIT */
    SESSION_FAILED,   /* ERROR (before or after STARTED) */
};

/* Received output of one stream, in arrival order across both streams. */
struct chunk {
    struct chunk *next;
    int stream; /* 0 stdout, 1 stderr */
    size_t len, off;
    uint8_t data[];
};

struct bg_agent_session {
    struct bg_agent_conn *c;
    uint32_t channel;
    enum session_state state;
    pid_t pid;
    int exit_code, signo;
    char error[BG_ERROR_MSG_MAX]; /* the agent's ERROR message */
    struct chunk *head, *tail;
    size_t buffered[2];      /* bytes in chunks per stream, <= the window */
    bool eof[2];             /* stdout, stderr ended */
    uint64_t recv_credit[2]; /* bytes the agent may still send per stream */
    uint64_t grant[2];       /* bytes read by the consumer, not yet granted back */
    uint64_t send_credit;    /* stdin bytes we may still send */
    bool stdin_closed;
    bool started;     /* STARTED arrived */
    bool tcp;         /* a TCP channel (CONNECT), not a command */
    char **host_keys; /* tcp: the host keys STARTED carried, NULL-terminated */
};

struct bg_agent_conn {
    int fd;
    int wake[2]; /* written to stop the reader and blocked writers */
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t lock;  /* everything below, and every session's state */
    pthread_cond_t cond;   /* broadcast on any change */
    pthread_mutex_t wlock; /* one frame on the wire at a time */
    int refs;              /* the owner's, plus one per session */
    bool dead;
    bool cap_tcp;  /* the agent's HELLO offered "tcp" */
    bool cap_sshd; /* and "sshd" */
    char dead_msg[BG_ERROR_MSG_MAX];
    uint32_t next_channel;
    struct bg_agent_session *sessions[BG_AGENT_SESSIONS_MAX];
    uint8_t *rbuf;
    size_t rlen;
};

/* Mark the connection lost, wake every waiter. Call with c->lock held. */
static void kill_locked(struct bg_agent_conn *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = true;
    snprintf(c->dead_msg, sizeof(c->dead_msg), "agent connection lost: %s", why);
    bg_log_debug("%s", c->dead_msg);
    (void)!write(c->wake[1], "x", 1);
    pthread_cond_broadcast(&c->cond);
}

static void kill_conn(struct bg_agent_conn *c, const char *why)
{
    pthread_mutex_lock(&c->lock);
    kill_locked(c, why);
    pthread_mutex_unlock(&c->lock);
}

/* -ECONNRESET with why the connection died. Call with c->lock held. */
static int dead_error(struct bg_agent_conn *c, struct bg_error *err)
{
    return bg_error_set(err, -ECONNRESET, "%s", c->dead_msg);
}

static int dead_error_unlocked(struct bg_agent_conn *c, struct bg_error *err)
{
    pthread_mutex_lock(&c->lock);
    int r = dead_error(c, err);
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* Absolute CLOCK_MONOTONIC time of deadline_ms. */
static struct timespec to_timespec(int64_t deadline_ms)
{
    return (struct timespec){.tv_sec = deadline_ms / 1000,
                             .tv_nsec = (long)(deadline_ms % 1000) * 1000000};
}

/* Wait on the condvar; -ETIMEDOUT once deadline_ms (<= 0: none) has passed. */
static int cond_wait(struct bg_agent_conn *c, int64_t deadline_ms)
{
    if (deadline_ms <= 0) {
        pthread_cond_wait(&c->cond, &c->lock);
        return 0;
    }
    if (bg_now_ms() >= deadline_ms)
        return -ETIMEDOUT;
    struct timespec ts = to_timespec(deadline_ms);
    (void)pthread_cond_timedwait(&c->cond, &c->lock, &ts);
    return 0;
}

/* Write all of p, waiting for room; gives up when the connection dies or stalls. */
static int write_all(struct bg_agent_conn *c, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(c->fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return -errno;
        struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLOUT},
                                {.fd = c->wake[0], .events = POLLIN}};
        int r = poll(pfd, 2, bg_agent_conn_write_stall_ms);
        if (r == 0)
            return -ETIMEDOUT;
        if (pfd[1].revents)
            return -ECONNRESET;
    }
    return 0;
}

static int send_frame(struct bg_agent_conn *c, uint8_t type, uint8_t flags, uint32_t channel,
                      const void *payload, size_t len, struct bg_error *err)
{
    struct bg_agent_header h = {
        .type = type, .flags = flags, .channel = channel, .length = (uint32_t)len};
    uint8_t hdr[BG_AGENT_HEADER_SIZE];
    int r;

    bg_agent_header_encode(&h, hdr);
    pthread_mutex_lock(&c->wlock);
    pthread_mutex_lock(&c->lock);
    bool dead = c->dead;
    pthread_mutex_unlock(&c->lock);
    r = dead ? -ECONNRESET : write_all(c, hdr, sizeof(hdr));
    if (r == 0 && len)
        r = write_all(c, payload, len);
    pthread_mutex_unlock(&c->wlock);
    if (r < 0 && !dead)
        kill_conn(c, r == -ETIMEDOUT ? "the agent stopped reading" : strerror(-r));
    return r < 0 ? dead_error_unlocked(c, err) : 0;
}

static int send_u32(struct bg_agent_conn *c, uint8_t type, uint8_t flags, uint32_t channel,
                    uint32_t v, struct bg_error *err)
{
    uint8_t p[4];

    bg_agent_put_u32(p, v);
    return send_frame(c, type, flags, channel, p, sizeof(p), err);
}

static struct bg_agent_session *find_session(struct bg_agent_conn *c, uint32_t channel)
{
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++)
        if (c->sessions[i] && c->sessions[i]->channel == channel)
            return c->sessions[i];
    return NULL;
}

/* A DATA frame: keep its bytes, within the credit the agent was given. */
static int on_data(struct bg_agent_session *s, int stream, const uint8_t *p, uint32_t len,
                   struct bg_error *err)
{
    if (s->eof[stream])
        return bg_error_set(err, -EPROTO, "channel %u: DATA after EOF", s->channel);
    if (len > s->recv_credit[stream])
        return bg_error_set(err, -EPROTO, "channel %u: DATA over the granted credit", s->channel);
    s->recv_credit[stream] -= len;
    if (len == 0)
        return 0;
    struct chunk *ch = bg_malloc(sizeof(*ch) + len);
    *ch = (struct chunk){.stream = stream, .len = len};
    memcpy(ch->data, p, len);
    if (s->tail)
        s->tail->next = ch;
    else
        s->head = ch;
    s->tail = ch;
    s->buffered[stream] += len;
    return 0;
}

static int on_end(struct bg_agent_session *s, const struct bg_agent_header *h, const uint8_t *p,
                  struct bg_error *err)
{
    int r;

    if (h->type == BG_AGENT_EXIT && s->tcp) {
        if ((r = bg_agentreq_closed_decode(p, h->length, err)) < 0)
            return r;
        s->exit_code = 0;
        s->state = SESSION_EXITED;
    } else if (h->type == BG_AGENT_EXIT) {
        if ((r = bg_agentreq_exit_decode(p, h->length, &s->exit_code, &s->signo, err)) < 0)
            return r;
        s->state = SESSION_EXITED;
    } else {
        if ((r = bg_agentreq_error_decode(p, h->length, s->error, sizeof(s->error), err)) < 0)
            return r;
        s->state = SESSION_FAILED;
    }
    /* After CLOSE the agent drops output without EOF; EXIT ends the streams in any case. */
    s->eof[0] = s->eof[1] = true;
    return 0;
}

static int on_session_frame(struct bg_agent_session *s, const struct bg_agent_header *h,
                            const uint8_t *p, struct bg_error *err)
{
    bool started = s->state == SESSION_RUNNING;
    int stream = h->flags == BG_AGENT_F_STDERR;

    if (h->type == BG_AGENT_STARTED) {
        if (s->state != SESSION_STARTING)
            return bg_error_set(err, -EPROTO, "channel %u: unexpected STARTED", s->channel);
        s->state = SESSION_RUNNING;
        s->started = true;
        if (s->tcp)
            return bg_agentreq_connected_decode(p, h->length, &s->host_keys, err);
        return bg_agentreq_started_decode(p, h->length, &s->pid, err);
    }
    if (h->type == BG_AGENT_ERROR && s->state == SESSION_STARTING)
        return on_end(s, h, p, err);
    if (!started)
        return bg_error_set(err, -EPROTO, "channel %u: %s while not running", s->channel,
                            bg_agent_type_name(h->type));
    if ((h->type == BG_AGENT_DATA || h->type == BG_AGENT_EOF) && h->flags == BG_AGENT_F_STDIN)
        return bg_error_set(err, -EPROTO, "channel %u: the agent sent stdin", s->channel);
    switch (h->type) {
    case BG_AGENT_DATA:
        return on_data(s, stream, p, h->length, err);
    case BG_AGENT_EOF:
        s->eof[stream] = true;
        return 0;
    case BG_AGENT_CREDIT:
        if (h->flags != BG_AGENT_F_STDIN)
            return bg_error_set(err, -EPROTO, "channel %u: output credit from the agent",
                                s->channel);
        s->send_credit += bg_agent_get_u32(p);
        if (s->send_credit > CREDIT_CAP)
            s->send_credit = CREDIT_CAP;
        return 0;
    case BG_AGENT_EXIT:
    case BG_AGENT_ERROR:
        return on_end(s, h, p, err);
    default:
        return bg_error_set(err, -EPROTO, "channel %u: %s is not the agent's to send", s->channel,
                            bg_agent_type_name(h->type));
    }
}

/* Handle one frame from the agent. Call with c->lock held. <0: the agent broke the protocol. */
static int dispatch(struct bg_agent_conn *c, const struct bg_agent_header *h, const uint8_t *p,
                    struct bg_error *err)
{
    if (h->channel == 0)
        return bg_error_set(err, -EPROTO, "unexpected %s", bg_agent_type_name(h->type));
    struct bg_agent_session *s = find_session(c, h->channel);
    /* A session freed here may still have frames in flight (its EXIT after our CLOSE). */
    if (!s)
        return 0;
    int r = on_session_frame(s, h, p, err);
    pthread_cond_broadcast(&c->cond);
    return r;
}

/* Handle every complete frame in c->rbuf. */
static int dispatch_buffer(struct bg_agent_conn *c, struct bg_error *err)
{
    size_t off = 0;
    int r = 0;

    pthread_mutex_lock(&c->lock);
    while (r == 0 && c->rlen - off >= BG_AGENT_HEADER_SIZE) {
        struct bg_agent_header h;
        if ((r = bg_agent_header_decode(c->rbuf + off, &h, err)) < 0)
            break;
        if (c->rlen - off < BG_AGENT_HEADER_SIZE + h.length)
            break;
        r = dispatch(c, &h, c->rbuf + off + BG_AGENT_HEADER_SIZE, err);
        off += BG_AGENT_HEADER_SIZE + h.length;
    }
    pthread_mutex_unlock(&c->lock);
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    return r;
}

static void *reader_stop(struct bg_agent_conn *c, const char *why)
{
    kill_conn(c, why);
    return NULL;
}

static void *reader_main(void *arg)
{
    struct bg_agent_conn *c = arg;
    struct bg_error err;

    /* Frames that came in behind the agent's HELLO. */
    if (dispatch_buffer(c, &err) < 0)
        return reader_stop(c, err.msg);
    for (;;) {
        struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN},
                                {.fd = c->wake[0], .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            return reader_stop(c, strerror(errno));
        if (pfd[1].revents)
            return reader_stop(c, "closed");
        if (!pfd[0].revents)
            continue;
        ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
        if (n == 0)
            return reader_stop(c, "the agent hung up");
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return reader_stop(c, strerror(errno));
        if (n < 0)
            continue;
        c->rlen += (size_t)n;
        if (dispatch_buffer(c, &err) < 0) {
            bg_log_warn("agent protocol error: %s", err.msg);
            return reader_stop(c, err.msg);
        }
    }
}

/* Read until c->rbuf holds one whole frame, by deadline_ms. */
static int read_frame(struct bg_agent_conn *c, int64_t deadline_ms, struct bg_agent_header *h,
                      struct bg_error *err)
{
    int r;

    for (;;) {
        if (c->rlen >= BG_AGENT_HEADER_SIZE) {
            if ((r = bg_agent_header_decode(c->rbuf, h, err)) < 0)
                return bg_error_set(err, -EPROTO, "agent: %s", err->msg);
            if (c->rlen >= BG_AGENT_HEADER_SIZE + h->length)
                return 0;
        }
        int64_t left = deadline_ms - bg_now_ms();
        if (left <= 0)
            return bg_error_set(err, -ETIMEDOUT, "the agent did not say HELLO in time");
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, left > 1000 ? 1000 : (int)left) <= 0)
            continue;
        ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
        if (n == 0)
            return bg_error_set(err, -ECONNRESET, "the agent hung up before HELLO");
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return bg_error_errno(err, "read from the agent");
        if (n > 0)
            c->rlen += (size_t)n;
    }
}

static int hello(struct bg_agent_conn *c, int64_t deadline_ms, struct bg_error *err)
{
    struct bg_agentreq_hello h;
    struct bg_agent_header hdr;
    char payload[64];
    int r;

    snprintf(payload, sizeof(payload), "{\"version\":%d}", BG_AGENT_VERSION);
    if ((r = send_frame(c, BG_AGENT_HELLO, 0, 0, payload, strlen(payload), err)) < 0 ||
        (r = read_frame(c, deadline_ms, &hdr, err)) < 0)
        return r;
    if (hdr.type != BG_AGENT_HELLO)
        return bg_error_set(err, -EPROTO, "the agent answered HELLO with %s",
                            bg_agent_type_name(hdr.type));
    if (bg_agentreq_hello_decode(c->rbuf + BG_AGENT_HEADER_SIZE, hdr.length, &h, err) < 0)
        return bg_error_set(err, -EPROTO, "agent: %s", err->msg);
    /* Both sides speak the lower of the two versions; this daemon knows only version 1. */
    if (!h.cap_exec)
        return bg_error_set(err, -EPROTO, "agent %s cannot run commands (no 'exec')", h.agent);
    c->cap_tcp = h.cap_tcp;
    c->cap_sshd = h.cap_sshd;
    c->rlen -= BG_AGENT_HEADER_SIZE + hdr.length;
    memmove(c->rbuf, c->rbuf + BG_AGENT_HEADER_SIZE + hdr.length, c->rlen);
    bg_log_debug("agent %s speaks protocol version %u", h.agent, h.version);
    return 0;
}

static void conn_unref(struct bg_agent_conn *c)
{
    pthread_mutex_lock(&c->lock);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (!last)
        return;
    (void)close(c->fd);
    for (int i = 0; i < 2; i++)
        if (c->wake[i] >= 0)
            (void)close(c->wake[i]);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->wlock);
    pthread_cond_destroy(&c->cond);
    free(c->rbuf);
    free(c);
}

static struct bg_agent_conn *conn_new(int fd)
{
    struct bg_agent_conn *c = bg_calloc(1, sizeof(*c));
    pthread_condattr_t attr;

    c->fd = fd;
    c->wake[0] = c->wake[1] = -1;
    c->refs = 1;
    c->next_channel = 1;
    c->rbuf = bg_malloc(RBUF_SIZE);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->wlock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &attr);
    pthread_condattr_destroy(&attr);
    return c;
}

int bg_agent_conn_open(int fd, int64_t deadline_ms, struct bg_agent_conn **ret,
                       struct bg_error *err)
{
    struct bg_agent_conn *c = conn_new(fd);
    int fl = fcntl(fd, F_GETFL);
    int r;

    if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = bg_error_errno(err, "pipe");
    } else if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        r = bg_error_errno(err, "agent connection");
    } else if ((r = hello(c, deadline_ms, err)) == 0) {
        if ((r = -pthread_create(&c->reader, NULL, reader_main, c)) < 0)
            bg_error_set(err, r, "start the agent reader: %s", strerror(-r));
    }
    if (r < 0) {
        conn_unref(c);
        return r;
    }
    c->reader_started = true;
    *ret = c;
    return 0;
}

void bg_agent_conn_free(struct bg_agent_conn *c)
{
    if (!c)
        return;
    kill_conn(c, "closed by the daemon");
    if (c->reader_started)
        pthread_join(c->reader, NULL);
    conn_unref(c);
}

bool bg_agent_conn_dead(struct bg_agent_conn *c)
{
    pthread_mutex_lock(&c->lock);
    bool dead = c->dead;
    pthread_mutex_unlock(&c->lock);
    return dead;
}

int bg_agent_conn_poweroff(struct bg_agent_conn *c, bool reboot, struct bg_error *err)
{
    return send_frame(c, BG_AGENT_POWEROFF, reboot ? BG_AGENT_F_REBOOT : 0, 0, NULL, 0, err);
}

static void chunks_free(struct bg_agent_session *s)
{
    while (s->head) {
        struct chunk *next = s->head->next;
        free(s->head);
        s->head = next;
    }
    s->tail = NULL;
}

/* Take s out of the connection's table and drop its reference. */
static void session_release(struct bg_agent_session *s)
{
    struct bg_agent_conn *c = s->c;

    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++)
        if (c->sessions[i] == s)
            c->sessions[i] = NULL;
    pthread_mutex_unlock(&c->lock);
    chunks_free(s);
    bg_strv_free(s->host_keys);
    free(s);
    conn_unref(c);
}

/* A new session in the table with a free channel. Call with c->lock held. */
static int session_add_locked(struct bg_agent_conn *c, struct bg_agent_session **ret,
                              struct bg_error *err)
{
    size_t slot = BG_AGENT_SESSIONS_MAX;

    if (c->dead)
        return dead_error(c, err);
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX && slot == BG_AGENT_SESSIONS_MAX; i++)
        if (!c->sessions[i])
            slot = i;
    if (slot == BG_AGENT_SESSIONS_MAX)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_TOO_MANY_EXECS),
                            "too many sessions on this agent (at most %d)", BG_AGENT_SESSIONS_MAX);
    /* Channels count up, so a channel is not reused while frames for it may be in flight. */
    while (find_session(c, c->next_channel))
        c->next_channel = c->next_channel % BG_AGENT_CHANNEL_MAX + 1;
    struct bg_agent_session *s = bg_calloc(1, sizeof(*s));
    *s = (struct bg_agent_session){
        .c = c,
        .channel = c->next_channel,
        .state = SESSION_STARTING,
        .exit_code = -1,
        .recv_credit = {BG_AGENT_WINDOW_INITIAL, BG_AGENT_WINDOW_INITIAL},
        .send_credit = BG_AGENT_WINDOW_INITIAL,
    };
    c->next_channel = c->next_channel % BG_AGENT_CHANNEL_MAX + 1;
    c->sessions[slot] = s;
    c->refs++;
    *ret = s;
    return 0;
}

/* A new session waiting for STARTED, as bg_agent_exec sends EXEC for it (bg_agent_connect
 * CONNECT, for tcp). */
static int session_new(struct bg_agent_conn *c, bool tty, bool tcp, struct bg_agent_session **ret,
                       struct bg_error *err)
{
    pthread_mutex_lock(&c->lock);
    int r = session_add_locked(c, ret, err);
    if (r == 0)
        (*ret)->tcp = tcp;
    if (r == 0 && (tty || tcp))
        (*ret)->eof[1] = true; /* a PTY and a socket have one output stream */
    pthread_mutex_unlock(&c->lock);
    return r;
}

static int encode_spec(const struct bg_agent_exec_spec *spec, char **ret, size_t *ret_len,
                       struct bg_error *err)
{
    /* The encoder only reads the request; the casts drop const for its shared struct. */
    struct bg_agentreq_exec req = {
        .argv = (char **)spec->argv,
        .env = (char **)spec->env,
        .cwd = (char *)spec->cwd,
        .tty = spec->tty,
        .attach_stdin = spec->stdin,
        .rows = spec->rows,
        .cols = spec->cols,
    };

    if (!spec->argv || !spec->argv[0])
        return bg_error_set(err, -EINVAL, "EXEC: 'argv' must not be empty");
    return bg_agentreq_exec_encode(&req, ret, ret_len, err);
}

/* Wait for STARTED or ERROR; an ERROR is failed (a BG_ERR code) with the agent's message. */
static int await_started(struct bg_agent_session *s, int failed, struct bg_error *err)
{
    struct bg_agent_conn *c = s->c;
    int64_t deadline = bg_now_ms() + EXEC_ANSWER_MS;
    int r = 0;

    pthread_mutex_lock(&c->lock);
    while (s->state == SESSION_STARTING && !c->dead && r == 0)
        r = cond_wait(c, deadline);
    /* A quick command may be past STARTED (even EXIT) by the time this thread runs. */
    if (s->started)
        r = 0;
    else if (s->state == SESSION_FAILED)
        r = bg_error_set(err, failed, "%s", s->error);
    else if (c->dead)
        r = dead_error(c, err);
    else
        r = bg_error_set(err, -ETIMEDOUT, "the agent did not answer EXEC in %d ms", EXEC_ANSWER_MS);
    pthread_mutex_unlock(&c->lock);
    return r;
}

int bg_agent_exec(struct bg_agent_conn *c, const struct bg_agent_exec_spec *spec,
                  struct bg_agent_session **ret, struct bg_error *err)
{
    struct bg_agent_session *s = NULL;
    bg_autofree char *payload = NULL;
    size_t len = 0;
    int r;

    if ((r = encode_spec(spec, &payload, &len, err)) < 0 ||
        (r = session_new(c, spec->tty, false, &s, err)) < 0)
        return r;
    if ((r = send_frame(c, BG_AGENT_EXEC, 0, s->channel, payload, len, err)) < 0 ||
        (r = await_started(s, BG_ERR(BG_PROBLEM_EXEC_FAILED), err)) < 0) {
        if (r == -ETIMEDOUT)
            (void)send_frame(c, BG_AGENT_CLOSE, 0, s->channel, NULL, 0, NULL);
        session_release(s);
        return r;
    }
    *ret = s;
    return 0;
}

bool bg_agent_conn_has_sshd(struct bg_agent_conn *c)
{
    return c->cap_sshd; /* set before the reader thread starts, never changed */
}

int bg_agent_connect(struct bg_agent_conn *c, const struct bg_agent_connect_spec *spec,
                     struct bg_agent_session **ret, char ***ret_host_keys, struct bg_error *err)
{
    struct bg_agentreq_connect req = {
        .port = spec->port,
        .authorized_key = (char *)spec->authorized_key, /* the encoder only reads it */
        .host_keys = spec->host_keys,
    };
    struct bg_agent_session *s = NULL;
    bg_autofree char *payload = NULL;
    size_t len = 0;
    int r;

    /* an agent without "tcp" would take CONNECT for a framing error and hang up */
    if (!c->cap_tcp)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_TUNNEL_FAILED),
                            "the VM's agent is older than this bangerd and cannot open "
                            "connections (no 'tcp' capability); stop and start the VM to boot "
                            "the current agent");
    if ((r = bg_agentreq_connect_encode(&req, &payload, &len, err)) < 0 ||
        (r = session_new(c, false, true, &s, err)) < 0)
        return r;
    if ((r = send_frame(c, BG_AGENT_CONNECT, 0, s->channel, payload, len, err)) < 0 ||
        (r = await_started(s, BG_ERR(BG_PROBLEM_TUNNEL_FAILED), err)) < 0) {
        if (r == -ETIMEDOUT)
            (void)send_frame(c, BG_AGENT_CLOSE, 0, s->channel, NULL, 0, NULL);
        session_release(s);
        return r;
    }
    pthread_mutex_lock(&c->lock);
    *ret_host_keys = s->host_keys;
    s->host_keys = NULL;
    pthread_mutex_unlock(&c->lock);
    *ret = s;
    return 0;
}

/* Copy from the oldest chunk; note the bytes as credit to give back. Call with c->lock held. */
static size_t take_output(struct bg_agent_session *s, int *ret_stream, void *buf, size_t len)
{
    struct chunk *ch = s->head;
    size_t n = ch->len - ch->off < len ? ch->len - ch->off : len;

    memcpy(buf, ch->data + ch->off, n);
    ch->off += n;
    s->buffered[ch->stream] -= n;
    s->grant[ch->stream] += n;
    *ret_stream = ch->stream + 1;
    if (ch->off == ch->len) {
        s->head = ch->next;
        if (!s->head)
            s->tail = NULL;
        free(ch);
    }
    return n;
}

/* Credit to send for a stream, once enough was consumed. Call with c->lock held. */
static uint32_t due_grant(struct bg_agent_session *s, int stream)
{
    if (s->grant[stream] < GRANT_BATCH || s->eof[stream])
        return 0;
    uint32_t n = (uint32_t)s->grant[stream];
    s->grant[stream] = 0;
    /* Raised before the frame goes out: the agent cannot use it before it arrives. */
    s->recv_credit[stream] += n;
    return n;
}

ssize_t bg_agent_session_read(struct bg_agent_session *s, int *ret_stream, void *buf, size_t len,
                              int64_t deadline_ms, struct bg_error *err)
{
    struct bg_agent_conn *c = s->c;
    ssize_t r = 0;
    int stream = 1;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (s->head) {
            r = (ssize_t)take_output(s, &stream, buf, len);
            break;
        }
        if (s->state == SESSION_FAILED) {
            r = bg_error_set(err, -EPROTO, "%s", s->error);
            break;
        }
        if (s->eof[0] && s->eof[1])
            break;
        if (c->dead) {
            r = dead_error(c, err);
            break;
        }
        if (cond_wait(c, deadline_ms) < 0) {
            r = bg_error_set(err, -ETIMEDOUT, "no output before the deadline");
            break;
        }
    }
    uint32_t grant = r > 0 ? due_grant(s, stream - 1) : 0;
    uint32_t channel = s->channel;
    pthread_mutex_unlock(&c->lock);
    if (grant)
        (void)send_u32(c, BG_AGENT_CREDIT, stream == 2 ? BG_AGENT_F_STDERR : BG_AGENT_F_STDOUT,
                       channel, grant, NULL);
    if (r > 0)
        *ret_stream = stream;
    return r;
}

size_t bg_agent_session_buffered(struct bg_agent_session *s)
{
    pthread_mutex_lock(&s->c->lock);
    size_t n = s->buffered[0] + s->buffered[1];
    pthread_mutex_unlock(&s->c->lock);
    return n;
}

/* Wait until deadline_ms for stdin credit: how many bytes (<= want) may go now, or <0. */
static int stdin_credit(struct bg_agent_session *s, size_t want, int64_t deadline_ms, size_t *ret,
                        struct bg_error *err)
{
    struct bg_agent_conn *c = s->c;
    int r = 0;

    pthread_mutex_lock(&c->lock);
    while (s->send_credit == 0 && !c->dead && s->state == SESSION_RUNNING && !s->stdin_closed &&
           r == 0)
        r = cond_wait(c, deadline_ms);
    if (c->dead)
        r = dead_error(c, err);
    else if (s->stdin_closed || s->state != SESSION_RUNNING)
        r = bg_error_set(err, -EPIPE,
                         s->stdin_closed ? "stdin is closed" : "the command has ended");
    else if (s->send_credit == 0)
        r = bg_error_set(err, -ETIMEDOUT, "stdin: the agent granted no credit before the deadline");
    else {
        r = 0;
        *ret = want < s->send_credit ? want : (size_t)s->send_credit;
        if (*ret > BG_AGENT_PAYLOAD_MAX)
            *ret = BG_AGENT_PAYLOAD_MAX;
        s->send_credit -= *ret;
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

ssize_t bg_agent_session_write_some(struct bg_agent_session *s, const void *buf, size_t len,
                                    int64_t deadline_ms, struct bg_error *err)
{
    size_t n = 0;
    int r;

    if (len == 0)
        return 0;
    if ((r = stdin_credit(s, len, deadline_ms, &n, err)) < 0 ||
        (r = send_frame(s->c, BG_AGENT_DATA, BG_AGENT_F_STDIN, s->channel, buf, n, err)) < 0)
        return r;
    return (ssize_t)n;
}

int bg_agent_session_write(struct bg_agent_session *s, const void *buf, size_t len,
                           struct bg_error *err)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n =
            bg_agent_session_write_some(s, p, len, bg_now_ms() + bg_agent_conn_write_stall_ms, err);
        if (n == -ETIMEDOUT)
            return bg_error_set(err, -ETIMEDOUT,
                                "stdin: the agent granted no credit in %d ms (the command reads "
                                "none of its input)",
                                bg_agent_conn_write_stall_ms);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* True when frames for the session still mean something to the agent. */
static bool session_running(struct bg_agent_session *s, bool *ret_dead)
{
    pthread_mutex_lock(&s->c->lock);
    bool running = s->state == SESSION_RUNNING;
    *ret_dead = s->c->dead;
    pthread_mutex_unlock(&s->c->lock);
    return running;
}

int bg_agent_session_close_stdin(struct bg_agent_session *s, struct bg_error *err)
{
    bool dead = false;

    pthread_mutex_lock(&s->c->lock);
    bool was_closed = s->stdin_closed;
    s->stdin_closed = true;
    pthread_cond_broadcast(&s->c->cond);
    pthread_mutex_unlock(&s->c->lock);
    if (was_closed || !session_running(s, &dead))
        return dead ? dead_error_unlocked(s->c, err) : 0;
    return send_frame(s->c, BG_AGENT_EOF, BG_AGENT_F_STDIN, s->channel, NULL, 0, err);
}

int bg_agent_session_resize(struct bg_agent_session *s, uint16_t rows, uint16_t cols,
                            struct bg_error *err)
{
    uint8_t p[4];
    bool dead;

    if (!session_running(s, &dead))
        return dead ? dead_error_unlocked(s->c, err) : 0;
    bg_agent_put_u16(p, rows);
    bg_agent_put_u16(p + 2, cols);
    return send_frame(s->c, BG_AGENT_RESIZE, 0, s->channel, p, sizeof(p), err);
}

int bg_agent_session_signal(struct bg_agent_session *s, int signo, struct bg_error *err)
{
    bool dead;

    if (signo < 1 || signo > BG_AGENT_SIGNAL_MAX)
        return bg_error_set(err, -EINVAL, "signal %d is out of range 1..%d", signo,
                            BG_AGENT_SIGNAL_MAX);
    if (!session_running(s, &dead))
        return dead ? dead_error_unlocked(s->c, err) : 0;
    return send_u32(s->c, BG_AGENT_SIGNAL, 0, s->channel, (uint32_t)signo, err);
}

int bg_agent_session_wait(struct bg_agent_session *s, int64_t deadline_ms, int *ret_exit_code,
                          int *ret_signal, struct bg_error *err)
{
    struct bg_agent_conn *c = s->c;
    int r = 0;

    pthread_mutex_lock(&c->lock);
    while (s->state == SESSION_RUNNING && !c->dead && r == 0)
        r = cond_wait(c, deadline_ms);
    if (s->state == SESSION_EXITED) {
        *ret_exit_code = s->exit_code;
        *ret_signal = s->signo;
        r = 0;
    } else if (s->state == SESSION_FAILED) {
        r = bg_error_set(err, -EPROTO, "%s", s->error);
    } else if (c->dead) {
        r = dead_error(c, err);
    } else {
        r = bg_error_set(err, -ETIMEDOUT, "the command did not exit before the deadline");
    }
    pthread_mutex_unlock(&c->lock);
    return r;
}

pid_t bg_agent_session_pid(const struct bg_agent_session *s)
{
    return s->pid;
}

void bg_agent_session_free(struct bg_agent_session *s)
{
    bool dead;

    if (!s)
        return;
    if (session_running(s, &dead) && !dead)
        (void)send_frame(s->c, BG_AGENT_CLOSE, 0, s->channel, NULL, 0, NULL);
    session_release(s);
}

#ifdef BANGER_TESTING
struct bg_agent_conn *bg_agent_conn_new_testing(int fd)
{
    return conn_new(fd);
}

int bg_agent_session_new_testing(struct bg_agent_conn *c, bool tty, struct bg_agent_session **ret,
                                 struct bg_error *err)
{
    return session_new(c, tty, false, ret, err);
}

int bg_agent_tcp_new_testing(struct bg_agent_conn *c, struct bg_agent_session **ret,
                             struct bg_error *err)
{
    return session_new(c, false, true, ret, err);
}

int bg_agent_conn_feed_testing(struct bg_agent_conn *c, const void *buf, size_t len,
                               struct bg_error *err)
{
    const uint8_t *p = buf;

    while (len > 0) {
        /* what dispatch leaves is less than a frame, so there is always room for more */
        size_t n = RBUF_SIZE - c->rlen < len ? RBUF_SIZE - c->rlen : len;
        memcpy(c->rbuf + c->rlen, p, n);
        c->rlen += n;
        p += n;
        len -= n;
        int r = dispatch_buffer(c, err);
        if (r < 0) {
            kill_conn(c, err->msg);
            return r;
        }
    }
    return 0;
}
#endif
