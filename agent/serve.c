/* SPDX-License-Identifier: MIT */
/* The agent's poll loop: frames in from the host, session and TCP channel output out, credits
 * both ways. */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/agentproto.h"
#include "banger/agentreq.h"
#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"
#include "session.h"
#include "sshd.h"

#define FRAME_MAX (BG_AGENT_HEADER_SIZE + BG_AGENT_PAYLOAD_MAX)
#define RBUF_SIZE (2 * FRAME_MAX)
/* Stdin credit goes back in batches, or at once when the child has taken everything. */
#define GRANT_BATCH (BG_AGENT_WINDOW_INITIAL / 4)
/* Credit a host may pile up; more is pointless and could overflow the counters. */
#define CREDIT_CAP ((uint64_t)1 << 40)
/* virtio-serial: a write may see ENXIO for a moment after the host connected. */
#define ENXIO_RETRY_MS 2000
#define POLL_FDS_MAX (2 + 3 * BG_AGENT_SESSIONS_MAX)
/* A host that takes none of a frame this long has stopped reading: the connection is lost. */
#define WRITE_STALL_MS 30000

struct bg_serve {
    int sigfd;      /* SIGCHLD */
    int fd;         /* the host connection, -1 between connections */
    bool hello;     /* the host's HELLO arrived on this connection */
    int end;        /* -1 while serving, then enum bg_serve_end */
    uint8_t *rbuf;  /* bytes from the host not yet handled */
    size_t rlen;    /* bytes in rbuf */
    uint8_t *wbuf;  /* one outgoing frame */
    uint8_t *obuf;  /* child output on its way into a DATA frame */
    char *ssh_root; /* the prefix of root's ~/.ssh and /etc/ssh; NULL: CONNECT touches no ssh */
    bool sshd;      /* the image's sshd runs (HELLO says "sshd") */
    struct bg_session *sessions[BG_AGENT_SESSIONS_MAX];
};

int bg_serve_new(struct bg_serve **ret, struct bg_error *err)
{
    sigset_t mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return bg_error_errno(err, "block SIGCHLD");
    int sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sigfd < 0)
        return bg_error_errno(err, "signalfd");
    struct bg_serve *s = bg_calloc(1, sizeof(*s));
    s->sigfd = sigfd;
    s->fd = -1;
    s->rbuf = bg_malloc(RBUF_SIZE);
    s->wbuf = bg_malloc(FRAME_MAX);
    s->obuf = bg_malloc(BG_AGENT_PAYLOAD_MAX);
    *ret = s;
    return 0;
}

void bg_serve_free(struct bg_serve *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++)
        bg_session_free(s->sessions[i]);
    (void)close(s->sigfd);
    free(s->ssh_root);
    free(s->rbuf);
    free(s->wbuf);
    free(s->obuf);
    free(s);
}

/* The connection is over; sends stop, the loop ends. */
static void lose(struct bg_serve *s, const char *why)
{
    if (s->end < 0) {
        bg_log_info("agent: host connection ended: %s", why);
        s->end = BG_SERVE_LOST;
    }
}

/* Write all of buf, waiting out EAGAIN for up to WRITE_STALL_MS without progress (-ETIMEDOUT
 * then: a host that reads nothing must not stop this loop, which reaps and serves the rest);
 * ENXIO is retried briefly (virtio-serial). */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    int64_t stall_deadline = bg_now_ms() + WRITE_STALL_MS;
    int64_t enxio_deadline = 0;

    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            stall_deadline = bg_now_ms() + WRITE_STALL_MS;
        } else if (n < 0 && errno == EAGAIN) {
            int64_t left = stall_deadline - bg_now_ms();
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (left <= 0)
                return -ETIMEDOUT;
            if (poll(&p, 1, (int)left) > 0 && !(p.revents & POLLOUT))
                return -EPIPE; /* POLLHUP or POLLERR: the host is gone */
        } else if (n < 0 && errno == ENXIO) {
            if (!enxio_deadline)
                enxio_deadline = bg_now_ms() + ENXIO_RETRY_MS;
            if (bg_now_ms() >= enxio_deadline)
                return -ENXIO;
            (void)usleep(10000);
        } else if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static void send_frame(struct bg_serve *s, uint8_t type, uint8_t flags, uint32_t channel,
                       const void *payload, size_t len)
{
    struct bg_agent_header h = {
        .type = type, .flags = flags, .channel = channel, .length = (uint32_t)len};

    if (s->end >= 0)
        return;
    bg_agent_header_encode(&h, s->wbuf);
    if (len)
        memcpy(s->wbuf + BG_AGENT_HEADER_SIZE, payload, len);
    int r = write_all(s->fd, s->wbuf, BG_AGENT_HEADER_SIZE + len);
    if (r == -ETIMEDOUT)
        lose(s, "the host stopped reading");
    else if (r < 0)
        lose(s, strerror(-r));
}

/* Send j (stolen) as the payload of a frame. Every string the agent puts in a reply is
 * well-formed UTF-8 and short by construction, so this does not fail; if it ever did, silence
 * would leave the host waiting for an answer: a session's reply becomes an ERROR with a fixed
 * message, and a control reply ends the connection. Returns whether j itself went out. */
static bool send_json(struct bg_serve *s, uint8_t type, uint32_t channel, json_t *j)
{
    static const char fallback[] = "{\"message\":\"agent: its reply could not be encoded\"}";
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    size_t len = text ? strlen(text) : 0;
    bool sent = text && len <= BG_AGENT_PAYLOAD_MAX;

    json_decref(j);
    if (sent) {
        send_frame(s, type, 0, channel, text, len);
    } else if (channel) {
        bg_log_error("agent: channel %u: the %s reply could not be encoded; sending ERROR", channel,
                     bg_agent_type_name(type));
        send_frame(s, BG_AGENT_ERROR, 0, channel, fallback, sizeof(fallback) - 1);
    } else {
        lose(s, "the HELLO reply could not be encoded");
    }
    free(text);
    return sent;
}

/* ERROR {"message": msg} on channel: msg clipped on a character boundary to what the host
 * takes (BG_AGENT_MESSAGE_MAX bytes), every byte of a malformed sequence made '?'. */
static void send_error(struct bg_serve *s, uint32_t channel, const char *msg)
{
    char text[BG_AGENT_MESSAGE_MAX + 1];

    (void)bg_utf8_clip(text, sizeof(text), msg);
    (void)send_json(s, BG_AGENT_ERROR, channel, json_pack("{s:s}", "message", text));
}

static void send_credit(struct bg_serve *s, uint32_t channel, uint8_t stream, uint32_t n)
{
    uint8_t p[4];

    bg_agent_put_u32(p, n);
    send_frame(s, BG_AGENT_CREDIT, stream, channel, p, sizeof(p));
}

void bg_serve_set_ssh(struct bg_serve *s, const char *root, bool sshd)
{
    free(s->ssh_root);
    s->ssh_root = root ? bg_strdup(root) : NULL;
    s->sshd = sshd;
}

static void send_hello(struct bg_serve *s)
{
    json_t *caps = json_pack("[s,s,s]", "exec", "pty", "tcp");

    if (s->sshd)
        (void)json_array_append_new(caps, json_string("sshd"));
    (void)send_json(s, BG_AGENT_HELLO, 0,
                    json_pack("{s:i,s:s,s:o}", "version", BG_AGENT_VERSION, "agent", BANGER_VERSION,
                              "caps", caps));
}

static struct bg_session **find_slot(struct bg_serve *s, uint32_t channel)
{
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++)
        if (s->sessions[i] && s->sessions[i]->channel == channel)
            return &s->sessions[i];
    return NULL;
}

/* Kill a session and forget its channel; it is freed, silently, once reaped. */
static void detach(struct bg_session *sess)
{
    bg_session_signal(sess, SIGKILL);
    bg_session_close_fds(sess);
    sess->channel = 0;
}

/* The host broke the rules on one channel: say so there and end that session. */
static void violation(struct bg_serve *s, struct bg_session *sess, const char *msg)
{
    bg_log_warn("agent: channel %u: %s", sess->channel, msg);
    send_error(s, sess->channel, msg);
    detach(sess);
}

/* Send EXIT and free the session once it is reaped and its output has ended. */
static void maybe_finish(struct bg_serve *s, struct bg_session **slot)
{
    struct bg_session *sess = *slot;

    if (!bg_session_done(sess))
        return;
    if (sess->channel && sess->tcp) {
        (void)send_json(s, BG_AGENT_EXIT, sess->channel, json_object());
    } else if (sess->channel) {
        int st = sess->status;
        json_t *j = WIFSIGNALED(st) ? json_pack("{s:i}", "signal", WTERMSIG(st))
                                    : json_pack("{s:i}", "exit_code", WEXITSTATUS(st));
        (void)send_json(s, BG_AGENT_EXIT, sess->channel, j);
    }
    bg_session_free(sess);
    *slot = NULL;
}

void bg_serve_reap(struct bg_serve *s)
{
    struct signalfd_siginfo si;
    int st;
    pid_t pid;

    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++) {
            if (s->sessions[i] && s->sessions[i]->pid == pid) {
                s->sessions[i]->pid = 0;
                s->sessions[i]->status = st;
                maybe_finish(s, &s->sessions[i]);
                break;
            }
        }
        /* anything else was an orphan that PID 1 inherited: reaping it is all there is */
    }
}

/* Give stdin credit back once the child has taken enough of it (or all of it). */
static void grant_stdin(struct bg_serve *s, struct bg_session *sess)
{
    if (sess->in_grant == 0 || (sess->in_grant < GRANT_BATCH && sess->in_len > 0))
        return;
    send_credit(s, sess->channel, BG_AGENT_F_STDIN, (uint32_t)sess->in_grant);
    sess->in_credit += sess->in_grant;
    sess->in_grant = 0;
}

/* Move buffered stdin into the child. */
static void pump_stdin(struct bg_serve *s, struct bg_session *sess)
{
    ssize_t n = write(sess->in_fd, sess->in_buf, sess->in_len);

    if (n > 0) {
        memmove(sess->in_buf, sess->in_buf + n, sess->in_len - (size_t)n);
        sess->in_len -= (size_t)n;
        sess->in_grant += (uint64_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        /* The child closed its stdin (EPIPE): drop what it will never read. */
        sess->in_grant += sess->in_len;
        sess->in_len = 0;
        sess->in_broken = true;
        bg_session_close_stdin(sess);
    }
    grant_stdin(s, sess);
    if (sess->in_len == 0 && sess->in_eof)
        bg_session_close_stdin(sess);
}

static void end_output(struct bg_serve *s, struct bg_session *sess, int stream)
{
    int *fd = stream ? &sess->err_fd : &sess->out_fd;

    (void)close(*fd);
    *fd = -1;
    if (sess->tty) {
        /* The same master: stdin racing with the end of the terminal is dropped quietly. */
        sess->in_fd = -1;
        sess->in_broken = true;
        sess->in_grant += sess->in_len;
        sess->in_len = 0;
    }
    if (!sess->closing)
        send_frame(s, BG_AGENT_EOF, stream ? BG_AGENT_F_STDERR : BG_AGENT_F_STDOUT, sess->channel,
                   NULL, 0);
}

/* Read child output (stream 0 stdout, 1 stderr) within the host's credit. */
static void pump_output(struct bg_serve *s, struct bg_session **slot, int stream)
{
    struct bg_session *sess = *slot;
    int fd = stream ? sess->err_fd : sess->out_fd;
    uint64_t room = sess->out_credit[stream];
    size_t max = room < BG_AGENT_PAYLOAD_MAX ? (size_t)room : BG_AGENT_PAYLOAD_MAX;
    ssize_t n = read(fd, s->obuf, max);

    if (n > 0) {
        sess->out_credit[stream] -= (uint64_t)n;
        if (!sess->closing)
            send_frame(s, BG_AGENT_DATA, stream ? BG_AGENT_F_STDERR : BG_AGENT_F_STDOUT,
                       sess->channel, s->obuf, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    /* 0 on a pipe, EIO on a PTY master once every slave fd is closed */
    end_output(s, sess, stream);
    maybe_finish(s, slot);
}

static void handle_stdin(struct bg_serve *s, struct bg_session *sess,
                         const struct bg_agent_header *h, const uint8_t *p)
{
    if (h->flags != BG_AGENT_F_STDIN)
        return violation(s, sess, "the host may only send stdin");
    if (h->type == BG_AGENT_EOF) {
        sess->in_eof = true;
        if (sess->in_len == 0)
            bg_session_close_stdin(sess);
        return;
    }
    if (sess->in_eof || (sess->in_fd < 0 && !sess->in_broken))
        return violation(s, sess,
                         sess->in_eof ? "stdin data after EOF"
                                      : "stdin is not attached (\"stdin\":false)");
    if (h->length > sess->in_credit)
        return violation(s, sess, "stdin data over the granted credit");
    sess->in_credit -= h->length;
    if (sess->in_broken) {
        sess->in_grant += h->length;
        grant_stdin(s, sess);
        return;
    }
    memcpy(sess->in_buf + sess->in_len, p, h->length); /* fits: credit + buffered <= window */
    sess->in_len += h->length;
}

static void handle_session_frame(struct bg_serve *s, struct bg_session *sess,
                                 const struct bg_agent_header *h, const uint8_t *p)
{
    uint32_t v;

    if (sess->closing)
        return; /* the host gave up on it: nothing it sends matters any more */
    switch (h->type) {
    case BG_AGENT_DATA:
    case BG_AGENT_EOF:
        return handle_stdin(s, sess, h, p);
    case BG_AGENT_CREDIT:
        if (h->flags == BG_AGENT_F_STDIN)
            return violation(s, sess, "stdin credit comes from the agent, not the host");
        if (sess->tcp && h->flags == BG_AGENT_F_STDERR)
            return violation(s, sess, "a TCP channel has no stderr");
        v = bg_agent_get_u32(p);
        uint64_t *c = &sess->out_credit[h->flags == BG_AGENT_F_STDERR];
        *c = *c + v > CREDIT_CAP ? CREDIT_CAP : *c + v;
        return;
    case BG_AGENT_RESIZE:
        if (sess->tcp)
            return violation(s, sess, "RESIZE on a TCP channel");
        return bg_session_resize(sess, bg_agent_get_u16(p), bg_agent_get_u16(p + 2));
    case BG_AGENT_SIGNAL:
        if (sess->tcp)
            return violation(s, sess, "SIGNAL on a TCP channel");
        v = bg_agent_get_u32(p);
        if (v < 1 || v > BG_AGENT_SIGNAL_MAX)
            return violation(s, sess, "signal number out of range");
        return bg_session_signal(sess, (int)v);
    case BG_AGENT_CLOSE:
        /* Output is dropped from here on; EXIT still comes once the group is reaped. */
        sess->closing = true;
        bg_session_signal(sess, SIGKILL);
        bg_session_close_fds(sess);
        return;
    default:
        return violation(s, sess, "frame type not allowed from the host");
    }
}

static size_t session_count(const struct bg_serve *s)
{
    size_t n = 0;

    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++)
        n += s->sessions[i] != NULL;
    return n;
}

static void handle_exec(struct bg_serve *s, const struct bg_agent_header *h, const uint8_t *p)
{
    struct bg_agentreq_exec req = {0};
    struct bg_session *sess = NULL;
    struct bg_error err;

    if (find_slot(s, h->channel))
        return lose(s, "EXEC on a channel that is in use");
    if (session_count(s) >= BG_AGENT_SESSIONS_MAX)
        return send_error(s, h->channel, "too many sessions");
    if (bg_agentreq_exec_decode(p, h->length, &req, &err) < 0)
        return send_error(s, h->channel, err.msg);
    const char *cwd = access("/root/repo", X_OK) == 0 ? "/root/repo" : "/";
    int r = bg_session_start(h->channel, &req, cwd, &sess, &err);
    bg_agentreq_exec_done(&req);
    if (r < 0)
        return send_error(s, h->channel, err.msg);
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++) {
        if (!s->sessions[i]) {
            s->sessions[i] = sess;
            break;
        }
    }
    if (!send_json(s, BG_AGENT_STARTED, h->channel, json_pack("{s:i}", "pid", (int)sess->pid)))
        detach(sess); /* the host was told ERROR: the command must not run unseen */
}

/* A TCP channel is connected: STARTED, with the ssh host keys when asked. Either way the
 * channel either lives on or is over (ERROR, and the session freed). */
static void tcp_connected(struct bg_serve *s, struct bg_session **slot)
{
    struct bg_session *sess = *slot;
    json_t *started = json_object();
    struct bg_error err;

    if (sess->host_keys) {
        json_t *keys = NULL;
        if (bg_sshd_host_keys(s->ssh_root, &keys, &err) < 0) {
            json_decref(started);
            send_error(s, sess->channel, err.msg);
            bg_session_free(sess);
            *slot = NULL;
            return;
        }
        (void)json_object_set_new(started, "host_keys", keys); /* steals keys */
    }
    if (!send_json(s, BG_AGENT_STARTED, sess->channel, started)) {
        detach(sess); /* the host was told ERROR: nothing may flow unseen */
        maybe_finish(s, slot);
    }
}

/* The connect of a TCP channel in progress ended (writable) or ran out of time. */
static void tcp_connect_done(struct bg_serve *s, struct bg_session **slot, bool timed_out)
{
    struct bg_session *sess = *slot;
    struct bg_error err;

    if (timed_out)
        bg_error_set(&err, -ETIMEDOUT, "connect 127.0.0.1:%u: no answer in %d ms", sess->port,
                     BG_SESSION_CONNECT_TIMEOUT_MS);
    if (timed_out || bg_session_connect_finish(sess, &err) < 0) {
        send_error(s, sess->channel, err.msg);
        bg_session_free(sess);
        *slot = NULL;
        return;
    }
    tcp_connected(s, slot);
}

/* What CONNECT asks of ssh before the connection: only where the agent manages it. */
static int tcp_prepare_ssh(struct bg_serve *s, const struct bg_agentreq_connect *req,
                           struct bg_error *err)
{
    if (!req->authorized_key && !req->host_keys)
        return 0;
    if (!s->ssh_root)
        return bg_error_set(err, -EPERM,
                            "this agent does not manage ssh (host-test mode without --ssh-root)");
    if (req->authorized_key)
        return bg_sshd_authorize(s->ssh_root, req->authorized_key, err);
    return 0;
}

static void handle_connect(struct bg_serve *s, const struct bg_agent_header *h, const uint8_t *p)
{
    struct bg_agentreq_connect req = {0};
    struct bg_session *sess = NULL;
    struct bg_error err;
    int r;

    if (find_slot(s, h->channel))
        return lose(s, "CONNECT on a channel that is in use");
    if (session_count(s) >= BG_AGENT_SESSIONS_MAX)
        return send_error(s, h->channel, "too many sessions");
    if (bg_agentreq_connect_decode(p, h->length, &req, &err) < 0)
        return send_error(s, h->channel, err.msg);
    if ((r = tcp_prepare_ssh(s, &req, &err)) == 0)
        r = bg_session_connect(h->channel, req.port, &sess, &err);
    if (r < 0) {
        bg_agentreq_connect_done(&req);
        return send_error(s, h->channel, err.msg);
    }
    sess->host_keys = req.host_keys;
    bg_agentreq_connect_done(&req);
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++) {
        if (!s->sessions[i]) {
            s->sessions[i] = sess;
            if (!sess->connecting)
                tcp_connected(s, &s->sessions[i]);
            return;
        }
    }
}

static void handle_hello(struct bg_serve *s, const struct bg_agent_header *h, const uint8_t *p)
{
    struct bg_agentreq_hello hello;
    struct bg_error err;

    if (bg_agentreq_hello_decode(p, h->length, &hello, &err) < 0)
        return lose(s, err.msg);
    /* A second HELLO is a new host that found the port without our noticing the old one
     * leave (virtio-serial can reconnect between two polls): its sessions are gone. */
    if (s->hello)
        for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++)
            if (s->sessions[i])
                detach(s->sessions[i]);
    s->hello = true;
    send_hello(s);
    /* detached TCP channels have no process to reap: they are over now */
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++)
        if (s->sessions[i] && s->sessions[i]->tcp)
            maybe_finish(s, &s->sessions[i]);
}

static void handle_frame(struct bg_serve *s, const struct bg_agent_header *h, const uint8_t *p)
{
    struct bg_session **slot;

    if (!s->hello && h->type != BG_AGENT_HELLO)
        return lose(s, "the first frame must be HELLO");
    switch (h->type) {
    case BG_AGENT_HELLO:
        return handle_hello(s, h, p);
    case BG_AGENT_POWEROFF:
        s->end = h->flags & BG_AGENT_F_REBOOT ? BG_SERVE_REBOOT : BG_SERVE_POWEROFF;
        return;
    case BG_AGENT_EXEC:
        return handle_exec(s, h, p);
    case BG_AGENT_CONNECT:
        return handle_connect(s, h, p);
    case BG_AGENT_STARTED:
    case BG_AGENT_EXIT:
    case BG_AGENT_ERROR:
        return lose(s, "the host sent a frame only the agent sends");
    default:
        /* A frame for a channel that has ended raced with its EXIT: nothing to do. */
        if ((slot = find_slot(s, h->channel))) {
            handle_session_frame(s, *slot, h, p);
            if (*slot)
                maybe_finish(s, slot); /* CLOSE of a reaped child, or a detach, may end it */
        }
        return;
    }
}

/* Read what the host sent and handle every complete frame. */
static void read_host(struct bg_serve *s)
{
    ssize_t n = read(s->fd, s->rbuf + s->rlen, RBUF_SIZE - s->rlen);
    size_t off = 0;

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return lose(s, n == 0 ? "closed by the host" : strerror(errno));
    if (n < 0)
        return;
    s->rlen += (size_t)n;
    while (s->end < 0 && s->rlen - off >= BG_AGENT_HEADER_SIZE) {
        struct bg_agent_header h;
        struct bg_error err;
        if (bg_agent_header_decode(s->rbuf + off, &h, &err) < 0)
            return lose(s, err.msg);
        if (s->rlen - off < BG_AGENT_HEADER_SIZE + h.length)
            break;
        handle_frame(s, &h, s->rbuf + off + BG_AGENT_HEADER_SIZE);
        off += BG_AGENT_HEADER_SIZE + h.length;
    }
    memmove(s->rbuf, s->rbuf + off, s->rlen - off);
    s->rlen -= off;
}

/* What one pollfd entry watches. */
struct watch {
    struct bg_session *sess; /* NULL for the host and the signalfd */
    size_t slot;
    int what; /* 0 stdout, 1 stderr, 2 stdin, 3 a TCP connect in progress */
};

static size_t add_session_watches(struct bg_serve *s, struct pollfd *pfd, struct watch *w, size_t n)
{
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++) {
        struct bg_session *sess = s->sessions[i];
        if (!sess || !sess->channel)
            continue;
        if (sess->connecting) {
            pfd[n] = (struct pollfd){.fd = sess->in_fd, .events = POLLOUT};
            w[n++] = (struct watch){.sess = sess, .slot = i, .what = 3};
            continue;
        }
        int fds[3] = {sess->out_credit[0] ? sess->out_fd : -1,
                      sess->out_credit[1] ? sess->err_fd : -1, sess->in_len ? sess->in_fd : -1};
        for (int k = 0; k < 3; k++) {
            if (fds[k] < 0)
                continue;
            pfd[n] = (struct pollfd){.fd = fds[k], .events = k == 2 ? POLLOUT : POLLIN};
            w[n++] = (struct watch){.sess = sess, .slot = i, .what = k};
        }
    }
    return n;
}

/* How long poll may sleep: until the first TCP connect in progress runs out of time. */
static int poll_timeout(const struct bg_serve *s)
{
    int64_t first = -1;

    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++) {
        const struct bg_session *sess = s->sessions[i];
        if (sess && sess->channel && sess->connecting &&
            (first < 0 || sess->connect_deadline < first))
            first = sess->connect_deadline;
    }
    if (first < 0)
        return -1;
    int64_t left = first - bg_now_ms();
    return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* End the TCP connects that ran out of time. */
static void expire_connects(struct bg_serve *s)
{
    int64_t now = bg_now_ms();

    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX && s->end < 0; i++) {
        struct bg_session *sess = s->sessions[i];
        if (sess && sess->channel && sess->connecting && now >= sess->connect_deadline)
            tcp_connect_done(s, &s->sessions[i], true);
    }
}

/* One turn of the loop: wait, then move session bytes, reap, and read the host. */
static void serve_once(struct bg_serve *s)
{
    struct pollfd pfd[POLL_FDS_MAX];
    struct watch w[POLL_FDS_MAX];
    size_t n = 2;

    pfd[0] = (struct pollfd){.fd = s->fd, .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = s->sigfd, .events = POLLIN};
    n = add_session_watches(s, pfd, w, n);
    if (poll(pfd, n, poll_timeout(s)) < 0)
        return;
    /* Sessions first: nothing here creates a session, so a slot still holding the same
     * pointer is the same session (a finished one leaves its slot NULL). */
    for (size_t i = 2; i < n && s->end < 0; i++) {
        struct bg_session **slot = &s->sessions[w[i].slot];
        if (!pfd[i].revents || *slot != w[i].sess)
            continue;
        int fd = w[i].what == 0   ? w[i].sess->out_fd
                 : w[i].what == 1 ? w[i].sess->err_fd
                                  : w[i].sess->in_fd;
        if (fd != pfd[i].fd)
            continue;
        if (w[i].what == 3) {
            tcp_connect_done(s, slot, false);
        } else if (w[i].what == 2) {
            pump_stdin(s, w[i].sess);
            maybe_finish(s, slot); /* a TCP channel may end with its sending side */
        } else {
            pump_output(s, slot, w[i].what);
        }
    }
    expire_connects(s);
    if (pfd[1].revents)
        bg_serve_reap(s);
    if (pfd[0].revents && s->end < 0)
        read_host(s);
}

/* The connection is gone: kill every session and wait for each. */
static void end_sessions(struct bg_serve *s)
{
    for (size_t i = 0; i < BG_AGENT_SESSIONS_MAX; i++) {
        struct bg_session *sess = s->sessions[i];
        if (!sess)
            continue;
        detach(sess);
        while (sess->pid > 0 && waitpid(sess->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        sess->pid = 0;
        bg_session_free(sess);
        s->sessions[i] = NULL;
    }
}

enum bg_serve_end bg_serve_conn(struct bg_serve *s, int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    s->fd = fd;
    s->hello = false;
    s->end = -1;
    s->rlen = 0;
    while (s->end < 0)
        serve_once(s);
    end_sessions(s);
    bg_serve_reap(s);
    s->fd = -1;
    return (enum bg_serve_end)s->end;
}
