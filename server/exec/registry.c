/* SPDX-License-Identifier: MIT */
/* Exec registry: a bounded, mutex-guarded table of recent commands with time-based expiry. */
#include "exec/registry.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"

struct entry {
    char id[BG_EXEC_ID_LEN + 1];
    char *vm;
    json_t *cmd; /* array of strings */
    bool running;
    int exit_code; /* -1: none */
    int signo;     /* 0: none */
    int64_t started_at, ended_at;
    int fd; /* client socket of a streaming exec, -1 when none */
};

struct bg_exec_registry {
    pthread_mutex_t lock;
    bg_exec_clock_fn clock;
    struct entry *entries[BG_EXEC_REGISTRY_MAX];
    size_t n;
    bool closed;
};

static int64_t wall_clock(void)
{
    return (int64_t)time(NULL);
}

struct bg_exec_registry *bg_exec_registry_new(bg_exec_clock_fn clock)
{
    struct bg_exec_registry *r = bg_calloc(1, sizeof(*r));

    pthread_mutex_init(&r->lock, NULL);
    r->clock = clock ? clock : wall_clock;
    return r;
}

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->vm);
    json_decref(e->cmd);
    free(e);
}

void bg_exec_registry_free(struct bg_exec_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        entry_free(r->entries[i]);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void remove_at(struct bg_exec_registry *r, size_t i)
{
    entry_free(r->entries[i]);
    memmove(&r->entries[i], &r->entries[i + 1], (r->n - i - 1) * sizeof(r->entries[0]));
    r->n--;
}

/* Drop ended entries past their keep time, then (when full) the oldest ended one. Entries
 * are kept in start order, so the first ended one found is the oldest start. */
static void expire_locked(struct bg_exec_registry *r, int64_t now)
{
    for (size_t i = 0; i < r->n;) {
        struct entry *e = r->entries[i];
        if (!e->running && now - e->ended_at >= BG_EXEC_REGISTRY_KEEP_S)
            remove_at(r, i);
        else
            i++;
    }
    if (r->n < BG_EXEC_REGISTRY_MAX)
        return;
    size_t oldest = r->n;
    for (size_t i = 0; i < r->n; i++)
        if (!r->entries[i]->running &&
            (oldest == r->n || r->entries[i]->ended_at < r->entries[oldest]->ended_at))
            oldest = i;
    if (oldest < r->n)
        remove_at(r, oldest);
}

static struct entry *find_locked(struct bg_exec_registry *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->entries[i]->id, id))
            return r->entries[i];
    return NULL;
}

static void new_id(char ret[BG_EXEC_ID_LEN + 1])
{
    uint8_t raw[8];

    randombytes_buf(raw, sizeof(raw));
    snprintf(ret, BG_EXEC_ID_LEN + 1, "exec-%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1],
             raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
}

static struct entry *entry_new(const char *vm, char *const *argv, int64_t now)
{
    struct entry *e = bg_calloc(1, sizeof(*e));

    e->vm = bg_strdup(vm);
    e->cmd = json_array();
    for (size_t i = 0; argv[i]; i++)
        (void)json_array_append_new(e->cmd, json_string(argv[i])); /* steals */
    e->running = true;
    e->exit_code = -1;
    e->started_at = now;
    e->fd = -1;
    return e;
}

int bg_exec_registry_add(struct bg_exec_registry *r, const char *vm, char *const *argv,
                         char ret_id[BG_EXEC_ID_LEN + 1], struct bg_error *err)
{
    int64_t now = r->clock();
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    expire_locked(r, now);
    if (r->closed) {
        rc = bg_error_set(err, -ESHUTDOWN, "bangerd is shutting down; retry once it is back");
    } else if (r->n >= BG_EXEC_REGISTRY_MAX) {
        rc = bg_error_set(err, BG_ERR(BG_PROBLEM_TOO_MANY_EXECS),
                          "%d commands are running already; wait for some to end",
                          BG_EXEC_REGISTRY_MAX);
    } else {
        struct entry *e = entry_new(vm, argv, now);
        do
            new_id(e->id);
        while (find_locked(r, e->id));
        r->entries[r->n++] = e;
        memcpy(ret_id, e->id, sizeof(e->id));
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void bg_exec_registry_set_fd(struct bg_exec_registry *r, const char *id, int fd)
{
    pthread_mutex_lock(&r->lock);
    struct entry *e = find_locked(r, id);
    if (e) {
        e->fd = fd;
        /* Closed between add and now: the proxy must not start a stream that would hold
         * shutdown up. */
        if (fd >= 0 && r->closed)
            (void)shutdown(fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&r->lock);
}

void bg_exec_registry_finish(struct bg_exec_registry *r, const char *id, int exit_code, int signo)
{
    int64_t now = r->clock();

    pthread_mutex_lock(&r->lock);
    struct entry *e = find_locked(r, id);
    if (e && e->running) {
        e->running = false;
        e->exit_code = exit_code;
        e->signo = signo;
        e->ended_at = now;
        e->fd = -1;
    }
    pthread_mutex_unlock(&r->lock);
}

static json_t *entry_to_json(const struct entry *e)
{
    char started[BG_TIME_STR_MAX], ended[BG_TIME_STR_MAX];
    json_t *j = json_pack("{s:s, s:s, s:O, s:s, s:s}", "id", e->id, "vm", e->vm, "cmd", e->cmd,
                          "state", e->running ? "running" : "exited", "started_at",
                          bg_time_format(e->started_at, started));

    /* json_object_set_new steals the new value's reference */
    (void)json_object_set_new(
        j, "exit_code", e->running || e->exit_code < 0 ? json_null() : json_integer(e->exit_code));
    (void)json_object_set_new(j, "signal",
                              e->running || e->signo <= 0 ? json_null() : json_integer(e->signo));
    (void)json_object_set_new(
        j, "ended_at", e->running ? json_null() : json_string(bg_time_format(e->ended_at, ended)));
    return j;
}

int bg_exec_registry_get(struct bg_exec_registry *r, const char *id, json_t **ret,
                         struct bg_error *err)
{
    int64_t now = r->clock();
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    expire_locked(r, now);
    struct entry *e = find_locked(r, id);
    if (e)
        *ret = entry_to_json(e);
    else
        rc = bg_error_set(err, BG_ERR(BG_PROBLEM_EXEC_NOT_FOUND),
                          "no exec '%s'; ended commands are kept %d minutes", BG_QUOTE(id),
                          BG_EXEC_REGISTRY_KEEP_S / 60);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void bg_exec_registry_close(struct bg_exec_registry *r)
{
    pthread_mutex_lock(&r->lock);
    r->closed = true;
    for (size_t i = 0; i < r->n; i++)
        if (r->entries[i]->running && r->entries[i]->fd >= 0)
            (void)shutdown(r->entries[i]->fd, SHUT_RDWR);
    pthread_mutex_unlock(&r->lock);
}

bool bg_exec_registry_closed(struct bg_exec_registry *r)
{
    pthread_mutex_lock(&r->lock);
    bool closed = r->closed;
    pthread_mutex_unlock(&r->lock);
    return closed;
}
