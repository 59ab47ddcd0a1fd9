/* SPDX-License-Identifier: MIT */
/* Notices VMM processes that end on their own (the guest powered off, QEMU crashed, someone
 * killed it) and records the VM as stopped, so "running" is never a stale claim. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "rest/daemon.h"
#include "vm/vm-internal.h"

#define WATCH_PERIOD_MS 500

/* Pin every entry that runs a VMM (users++), so none is freed while it is looked at. */
static struct bg_vm_entry **pin_running(struct bg_vm_runtime *rt, size_t *ret_n)
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

/* e's lifecycle lock is held and its VMM is gone: record the stop. */
static void reap(struct bg_daemon *d, struct bg_vm_entry *e)
{
    struct bg_vm_conn_ref *ref;
    struct bg_vm_paths p;
    struct bg_error err;
    struct bg_vm vm;

    bg_log_info("vm '%s': its VMM (pid %d) exited on its own; now stopped", e->name,
                (int)e->vi.pid);
    bg_vm_entry_detach(d->runtime, e, &ref);
    bg_vm_conn_unref(d->runtime, ref);
    e->drv = NULL;
    bg_vmm_instance_done(&e->vi);
    bg_vm_paths_init(d->cfg, e->name, &p);
    bg_vm_run_files_remove(p.run_dir);
    bg_vm_paths_done(&p);
    (void)bg_store_runtime_delete(d->store, e->name, NULL);
    if (bg_store_vm_get(d->store, e->name, &vm, &err) < 0 || vm.state != BG_VM_STATE_RUNNING)
        return;
    vm.state = BG_VM_STATE_STOPPED;
    vm.updated_at = time(NULL);
    if (bg_store_vm_update(d->store, &vm, NULL, &err) < 0)
        bg_log_error("vm '%s': record stop: %s", e->name, err.msg);
}

/* One pass. An entry whose lock is taken is in a transition; it is looked at next time. */
static void watch_pass(struct bg_daemon *d)
{
    struct bg_vm_runtime *rt = d->runtime;
    size_t n;
    struct bg_vm_entry **list = pin_running(rt, &n);

    for (size_t i = 0; i < n; i++) {
        struct bg_vm_entry *e = list[i];
        if (pthread_mutex_trylock(&e->lock) != 0) {
            pthread_mutex_lock(&rt->lock);
            e->users--;
            pthread_mutex_unlock(&rt->lock);
            continue;
        }
        if (e->drv && !bg_vmm_instance_alive(&e->vi))
            reap(d, e);
        bg_vm_entry_unlock(rt, e); /* drops the pin; frees the entry when idle */
    }
    free(list);
}

static void *watch_main(void *arg)
{
    struct bg_daemon *d = arg;
    struct bg_vm_runtime *rt = d->runtime;

    pthread_mutex_lock(&rt->watch_lock);
    while (!rt->watch_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCH_PERIOD_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        (void)pthread_cond_timedwait(&rt->watch_cond, &rt->watch_lock, &until);
        if (rt->watch_stop)
            break;
        pthread_mutex_unlock(&rt->watch_lock);
        watch_pass(d);
        pthread_mutex_lock(&rt->watch_lock);
    }
    pthread_mutex_unlock(&rt->watch_lock);
    return NULL;
}

int bg_vm_watch_start(struct bg_daemon *d, struct bg_error *err)
{
    struct bg_vm_runtime *rt = d->runtime;
    int r = pthread_create(&rt->watch_thread, NULL, watch_main, d);

    if (r != 0)
        return bg_error_set(err, -r, "start the VM watcher: %s", strerror(r));
    rt->watching = true;
    return 0;
}

void bg_vm_watch_stop(struct bg_vm_runtime *rt)
{
    if (!rt || !rt->watching)
        return;
    pthread_mutex_lock(&rt->watch_lock);
    rt->watch_stop = true;
    pthread_cond_signal(&rt->watch_cond);
    pthread_mutex_unlock(&rt->watch_lock);
    pthread_join(rt->watch_thread, NULL);
    rt->watching = false;
}
