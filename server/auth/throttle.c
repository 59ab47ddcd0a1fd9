/* SPDX-License-Identifier: MIT */
/* An open-addressing table of client keys with their failures in a row and their block. */
#include "auth/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"

#define PROBES 8 /* slots looked at for one key; the stalest of them makes room */

struct entry {
    char key[BG_THROTTLE_KEY_MAX]; /* "" when the slot is free */
    unsigned failures;             /* in a row */
    int64_t last_ms;               /* the last failure */
    int64_t blocked_until_ms;
};

struct bg_throttle {
    pthread_mutex_t lock;
    struct bg_throttle_limits lim;
    struct entry *slots;
};

struct bg_throttle *bg_throttle_new(const struct bg_throttle_limits *lim)
{
    struct bg_throttle *t = bg_calloc(1, sizeof(*t));

    pthread_mutex_init(&t->lock, NULL);
    t->lim = *lim;
    t->slots = bg_calloc(lim->slots, sizeof(*t->slots));
    return t;
}

void bg_throttle_free(struct bg_throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
}

/* FNV-1a: spreads addresses that differ in their last digits. */
static size_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)h;
}

/* The entry of key, or NULL. Under the lock. */
static struct entry *find(struct bg_throttle *t, const char *key)
{
    size_t mask = t->lim.slots - 1, at = hash_key(key) & mask;

    for (size_t i = 0; i < PROBES && i < t->lim.slots; i++) {
        struct entry *e = &t->slots[(at + i) & mask];
        if (!strcmp(e->key, key))
            return e;
    }
    return NULL;
}

/* The entry of key, made in a free slot or in place of the stalest one among its probes. */
static struct entry *find_or_make(struct bg_throttle *t, const char *key)
{
    size_t mask = t->lim.slots - 1, at = hash_key(key) & mask;
    struct entry *e = find(t, key), *victim = NULL;

    if (e)
        return e;
    for (size_t i = 0; i < PROBES && i < t->lim.slots; i++) {
        e = &t->slots[(at + i) & mask];
        if (!e->key[0]) {
            victim = e;
            break;
        }
        if (!victim || e->last_ms < victim->last_ms)
            victim = e;
    }
    *victim = (struct entry){0};
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    return victim;
}

/* Forget failures past forget_ms; an entry left with nothing frees its slot. */
static void age(struct bg_throttle *t, struct entry *e, int64_t now_ms)
{
    if (e->failures && now_ms - e->last_ms >= t->lim.forget_ms && now_ms >= e->blocked_until_ms)
        *e = (struct entry){0};
}

int64_t bg_throttle_wait(struct bg_throttle *t, const char *key, int64_t now_ms)
{
    int64_t wait = 0;

    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, key);
    if (e) {
        age(t, e, now_ms);
        if (e->blocked_until_ms > now_ms)
            wait = e->blocked_until_ms - now_ms;
    }
    pthread_mutex_unlock(&t->lock);
    return wait;
}

unsigned bg_throttle_failed(struct bg_throttle *t, const char *key, int64_t now_ms,
                            int64_t *ret_block_ms)
{
    int64_t block = 0;

    pthread_mutex_lock(&t->lock);
    struct entry *e = find_or_make(t, key);
    age(t, e, now_ms);
    if (!e->key[0])
        snprintf(e->key, sizeof(e->key), "%s", key);
    e->failures++;
    e->last_ms = now_ms;
    if (e->failures > t->lim.free_failures) {
        unsigned shift = e->failures - t->lim.free_failures - 1;
        block = t->lim.block_max_ms;
        if (shift < 32 && (t->lim.block_min_ms << shift) < t->lim.block_max_ms)
            block = t->lim.block_min_ms << shift;
        e->blocked_until_ms = now_ms + block;
    }
    unsigned failures = e->failures;
    pthread_mutex_unlock(&t->lock);
    if (ret_block_ms)
        *ret_block_ms = block;
    return failures;
}

void bg_throttle_succeeded(struct bg_throttle *t, const char *key)
{
    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, key);
    if (e)
        *e = (struct entry){0};
    pthread_mutex_unlock(&t->lock);
}
