/* SPDX-License-Identifier: MIT */
/* The running-VM table: per-VM locks, agent connections and their borrowers, the VMM choice. */
#include "vm/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "core/config.h"
#include "guest/agentconn.h"
#include "rest/daemon.h"
#include "vm/vm-internal.h"
#include "vmm/firecracker/firecracker.h"
#include "vmm/qemu/qemu.h"

struct bg_vm_runtime *bg_vm_runtime_new(const struct bg_config *cfg)
{
    struct bg_vm_runtime *rt = bg_calloc(1, sizeof(*rt));
    struct bg_error err;

    pthread_condattr_t ca;

    pthread_mutex_init(&rt->lock, NULL);
    pthread_mutex_init(&rt->watch_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->watch_cond, &ca);
    pthread_condattr_destroy(&ca);
    rt->cfg = cfg;
    bg_qemu_set_accel(cfg->accel);
    bg_firecracker_set_path(cfg->firecracker_path);
    if (bg_vmm_select_probe(cfg->vmm, &rt->vmm, &rt->probe, rt->reason, sizeof(rt->reason), &err) <
        0) {
        rt->vmm = NULL;
        snprintf(rt->reason, sizeof(rt->reason), "%s", err.msg);
        bg_log_warn("select vmm '%s': %s; VMs cannot start", cfg->vmm, err.msg);
    } else {
        bg_log_info("select vmm '%s': %s %s (%s)", cfg->vmm, rt->vmm->name, rt->probe.version,
                    rt->reason);
    }
    return rt;
}

void bg_vm_runtime_free(struct bg_vm_runtime *rt)
{
    if (!rt)
        return;
    bg_vm_watch_stop(rt);
    /* VMM processes keep running; only this daemon's handles go. */
    for (struct bg_vm_entry *e = rt->entries, *next; e; e = next) {
        next = e->next;
        bg_vmm_instance_done(&e->vi);
        pthread_mutex_destroy(&e->lock);
        free(e);
    }
    for (struct bg_vm_conn_ref *c = rt->conns, *next; c; c = next) {
        next = c->next;
        bg_agent_conn_free(c->conn);
        free(c);
    }
    pthread_mutex_destroy(&rt->lock);
    pthread_mutex_destroy(&rt->watch_lock);
    pthread_cond_destroy(&rt->watch_cond);
    free(rt);
}

json_t *bg_vm_runtime_vmm_json(const struct bg_vm_runtime *rt)
{
    if (!rt->vmm)
        return json_pack("{s:n, s:n, s:s, s:n}", "selected", "accel", "reason", rt->reason,
                         "version");
    return json_pack("{s:s, s:s, s:s, s:s}", "selected", rt->vmm->name, "accel", rt->probe.accel,
                     "reason", rt->reason, "version", rt->probe.version);
}

int bg_vm_image_check(const struct bg_vm_runtime *rt, const struct bg_image *img,
                      struct bg_error *err)
{
    if (!rt->vmm || (img->vmms & rt->vmm->image_vmm))
        return 0;
    if (rt->vmm->elf_kernel_only)
        return bg_error_set(err, -EMEDIUMTYPE,
                            "image '%s' cannot boot under %s: its kernel is not an uncompressed "
                            "ELF vmlinux and it has no vmlinux; import it again with --vmlinux "
                            "(docs/images.md) or set vmm = \"qemu\"",
                            img->name, rt->vmm->name);
    return bg_error_set(err, -EMEDIUMTYPE, "image '%s' cannot boot under %s", img->name,
                        rt->vmm->name);
}

struct bg_vm_entry *bg_vm_entry_lock(struct bg_vm_runtime *rt, const char *name)
{
    struct bg_vm_entry *e;

    pthread_mutex_lock(&rt->lock);
    for (e = rt->entries; e; e = e->next)
        if (!strcmp(e->name, name))
            break;
    if (!e) {
        e = bg_calloc(1, sizeof(*e));
        snprintf(e->name, sizeof(e->name), "%s", name);
        pthread_mutex_init(&e->lock, NULL);
        e->next = rt->entries;
        rt->entries = e;
    }
    e->users++;
    pthread_mutex_unlock(&rt->lock);
    pthread_mutex_lock(&e->lock);
    return e;
}

void bg_vm_entry_unlock(struct bg_vm_runtime *rt, struct bg_vm_entry *e)
{
    pthread_mutex_unlock(&e->lock);
    pthread_mutex_lock(&rt->lock);
    /* with no other user, nobody can be changing drv or conn */
    if (--e->users == 0 && !e->drv && !e->conn) {
        for (struct bg_vm_entry **pp = &rt->entries; *pp; pp = &(*pp)->next)
            if (*pp == e) {
                *pp = e->next;
                break;
            }
        pthread_mutex_destroy(&e->lock);
        free(e);
    }
    pthread_mutex_unlock(&rt->lock);
}

void bg_vm_entry_attach(struct bg_vm_runtime *rt, struct bg_vm_entry *e, struct bg_agent_conn *c)
{
    struct bg_vm_conn_ref *ref = bg_calloc(1, sizeof(*ref));

    ref->conn = c;
    ref->refs = 1;
    pthread_mutex_lock(&rt->lock);
    ref->next = rt->conns;
    rt->conns = ref;
    e->conn = ref;
    pthread_mutex_unlock(&rt->lock);
}

void bg_vm_entry_detach(struct bg_vm_runtime *rt, struct bg_vm_entry *e,
                        struct bg_vm_conn_ref **ret)
{
    pthread_mutex_lock(&rt->lock);
    *ret = e->conn;
    e->conn = NULL;
    pthread_mutex_unlock(&rt->lock);
}

static void conn_unref_locked(struct bg_vm_runtime *rt, struct bg_vm_conn_ref *ref,
                              struct bg_agent_conn **ret_free)
{
    *ret_free = NULL;
    if (--ref->refs > 0)
        return;
    for (struct bg_vm_conn_ref **pp = &rt->conns; *pp; pp = &(*pp)->next)
        if (*pp == ref) {
            *pp = ref->next;
            break;
        }
    *ret_free = ref->conn;
    free(ref);
}

void bg_vm_conn_unref(struct bg_vm_runtime *rt, struct bg_vm_conn_ref *ref)
{
    struct bg_agent_conn *dead;

    if (!ref)
        return;
    pthread_mutex_lock(&rt->lock);
    conn_unref_locked(rt, ref, &dead);
    pthread_mutex_unlock(&rt->lock);
    /* freed outside the lock: it joins the connection's reader thread */
    if (dead)
        bg_agent_conn_free(dead);
}

/* The entry's connection with one more reference, or NULL. Takes no lifecycle lock, so exec
 * never waits behind a start or stop of the same VM. */
static struct bg_vm_conn_ref *conn_borrow(struct bg_vm_runtime *rt, const char *name)
{
    struct bg_vm_conn_ref *ref = NULL;

    pthread_mutex_lock(&rt->lock);
    for (struct bg_vm_entry *e = rt->entries; e; e = e->next)
        if (!strcmp(e->name, name) && e->conn) {
            ref = e->conn;
            ref->refs++;
            break;
        }
    pthread_mutex_unlock(&rt->lock);
    return ref;
}

int bg_vm_agent_acquire(struct bg_daemon *d, const char *name, struct bg_agent_conn **ret,
                        struct bg_error *err)
{
    struct bg_vm_conn_ref *ref = conn_borrow(d->runtime, name);
    struct bg_vm vm;
    int r;

    if (ref) {
        *ret = ref->conn;
        return 0;
    }
    if ((r = bg_store_vm_get(d->store, name, &vm, err)) < 0)
        return r;
    if (vm.state == BG_VM_STATE_RUNNING)
        return bg_error_set(err, -EAGAIN, "vm '%s' is running but its agent is not connected",
                            name);
    return bg_error_set(err, -EAGAIN, "vm '%s' is %s, not running", name,
                        bg_vm_state_name(vm.state));
}

void bg_vm_agent_release(struct bg_daemon *d, struct bg_agent_conn *c)
{
    struct bg_vm_runtime *rt = d->runtime;
    struct bg_agent_conn *dead = NULL;

    if (!c)
        return;
    pthread_mutex_lock(&rt->lock);
    for (struct bg_vm_conn_ref *ref = rt->conns; ref; ref = ref->next)
        if (ref->conn == c) {
            conn_unref_locked(rt, ref, &dead);
            break;
        }
    pthread_mutex_unlock(&rt->lock);
    if (dead)
        bg_agent_conn_free(dead);
}

void bg_vm_lock(struct bg_daemon *d, const char *name)
{
    (void)bg_vm_entry_lock(d->runtime, name);
}

void bg_vm_unlock(struct bg_daemon *d, const char *name)
{
    struct bg_vm_runtime *rt = d->runtime;
    struct bg_vm_entry *e;

    pthread_mutex_lock(&rt->lock);
    for (e = rt->entries; e; e = e->next)
        if (!strcmp(e->name, name))
            break;
    pthread_mutex_unlock(&rt->lock);
    if (e)
        bg_vm_entry_unlock(rt, e);
}
