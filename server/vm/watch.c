/* SPDX-License-Identifier: MIT */
/* The VM watcher: notices VMM processes that end unasked (the guest powered off, QEMU crashed,
 * someone killed it) and records the VM as failed with the reason, so "running" is never a
 * stale claim; and keeps every running VM's console log under its cap. */
#include "vm/watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "vm/vm-internal.h"

#define WATCH_PERIOD_MS 500

struct bg_vm_watch {
    struct bg_vm_runtime *rt;
    pthread_mutex_t lock; /* guards stop */
    pthread_cond_t cond;  /* wakes the thread to stop (CLOCK_MONOTONIC) */
    pthread_t thread;
    bool stop;
};

/* Pin every entry (users++), so none is freed while it is looked at. */
static struct bg_vm_entry **pin_entries(struct bg_vm_runtime *rt, size_t *ret_n)
{
    struct bg_vm_entry **list = NULL;
    size_t n = 0;

    pthread_mutex_lock(&rt->lock);
    for (struct bg_vm_entry *e = rt->entries; e; e = e->next) {
        list = bg_realloc(list, (n + 1) * sizeof(*list));
        e->users++;
        list[n++] = e;
    }
    pthread_mutex_unlock(&rt->lock);
    *ret_n = n;
    return list;
}

/* e's lifecycle lock is held and its VMM is gone although nobody stopped it: record why. */
static void reap(struct bg_vm_runtime *rt, struct bg_vm_entry *e)
{
    char reason[160], msg[BG_VM_ERROR_MAX];
    const struct bg_vmm_driver *drv = e->drv;
    struct bg_vm_paths p;
    struct bg_error err;
    struct bg_vm vm;

    snprintf(reason, sizeof(reason), "its VMM (%s, pid %d) exited while the VM was running",
             drv->name, (int)e->vi.pid);
    bg_log_warn("vm '%s': %s; now failed", e->name, reason);
    bg_vm_entry_forget(rt, e);
    if (bg_vm_get(rt, e->name, &vm, &err) < 0 || vm.state != BG_VM_STATE_RUNNING)
        return;
    bg_vm_paths_init(rt, e->name, &p);
    bg_vm_failure_text(drv, &p, reason, msg, sizeof(msg));
    (void)bg_vm_console_trim(p.console, rt->console_max_bytes);
    bg_vm_paths_done(&p);
    if (bg_vm_record_state(rt, &vm, BG_VM_STATE_FAILED, msg, &err) < 0)
        bg_log_error("vm '%s': record failure: %s", e->name, err.msg);
}

/* e's lock is held and its VMM runs: keep its console under the cap. */
static void trim(struct bg_vm_runtime *rt, struct bg_vm_entry *e)
{
    struct bg_vm_paths p;

    bg_vm_paths_init(rt, e->name, &p);
    int r = bg_vm_console_trim(p.console, rt->console_max_bytes);
    if (r < 0)
        bg_log_debug("vm '%s': trim console %s: %s", e->name, p.console, strerror(-r));
    bg_vm_paths_done(&p);
}

/* One pass. An entry whose lock is taken is in a transition; it is looked at next time. */
BG_TESTABLE void bg_vm_watch_pass(struct bg_vm_runtime *rt)
{
    size_t n;
    struct bg_vm_entry **list = pin_entries(rt, &n);

    for (size_t i = 0; i < n; i++) {
        struct bg_vm_entry *e = list[i];
        if (pthread_mutex_trylock(&e->lock) != 0) {
            pthread_mutex_lock(&rt->lock);
            e->users--;
            pthread_mutex_unlock(&rt->lock);
            continue;
        }
        if (e->drv && !bg_vmm_instance_alive(&e->vi))
            reap(rt, e);
        else if (e->drv)
            trim(rt, e);
        bg_vm_unlock(rt, e); /* drops the pin; frees the entry when idle */
    }
    free(list);
}

static void *watch_main(void *arg)
{
    struct bg_vm_watch *w = arg;

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCH_PERIOD_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        (void)pthread_cond_timedwait(&w->cond, &w->lock, &until);
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->lock);
        bg_vm_watch_pass(w->rt);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void watch_free(struct bg_vm_watch *w)
{
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

int bg_vm_watch_start(struct bg_vm_runtime *rt, struct bg_vm_watch **ret, struct bg_error *err)
{
    struct bg_vm_watch *w = bg_calloc(1, sizeof(*w));
    pthread_condattr_t ca;

    w->rt = rt;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    int r = pthread_create(&w->thread, NULL, watch_main, w);
    if (r != 0) {
        watch_free(w);
        return bg_error_set(err, -r, "start the VM watcher: %s", strerror(r));
    }
    *ret = w;
    return 0;
}

void bg_vm_watch_stop(struct bg_vm_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    watch_free(w);
}
