/* SPDX-License-Identifier: MIT */
/* The event hub: wakes waiters (event streams, operation waits) when the store commits. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct bg_events;

/* A hub whose latest seq starts at latest. */
struct bg_events *bg_events_new(int64_t latest);
void bg_events_free(struct bg_events *h);

/* Store hook: record seq as the latest and wake every waiter. userdata is the hub. */
void bg_events_notify(void *userdata, int64_t seq);
/* The latest committed seq (lock-free read). */
int64_t bg_events_latest(struct bg_events *h);

/* Block until the latest seq exceeds after, the hub closes, or deadline_ms (bg_now_ms clock)
 * passes. Returns the latest seq; *ret_closed tells whether the hub closed. */
int64_t bg_events_wait(struct bg_events *h, int64_t after, int64_t deadline_ms, bool *ret_closed);
/* Wake everyone for good: streams end, waits return. Used on shutdown. */
void bg_events_close(struct bg_events *h);
bool bg_events_closed(struct bg_events *h);
