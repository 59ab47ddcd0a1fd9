/* SPDX-License-Identifier: MIT */
/* The accept loop: admission, the 503 for a connection that cannot be admitted, deadlines. */
#include "http/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"

#define LINGER_MAX 64         /* sockets answered 503 and still draining */
#define LINGER_MS 2000        /* how long one drains before it is closed anyway */
#define ACCEPT_BURST 64       /* accepts per wakeup, so deadlines are never starved */
#define TICK_MS 1000          /* the longest sleep: deadlines set meanwhile wait this long */
#define ACCEPT_BACKOFF_MS 100 /* after EMFILE and the like */
#define ROOM_WAIT_MS 5        /* while evicted connections close */
#define BUSY_LOG_INTERVAL_MS 10000

struct draining {
    int fd;
    int64_t deadline;
};

struct bg_http_listener {
    int listen_fd;
    int wake_fd;
    struct bg_conns *conns;
    struct MHD_Daemon *mhd;
    char *busy;
    size_t busy_len;
    pthread_t thread;
    atomic_bool paused;
    atomic_bool exit;
    struct draining linger[LINGER_MAX]; /* the loop's own: no lock */
    size_t n_linger;
    int64_t accept_after;   /* backoff: no accept before this */
    int64_t busy_logged_at; /* rate limit for the 503 warning */
    unsigned long busy_count;
};

const char *bg_http_peer_key(int fd, char buf[BG_CONNS_PEER_MAX])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char addr[INET6_ADDRSTRLEN];

    snprintf(buf, BG_CONNS_PEER_MAX, "unknown");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return buf;
    if (ss.ss_family == AF_UNIX) {
        struct ucred cred;
        socklen_t clen = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
            snprintf(buf, BG_CONNS_PEER_MAX, "pid %d", (int)cred.pid);
        return buf;
    }
    len = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return buf;
    if (ss.ss_family == AF_INET &&
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr)))
        snprintf(buf, BG_CONNS_PEER_MAX, "%s", addr);
    else if (ss.ss_family == AF_INET6 &&
             inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr)))
        snprintf(buf, BG_CONNS_PEER_MAX, "[%s]", addr);
    return buf;
}

/* Answer the fixed 503 and keep reading what the client sends until it closes, so that its
 * request is consumed and the close is an orderly one, not a reset. */
static void refuse(struct bg_http_listener *l, int fd, const char *peer, int64_t now)
{
    if (l->busy_len)
        (void)send(fd, l->busy, l->busy_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)shutdown(fd, SHUT_WR);
    l->busy_count++;
    if (now - l->busy_logged_at >= BUSY_LOG_INTERVAL_MS) {
        bg_log_warn("accept http connection of %s: every connection is inside a request; "
                    "answered 503 (%lu so far)",
                    peer, l->busy_count);
        l->busy_logged_at = now;
    }
    if (l->n_linger == LINGER_MAX) {
        (void)close(fd);
        return;
    }
    l->linger[l->n_linger++] = (struct draining){.fd = fd, .deadline = now + LINGER_MS};
}

static void accept_one(struct bg_http_listener *l, int fd, const struct sockaddr *addr,
                       socklen_t addr_len)
{
    char peer[BG_CONNS_PEER_MAX];
    int64_t now = bg_now_ms();

    (void)bg_http_peer_key(fd, peer);
    if (!bg_conns_admit(l->conns, fd, peer, now)) {
        refuse(l, fd, peer, now);
        return;
    }
    /* on failure MHD has closed fd and never started it: its entry goes with the number */
    if (MHD_add_connection(l->mhd, fd, addr, addr_len) != MHD_YES) {
        bg_log_warn("accept http connection of %s: the HTTP server refused it (%s)", peer,
                    strerror(errno));
        bg_conns_forget(l->conns, fd);
    }
}

static void accept_burst(struct bg_http_listener *l)
{
    for (int i = 0; i < ACCEPT_BURST && bg_conns_has_room(l->conns); i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            accept_one(l, fd, (struct sockaddr *)&ss, len);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            bg_log_warn("accept http connection: %s; pausing %d ms", strerror(errno),
                        ACCEPT_BACKOFF_MS);
            l->accept_after = bg_now_ms() + ACCEPT_BACKOFF_MS;
        }
        return;
    }
}

/* Read and drop what a refused client sends; close it at EOF, on error or at its deadline.
 * p[i] is the poll entry of linger[i] for the first n_polled. */
static void linger_step(struct bg_http_listener *l, const struct pollfd *p, size_t n_polled,
                        int64_t now)
{
    size_t kept = 0;

    for (size_t i = 0; i < l->n_linger; i++) {
        struct draining g = l->linger[i];
        bool done = now >= g.deadline;
        if (!done && i < n_polled && p[i].revents) {
            char junk[4096];
            ssize_t r = recv(g.fd, junk, sizeof(junk), MSG_DONTWAIT);
            done = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
        }
        if (done)
            (void)close(g.fd);
        else
            l->linger[kept++] = g;
    }
    l->n_linger = kept;
}

static int poll_timeout(const struct bg_http_listener *l, int64_t next, int64_t now)
{
    for (size_t i = 0; i < l->n_linger; i++)
        if (l->linger[i].deadline < next)
            next = l->linger[i].deadline;
    if (l->accept_after > now && l->accept_after < next)
        next = l->accept_after;
    int64_t ms = next - now;
    return ms < 0 ? 0 : ms > TICK_MS ? TICK_MS : (int)ms;
}

static void *listener_main(void *arg)
{
    struct bg_http_listener *l = arg;
    struct pollfd p[LINGER_MAX + 2];

    while (!l->exit) {
        int64_t now = bg_now_ms();
        int64_t next = bg_conns_expire(l->conns, now);
        size_t n = 0, n_linger = l->n_linger;

        for (size_t i = 0; i < n_linger; i++)
            p[n++] = (struct pollfd){.fd = l->linger[i].fd, .events = POLLIN};
        size_t wake_at = n;
        p[n++] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
        bool listening = !l->paused && now >= l->accept_after;
        if (listening && !bg_conns_has_room(l->conns)) {
            /* evicted connections still hold their slots: let new ones wait in the backlog
             * for the few milliseconds they take to close, rather than refuse them */
            listening = false;
            if (next > now + ROOM_WAIT_MS)
                next = now + ROOM_WAIT_MS;
        }
        if (listening)
            p[n++] = (struct pollfd){.fd = l->listen_fd, .events = POLLIN};
        if (poll(p, n, poll_timeout(l, next, now)) < 0 && errno != EINTR)
            bg_log_warn("poll http listener: %s", strerror(errno));
        now = bg_now_ms();
        if (p[wake_at].revents) {
            uint64_t v;
            (void)!read(l->wake_fd, &v, sizeof(v));
        }
        linger_step(l, p, n_linger, now);
        if (listening && !l->paused && p[wake_at + 1].revents)
            accept_burst(l);
    }
    return NULL;
}

static void wake(struct bg_http_listener *l)
{
    uint64_t one = 1;
    (void)!write(l->wake_fd, &one, sizeof(one));
}

int bg_http_listener_start(int listen_fd, struct bg_conns *conns, struct MHD_Daemon *mhd,
                           const char *busy, size_t busy_len, struct bg_http_listener **ret,
                           struct bg_error *err)
{
    struct bg_http_listener *l = bg_calloc(1, sizeof(*l));
    int r;

    l->listen_fd = listen_fd;
    l->conns = conns;
    l->mhd = mhd;
    l->busy = bg_malloc(busy_len + 1);
    if (busy_len)
        memcpy(l->busy, busy, busy_len);
    l->busy_len = busy_len;
    l->busy_logged_at = INT64_MIN / 2;
    /* accept_burst accepts until EAGAIN: accept4 must never block the loop */
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        l->wake_fd = -1;
        r = bg_error_errno(err, "make the API socket non-blocking");
        goto fail;
    }
    l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wake_fd < 0) {
        r = bg_error_errno(err, "create the http listener's wakeup");
        goto fail;
    }
    if ((r = -pthread_create(&l->thread, NULL, listener_main, l)) < 0) {
        bg_error_set(err, r, "start the http listener thread: %s", strerror(-r));
        goto fail;
    }
    *ret = l;
    return 0;
fail:
    if (l->wake_fd >= 0)
        (void)close(l->wake_fd);
    (void)close(listen_fd);
    free(l->busy);
    free(l);
    return r;
}

void bg_http_listener_pause(struct bg_http_listener *l)
{
    if (!l || l->paused)
        return;
    l->paused = true;
    wake(l);
}

void bg_http_listener_stop(struct bg_http_listener *l)
{
    if (!l)
        return;
    l->exit = true;
    wake(l);
    pthread_join(l->thread, NULL);
    for (size_t i = 0; i < l->n_linger; i++)
        (void)close(l->linger[i].fd);
    (void)close(l->listen_fd);
    (void)close(l->wake_fd);
    free(l->busy);
    free(l);
}
