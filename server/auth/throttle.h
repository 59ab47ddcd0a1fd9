/* SPDX-License-Identifier: MIT */
/* The slow-down of repeated authentication failures from one client address: after a few free
 * failures in a row, each further one blocks the address for twice as long as the one before,
 * up to a cap; a success, or a quiet spell, forgives. A fixed table, so a flood of addresses
 * costs no more memory than one (it evicts the stalest entries). Thread-safe. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define BG_THROTTLE_KEY_MAX 48 /* a client key, as the HTTP layer makes it */

struct bg_throttle;

/* The policy. Every field is required. */
struct bg_throttle_limits {
    unsigned free_failures; /* failures in a row that block nothing (5) */
    int64_t block_min_ms;   /* the first block (1000) */
    int64_t block_max_ms;   /* the longest block (60000) */
    int64_t forget_ms;      /* a failure older than this no longer counts (600000) */
    size_t slots;           /* addresses remembered at once, a power of two (1024) */
};

/* A new table (lim copied). Never fails. */
struct bg_throttle *bg_throttle_new(const struct bg_throttle_limits *lim);
/* Accepts NULL. */
void bg_throttle_free(struct bg_throttle *t);

/* How long key must still wait at now_ms before it may try again: 0 when it may. */
int64_t bg_throttle_wait(struct bg_throttle *t, const char *key, int64_t now_ms);

/* Record a failure of key at now_ms. Returns the failures in a row it has now made;
 * *ret_block_ms (may be NULL) is the block that failure starts (0: none yet). */
unsigned bg_throttle_failed(struct bg_throttle *t, const char *key, int64_t now_ms,
                            int64_t *ret_block_ms);

/* key authenticated: forget its failures. */
void bg_throttle_succeeded(struct bg_throttle *t, const char *key);
