/* SPDX-License-Identifier: MIT */
/* Auto-remove VMs: a VM tied to its holder (the HTTP connection that made it) is deleted, VMM
 * and disks, when the holder goes away; one whose holder died with a previous daemon goes at
 * the next start. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "store/store.h"
#include "vm/vm-internal.h"

struct bg_vm_hold *bg_vm_hold_new(struct bg_vm_runtime *rt, const char *name)
{
    struct bg_vm_hold *h = bg_calloc(1, sizeof(*h));

    h->rt = rt;
    h->name = bg_strdup(name);
    h->live = true;
    pthread_mutex_lock(&rt->lock);
    h->next = rt->holds;
    rt->holds = h;
    pthread_mutex_unlock(&rt->lock);
    return h;
}

/* Unlink h from the table; returns whether it was still live. */
static bool hold_take(struct bg_vm_hold *h)
{
    struct bg_vm_runtime *rt = h->rt;
    bool live;

    pthread_mutex_lock(&rt->lock);
    for (struct bg_vm_hold **pp = &rt->holds; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    live = h->live;
    pthread_mutex_unlock(&rt->lock);
    return live;
}

void bg_vm_hold_release(struct bg_vm_hold *h)
{
    struct bg_vm_runtime *rt = h->rt;
    /* under the VM's lock: a start in progress ends first, and no delete or create slips
     * between the look at the hold and the removal */
    struct bg_vm_entry *e = bg_vm_lock(rt, h->name);
    struct bg_error err;
    struct bg_vm vm;

    if (hold_take(h) && bg_vm_get(rt, h->name, &vm, &err) == 0) {
        if (bg_vm_destroy_locked(rt, e, &vm, true, &err) == 0)
            bg_log_info("auto-remove vm '%s': its client is gone; deleted", h->name);
        else
            bg_log_error("auto-remove vm '%s': %s", h->name, err.msg);
    }
    bg_vm_unlock(rt, e);
    free(h->name);
    free(h);
}

int bg_vm_reconcile_auto_remove(struct bg_vm_runtime *rt, struct bg_error *err)
{
    struct bg_vm *vms = NULL;
    size_t n = 0;
    int r;

    if ((r = bg_store_vm_list(rt->store, NULL, &vms, &n, err)) < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        struct bg_error e2;
        if (!vms[i].spec.auto_remove)
            continue;
        if (bg_vm_destroy(rt, vms[i].spec.name, true, &e2) == 0)
            bg_log_info("reconcile vm '%s': auto-remove VM whose client left with the previous "
                        "bangerd; deleted",
                        vms[i].spec.name);
        else
            bg_log_error("reconcile vm '%s': auto-remove: %s", vms[i].spec.name, e2.msg);
    }
    free(vms);
    return 0;
}
