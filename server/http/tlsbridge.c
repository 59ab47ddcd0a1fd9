/* SPDX-License-Identifier: MIT */
/* The TLS bridge of upgraded streams: a poll loop between a socketpair and a GnuTLS session. */
#include "http/tlsbridge.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"

/* The stream's thread. */
struct stream {
    void (*fn)(void *cls, int fd);
    void *cls;
    int fd;
};

static void *stream_main(void *arg)
{
    struct stream *s = arg;

    s->fn(s->cls, s->fd);
    (void)close(s->fd);
    return NULL;
}

/* Bytes on their way, one direction. */
struct pipe_buf {
    uint8_t *data;
    size_t len, off;
};

struct bridge {
    gnutls_session_t session;
    int tcp_fd, pair_fd;
    struct pipe_buf to_client, to_stream;
    bool client_gone;  /* the client hung up, or the connection failed */
    bool stream_done;  /* the stream's end of the pair is closed */
    bool send_blocked; /* the last TLS send was GNUTLS_E_AGAIN: retry it as it was */
    int64_t linger_until;
};

/* The client is gone: nothing more goes to it, and the stream reads end of file. */
static void client_gone(struct bridge *b)
{
    if (b->client_gone)
        return;
    b->client_gone = true;
    b->to_client.len = b->to_client.off = 0;
    b->to_stream.len = b->to_stream.off = 0;
    (void)shutdown(b->pair_fd, SHUT_WR);
}

/* TLS to the stream's buffer, while it is empty. */
static void from_client(struct bridge *b)
{
    ssize_t n;

    while (!b->client_gone && b->to_stream.len == 0) {
        n = gnutls_record_recv(b->session, b->to_stream.data, BG_TLS_BRIDGE_BUF);
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n == GNUTLS_E_AGAIN)
            return;
        if (n <= 0) {
            client_gone(b);
            return;
        }
        if (b->stream_done)
            continue; /* the stream ended: what the client still sends is dropped */
        b->to_stream.len = (size_t)n;
        b->to_stream.off = 0;
    }
}

/* The stream's buffer into the pair. */
static void to_stream(struct bridge *b)
{
    struct pipe_buf *p = &b->to_stream;

    while (p->off < p->len) {
        ssize_t n =
            send(b->pair_fd, p->data + p->off, p->len - p->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            p->off = p->len; /* the stream stopped reading: drop it */
            break;
        }
        p->off += (size_t)n;
    }
    p->len = p->off = 0;
}

/* The pair into the client's buffer, while it is empty. */
static void from_stream(struct bridge *b)
{
    while (!b->stream_done && b->to_client.len == 0) {
        ssize_t n = recv(b->pair_fd, b->to_client.data, BG_TLS_BRIDGE_BUF, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            b->stream_done = true;
            return;
        }
        if (b->client_gone)
            continue; /* nowhere to send it */
        b->to_client.len = (size_t)n;
        b->to_client.off = 0;
    }
}

/* The client's buffer into TLS. GnuTLS wants an interrupted send retried as it was. */
static void to_client(struct bridge *b)
{
    struct pipe_buf *p = &b->to_client;

    while (!b->client_gone && p->off < p->len) {
        ssize_t n = gnutls_record_send(b->session, p->data + p->off, p->len - p->off);
        if (n == GNUTLS_E_INTERRUPTED)
            continue;
        b->send_blocked = n == GNUTLS_E_AGAIN;
        if (b->send_blocked)
            return;
        if (n < 0) {
            client_gone(b);
            return;
        }
        p->off += (size_t)n;
    }
    p->len = p->off = 0;
}

/* Done: the stream ended, what it sent went out, and the client left or had its time. */
static bool finished(const struct bridge *b, int64_t now)
{
    if (!b->stream_done || (b->to_client.len && !b->client_gone))
        return false;
    return b->client_gone || now >= b->linger_until;
}

static int poll_step(struct bridge *b, int linger_ms)
{
    struct pollfd p[2] = {{.fd = b->tcp_fd}, {.fd = b->pair_fd}};
    int64_t now = bg_now_ms();
    int timeout = -1;

    if (b->stream_done && !b->linger_until)
        b->linger_until = now + linger_ms;
    if (finished(b, now))
        return 1;
    if (!b->client_gone) {
        if (b->to_stream.len == 0)
            p[0].events |= POLLIN;
        if (b->to_client.len)
            p[0].events |= POLLOUT;
    }
    if (!b->stream_done && b->to_client.len == 0)
        p[1].events |= POLLIN;
    if (b->to_stream.len)
        p[1].events |= POLLOUT;
    /* a socket with nothing asked is left out: a hung-up one would report POLLHUP forever */
    for (size_t i = 0; i < 2; i++)
        if (!p[i].events)
            p[i].fd = -1;
    if (b->linger_until)
        timeout = (int)(b->linger_until > now ? b->linger_until - now : 0);
    /* GnuTLS may hold a decrypted record that poll cannot see */
    if (!b->client_gone && b->to_stream.len == 0 && gnutls_record_check_pending(b->session))
        timeout = 0;
    if (poll(p, 2, timeout) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

static int bridge_loop(struct bridge *b, int linger_ms)
{
    for (;;) {
        int r = poll_step(b, linger_ms);
        if (r != 0)
            return r < 0 ? r : 0;
        from_client(b);
        to_stream(b);
        from_stream(b);
        to_client(b);
    }
}

int bg_tls_bridge_run(gnutls_session_t session, int tcp_fd, void (*fn)(void *cls, int fd),
                      void *cls, int linger_ms, struct bg_error *err)
{
    struct bridge b = {.session = session, .tcp_fd = tcp_fd};
    struct stream s = {.fn = fn, .cls = cls};
    int pair[2];
    pthread_t th;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        return bg_error_errno(err, "make the socketpair of a stream over TLS");
    s.fd = pair[1];
    b.pair_fd = pair[0];
    int r = pthread_create(&th, NULL, stream_main, &s);
    if (r != 0) {
        (void)close(pair[0]);
        (void)close(pair[1]);
        return bg_error_set(err, -r, "start the thread of a stream over TLS: %s", strerror(r));
    }
    b.to_client.data = bg_malloc(BG_TLS_BRIDGE_BUF);
    b.to_stream.data = bg_malloc(BG_TLS_BRIDGE_BUF);
    (void)bridge_loop(&b, linger_ms);
    /* the loop failed under a running stream: end its socket both ways, so it stops */
    if (!b.stream_done)
        (void)shutdown(pair[0], SHUT_RDWR);
    pthread_join(th, NULL);
    (void)close(pair[0]);
    free(b.to_client.data);
    free(b.to_stream.data);
    return 0;
}
