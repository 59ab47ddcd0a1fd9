/* SPDX-License-Identifier: MIT */
/* Connection admission, eviction and deadlines, under one lock. */
#include "http/conns.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/utf8.h"

struct bg_conn {
    struct bg_conn *prev, *next;
    int fd;
    char peer[BG_CONNS_PEER_MAX];
    enum bg_conn_state state;
    bool started;      /* libmicrohttpd owns it: only now may its socket be shut down */
    bool kill_pending; /* killed before it started: shut down when it starts */
    bool held;         /* its close ends something (bg_conns_hold): never evicted or idle */
    int64_t since;     /* when it entered its state: the oldest evictable goes first */
    int64_t deadline;  /* RECEIVING and IDLE: when it is killed; INT64_MAX otherwise */
};

struct bg_conns {
    pthread_mutex_t lock;
    struct bg_conns_limits lim;
    struct bg_conn *head, *tail; /* in admission order */
};

struct bg_conns *bg_conns_new(const struct bg_conns_limits *lim)
{
    struct bg_conns *c = bg_calloc(1, sizeof(*c));

    pthread_mutex_init(&c->lock, NULL);
    c->lim = *lim;
    return c;
}

static void unlink_conn(struct bg_conns *c, struct bg_conn *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    free(e);
}

void bg_conns_free(struct bg_conns *c)
{
    if (!c)
        return;
    while (c->head)
        unlink_conn(c, c->head);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static bool counts(const struct bg_conn *e)
{
    return e->state != BG_CONN_CLOSING;
}

static bool evictable(const struct bg_conn *e)
{
    return !e->held && (e->state == BG_CONN_RECEIVING || e->state == BG_CONN_IDLE);
}

static size_t entries_locked(struct bg_conns *c)
{
    size_t n = 0;

    for (struct bg_conn *e = c->head; e; e = e->next)
        n++;
    return n;
}

static size_t count_locked(struct bg_conns *c, const char *peer)
{
    size_t n = 0;

    for (struct bg_conn *e = c->head; e; e = e->next)
        if (counts(e) && (!peer || !strcmp(e->peer, peer)))
            n++;
    return n;
}

static void kill_locked(struct bg_conns *c, struct bg_conn *e, const char *why)
{
    bg_log_debug("close http connection of %s: %s", e->peer, why);
    e->state = BG_CONN_CLOSING;
    /* Until MHD started it, the number may belong to no socket of ours (MHD can drop a
     * connection it was handed, closing it): shut it down only once it starts. */
    if (e->started) {
        e->deadline = INT64_MAX;
        c->lim.kill(e->fd);
    } else {
        e->kill_pending = true;
    }
}

/* Kill the evictable connection that has been in its state the longest (of peer, or of
 * anyone when peer is NULL); false when there is none. */
static bool evict_oldest(struct bg_conns *c, const char *peer)
{
    struct bg_conn *victim = NULL;

    for (struct bg_conn *e = c->head; e; e = e->next)
        if (evictable(e) && (!peer || !strcmp(e->peer, peer)) &&
            (!victim || e->since < victim->since))
            victim = e;
    if (!victim)
        return false;
    kill_locked(c, victim, "evicted for a new connection at the bound");
    return true;
}

static void set_state(struct bg_conns *c, struct bg_conn *e, enum bg_conn_state s, int64_t now)
{
    e->state = s;
    e->since = now;
    if (s == BG_CONN_RECEIVING || s == BG_CONN_STREAMING)
        e->deadline = now + c->lim.header_ms;
    else if (s == BG_CONN_IDLE && !e->held)
        e->deadline = now + c->lim.idle_ms;
    else
        e->deadline = INT64_MAX;
}

static struct bg_conn *append(struct bg_conns *c, int fd, const char *peer, int64_t now)
{
    struct bg_conn *e = bg_calloc(1, sizeof(*e));

    e->fd = fd;
    (void)bg_utf8_format(e->peer, sizeof(e->peer), "%s", peer);
    set_state(c, e, BG_CONN_RECEIVING, now);
    e->prev = c->tail;
    if (c->tail)
        c->tail->next = e;
    else
        c->head = e;
    c->tail = e;
    return e;
}

bool bg_conns_admit(struct bg_conns *c, int fd, const char *peer, int64_t now_ms)
{
    char key[BG_CONNS_PEER_MAX];
    bool ok = true;

    (void)bg_utf8_format(key, sizeof(key), "%s", peer);
    pthread_mutex_lock(&c->lock);
    for (struct bg_conn *e = c->head, *next; e; e = next) {
        next = e->next;
        /* fd is open again, so an unstarted entry with its number is one MHD closed */
        if (e->fd == fd && !e->started)
            unlink_conn(c, e);
    }
    /* Connections shut down but not yet closed still hold MHD's slots: past hard_max there
     * is no room however many could be evicted. */
    if (entries_locked(c) >= c->lim.hard_max)
        ok = false;
    if (ok && count_locked(c, key) >= c->lim.per_client_max && !evict_oldest(c, key))
        ok = false;
    if (ok && count_locked(c, NULL) >= c->lim.max && !evict_oldest(c, NULL))
        ok = false;
    if (ok)
        (void)append(c, fd, key, now_ms);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool bg_conns_has_room(struct bg_conns *c)
{
    pthread_mutex_lock(&c->lock);
    bool room = entries_locked(c) < c->lim.hard_max;
    pthread_mutex_unlock(&c->lock);
    return room;
}

struct bg_conn *bg_conns_started(struct bg_conns *c, int fd, int64_t now_ms)
{
    struct bg_conn *found = NULL;

    pthread_mutex_lock(&c->lock);
    for (struct bg_conn *e = c->head; e && !found; e = e->next)
        if (e->fd == fd && !e->started)
            found = e;
    if (!found)
        found = append(c, fd, "unknown", now_ms);
    found->started = true;
    if (found->kill_pending)
        c->lim.kill(fd);
    pthread_mutex_unlock(&c->lock);
    return found;
}

void bg_conns_event(struct bg_conns *c, struct bg_conn *conn, enum bg_conn_event ev, int64_t now_ms)
{
    pthread_mutex_lock(&c->lock);
    if (conn->state != BG_CONN_CLOSING) {
        switch (ev) {
        case BG_CONN_EV_REQUEST_LINE:
            /* a first request keeps the deadline counted from the accept */
            if (conn->state == BG_CONN_IDLE)
                set_state(c, conn, BG_CONN_RECEIVING, now_ms);
            break;
        case BG_CONN_EV_HEADERS:
            set_state(c, conn, BG_CONN_RECEIVING, now_ms);
            break;
        case BG_CONN_EV_HANDLER:
            set_state(c, conn, BG_CONN_ACTIVE, now_ms);
            break;
        case BG_CONN_EV_UPGRADE:
            set_state(c, conn, BG_CONN_UPGRADED, now_ms);
            break;
        case BG_CONN_EV_DONE:
            if (conn->state != BG_CONN_UPGRADED)
                set_state(c, conn, BG_CONN_IDLE, now_ms);
            break;
        case BG_CONN_EV_STREAM:
            set_state(c, conn, BG_CONN_STREAMING, now_ms);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void bg_conns_hold(struct bg_conns *c, struct bg_conn *conn)
{
    pthread_mutex_lock(&c->lock);
    conn->held = true;
    if (conn->state == BG_CONN_IDLE)
        conn->deadline = INT64_MAX;
    pthread_mutex_unlock(&c->lock);
}

void bg_conns_forget(struct bg_conns *c, int fd)
{
    pthread_mutex_lock(&c->lock);
    for (struct bg_conn *e = c->head; e; e = e->next) {
        if (e->fd == fd && !e->started) {
            unlink_conn(c, e);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void bg_conns_closed(struct bg_conns *c, struct bg_conn *conn)
{
    if (!conn)
        return;
    pthread_mutex_lock(&c->lock);
    unlink_conn(c, conn);
    pthread_mutex_unlock(&c->lock);
}

int64_t bg_conns_expire(struct bg_conns *c, int64_t now_ms)
{
    int64_t next = INT64_MAX;

    pthread_mutex_lock(&c->lock);
    for (struct bg_conn *e = c->head, *n; e; e = n) {
        n = e->next;
        if (e->deadline > now_ms) {
            if (e->deadline < next)
                next = e->deadline;
        } else if (e->state != BG_CONN_CLOSING) {
            kill_locked(c, e,
                        e->state == BG_CONN_IDLE        ? "idle timeout"
                        : e->state == BG_CONN_STREAMING ? "request body stalled past the header "
                                                          "timeout"
                                                        : "request not sent within the header "
                                                          "timeout");
        }
    }
    pthread_mutex_unlock(&c->lock);
    return next;
}

size_t bg_conns_count(struct bg_conns *c, const char *peer)
{
    pthread_mutex_lock(&c->lock);
    size_t n = count_locked(c, peer);
    pthread_mutex_unlock(&c->lock);
    return n;
}

int bg_conns_state(struct bg_conns *c, int fd)
{
    int s = -1;

    pthread_mutex_lock(&c->lock);
    for (struct bg_conn *e = c->head; e; e = e->next)
        if (e->fd == fd)
            s = (int)e->state;
    pthread_mutex_unlock(&c->lock);
    return s;
}
