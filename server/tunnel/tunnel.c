/* SPDX-License-Identifier: MIT */
/* Tunnel proxy: raw bytes between an upgraded client socket and an agent TCP channel. */
#include "tunnel/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "banger/agentio.h"
#include "banger/agentproto.h"
#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "banger/validate.h"

#define POLL_MS 500 /* how often blocked waits look whether the tunnel is over */
/* A client that takes none of the guest's bytes this long has stopped reading: it is gone. */
#define SEND_STALL_S 30

struct bg_tunnels {
    pthread_mutex_t lock;
    struct bg_tunnel *running; /* tunnels whose proxy runs, linked by next */
    bool closed;
};

struct bg_tunnel {
    struct bg_tunnels *reg;
    struct bg_tunnel *next; /* in reg->running */
    char vm[BG_NAME_MAX + 1];
    uint16_t port;
    struct bg_tunnel_lease lease;
    struct bg_agent_session *sess;
    int fd;            /* the client socket while the proxy runs, -1 otherwise */
    const char *extra; /* bytes MHD read past the request: the first bytes for the guest */
    size_t extra_len;
    pthread_mutex_t lock;
    bool aborted; /* one side went away or the daemon stops: close the other */
};

struct bg_tunnels *bg_tunnels_new(void)
{
    struct bg_tunnels *reg = bg_calloc(1, sizeof(*reg));

    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

void bg_tunnels_free(struct bg_tunnels *reg)
{
    if (!reg)
        return;
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

void bg_tunnels_close(struct bg_tunnels *reg)
{
    pthread_mutex_lock(&reg->lock);
    reg->closed = true;
    for (struct bg_tunnel *t = reg->running; t; t = t->next) {
        pthread_mutex_lock(&t->lock);
        t->aborted = true;
        pthread_mutex_unlock(&t->lock);
        /* wakes a proxy that waits on the client; it unregisters before the fd is closed */
        (void)shutdown(t->fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&reg->lock);
}

static bool reg_closed(struct bg_tunnels *reg)
{
    pthread_mutex_lock(&reg->lock);
    bool closed = reg->closed;
    pthread_mutex_unlock(&reg->lock);
    return closed;
}

int bg_tunnel_new(struct bg_tunnels *reg, const char *vm, uint16_t port,
                  struct bg_agent_session *sess, const struct bg_tunnel_lease *lease,
                  struct bg_tunnel **ret, struct bg_error *err)
{
    if (reg_closed(reg)) {
        bg_agent_session_free(sess);
        lease->release(lease->cls, lease->conn);
        return bg_error_set(err, -ESHUTDOWN, "bangerd is shutting down");
    }
    struct bg_tunnel *t = bg_calloc(1, sizeof(*t));
    t->reg = reg;
    snprintf(t->vm, sizeof(t->vm), "%s", vm);
    t->port = port;
    t->lease = *lease;
    t->sess = sess;
    t->fd = -1;
    pthread_mutex_init(&t->lock, NULL);
    *ret = t;
    return 0;
}

void bg_tunnel_free(void *tunnel)
{
    struct bg_tunnel *t = tunnel;

    if (!t)
        return;
    bg_agent_session_free(t->sess); /* CLOSE while it is open: the agent closes the socket */
    t->lease.release(t->lease.cls, t->lease.conn);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static void abort_tunnel(struct bg_tunnel *t)
{
    pthread_mutex_lock(&t->lock);
    t->aborted = true;
    pthread_mutex_unlock(&t->lock);
}

static bool aborted(struct bg_tunnel *t)
{
    pthread_mutex_lock(&t->lock);
    bool a = t->aborted;
    pthread_mutex_unlock(&t->lock);
    return a;
}

/* Register the running proxy so a shutdown finds it; -ESHUTDOWN when that already began. */
static int reg_add(struct bg_tunnel *t)
{
    struct bg_tunnels *reg = t->reg;

    pthread_mutex_lock(&reg->lock);
    bool closed = reg->closed;
    if (!closed) {
        t->next = reg->running;
        reg->running = t;
    }
    pthread_mutex_unlock(&reg->lock);
    return closed ? -ESHUTDOWN : 0;
}

static void reg_remove(struct bg_tunnel *t)
{
    struct bg_tunnels *reg = t->reg;

    pthread_mutex_lock(&reg->lock);
    for (struct bg_tunnel **pp = &reg->running; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    pthread_mutex_unlock(&reg->lock);
}

/* Bytes for the guest: as the channel's credit allows, looking every POLL_MS whether the
 * tunnel is over while the guest takes nothing. 0, or -EPIPE when they can no longer go. */
static int to_guest(struct bg_tunnel *t, const uint8_t *p, size_t len)
{
    struct bg_error err;

    while (len > 0) {
        ssize_t n = bg_agent_session_write_some(t->sess, p, len, bg_now_ms() + POLL_MS, &err);
        if (n == -ETIMEDOUT && !aborted(t))
            continue;
        if (n < 0) {
            bg_log_debug("tunnel to vm '%s' port %u: to the guest: %s", t->vm, t->port, err.msg);
            return -EPIPE;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Client to guest, on its own thread: the client's end of input becomes the guest socket's
 * (a half-close); a failure, or a shutdown, aborts the tunnel. */
static void *upstream_main(void *arg)
{
    struct bg_tunnel *t = arg;
    bg_autofree uint8_t *buf = bg_malloc(BG_AGENT_PAYLOAD_MAX);

    if (t->extra_len && to_guest(t, (const uint8_t *)t->extra, t->extra_len) < 0)
        return NULL;
    for (;;) {
        ssize_t n = recv(t->fd, buf, BG_AGENT_PAYLOAD_MAX, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 && !reg_closed(t->reg) && !aborted(t)) {
            (void)bg_agent_session_close_stdin(t->sess, NULL);
            return NULL;
        }
        if (n <= 0) {
            abort_tunnel(t);
            return NULL;
        }
        if (to_guest(t, buf, (size_t)n) < 0)
            return NULL; /* the guest closed its side: what the client sends has nowhere to go */
    }
}

/* Guest to client until the guest's end of output, then its close; 0 when the tunnel ended
 * in order, <0 when it is to be torn down. */
static int downstream(struct bg_tunnel *t)
{
    bg_autofree uint8_t *buf = bg_malloc(BG_AGENT_PAYLOAD_MAX);
    struct bg_error err;
    int code, sig, stream;

    for (;;) {
        if (aborted(t) || reg_closed(t->reg))
            return -ECANCELED;
        ssize_t n = bg_agent_session_read(t->sess, &stream, buf, BG_AGENT_PAYLOAD_MAX,
                                          bg_now_ms() + POLL_MS, &err);
        if (n == -ETIMEDOUT)
            continue;
        if (n < 0) {
            bg_log_info("tunnel to vm '%s' port %u: %s", t->vm, t->port, err.msg);
            return (int)n;
        }
        if (n == 0)
            break;
        /* a blocking send: the client's pace is the guest's (SO_SNDTIMEO bounds a stall) */
        if (bg_agentio_send_all(t->fd, buf, (size_t)n) < 0)
            return -EPIPE;
    }
    (void)shutdown(t->fd, SHUT_WR);
    /* the channel is over when the client's side is too (EXIT) */
    for (;;) {
        if (aborted(t) || reg_closed(t->reg))
            return -ECANCELED;
        int r = bg_agent_session_wait(t->sess, bg_now_ms() + POLL_MS, &code, &sig, &err);
        if (r == 0)
            return 0;
        if (r != -ETIMEDOUT)
            return r;
    }
}

void bg_tunnel_run(void *tunnel, int fd, const char *extra, size_t extra_len)
{
    struct bg_tunnel *t = tunnel;
    struct timeval stall = {.tv_sec = SEND_STALL_S};
    pthread_t up;

    /* MHD's sockets are non-blocking; the proxy threads block on theirs instead. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall));
    t->fd = fd;
    t->extra = extra;
    t->extra_len = extra_len;
    if (reg_add(t) < 0) {
        bg_tunnel_free(t);
        return;
    }
    bg_log_debug("tunnel to vm '%s' port %u: open", t->vm, t->port);
    bool have_up = pthread_create(&up, NULL, upstream_main, t) == 0;
    int r = have_up ? downstream(t) : -EAGAIN;
    /* wakes the client side, which may sit in recv() */
    (void)shutdown(fd, SHUT_RDWR);
    abort_tunnel(t);
    if (have_up)
        pthread_join(up, NULL);
    reg_remove(t);
    bg_log_debug("tunnel to vm '%s' port %u: closed%s", t->vm, t->port,
                 r < 0 ? " before both sides ended" : "");
    t->fd = -1;
    bg_tunnel_free(t);
}
