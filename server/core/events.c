/* SPDX-License-Identifier: MIT */
/* Event hub: a condition variable keyed on the store's latest event seq. */
#include "core/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"

struct bg_events {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC, to match bg_now_ms deadlines */
    _Atomic int64_t latest;
    _Atomic bool closed;
};

struct bg_events *bg_events_new(int64_t latest)
{
    struct bg_events *h = bg_calloc(1, sizeof(*h));
    pthread_condattr_t attr;

    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &attr);
    pthread_condattr_destroy(&attr);
    h->latest = latest;
    return h;
}

void bg_events_free(struct bg_events *h)
{
    if (!h)
        return;
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void bg_events_notify(void *userdata, int64_t seq)
{
    struct bg_events *h = userdata;

    pthread_mutex_lock(&h->lock);
    if (seq > h->latest)
        h->latest = seq;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

int64_t bg_events_latest(struct bg_events *h)
{
    return h->latest;
}

int64_t bg_events_wait(struct bg_events *h, int64_t after, int64_t deadline_ms, bool *ret_closed)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};

    pthread_mutex_lock(&h->lock);
    while (h->latest <= after && !h->closed && bg_now_ms() < deadline_ms)
        (void)pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    int64_t latest = h->latest;
    *ret_closed = h->closed;
    pthread_mutex_unlock(&h->lock);
    return latest;
}

void bg_events_close(struct bg_events *h)
{
    pthread_mutex_lock(&h->lock);
    h->closed = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

bool bg_events_closed(struct bg_events *h)
{
    return h->closed;
}
