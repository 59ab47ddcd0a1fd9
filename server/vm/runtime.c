/* SPDX-License-Identifier: MIT */
/* The running-VM table: per-VM locks, agent connections and their borrowers, the VMM choice,
 * and the record and image lookups with their domain codes. */
#include "vm/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/utf8.h"
#include "guest/agentconn.h"
#include "store/store.h"
#include "vm/vm-internal.h"

struct bg_vm_runtime *bg_vm_runtime_new(const struct bg_vm_runtime_config *c)
{
    struct bg_vm_runtime *rt = bg_calloc(1, sizeof(*rt));
    struct bg_error err;

    pthread_mutex_init(&rt->lock, NULL);
    rt->store = c->store;
    rt->runtime_dir = bg_strdup(c->runtime_dir);
    rt->state_dir = bg_strdup(c->state_dir);
    rt->cache_dir = bg_strdup(c->cache_dir);
    rt->drivers = c->drivers;
    rt->n_drivers = c->n_drivers;
    rt->accel = c->vmm_settings.accel ? bg_strdup(c->vmm_settings.accel) : NULL;
    rt->firecracker_path =
        c->vmm_settings.firecracker_path ? bg_strdup(c->vmm_settings.firecracker_path) : NULL;
    rt->settings = (struct bg_vmm_settings){
        .accel = rt->accel,
        .firecracker_path = rt->firecracker_path,
        .firecracker_kvm_check = c->vmm_settings.firecracker_kvm_check,
    };
    rt->console_max_bytes = c->console_max_bytes;
    if (bg_vmm_select(c->vmm, rt->drivers, rt->n_drivers, &rt->settings, &rt->vmm, &rt->probe,
                      rt->reason, sizeof(rt->reason), &err) < 0) {
        rt->vmm = NULL;
        snprintf(rt->reason, sizeof(rt->reason), "%s", err.msg);
        bg_log_warn("select vmm '%s': %s; VMs cannot start", c->vmm, err.msg);
    } else {
        bg_log_info("select vmm '%s': %s %s (%s)", c->vmm, rt->vmm->name, rt->probe.version,
                    rt->reason);
    }
    return rt;
}

void bg_vm_runtime_free(struct bg_vm_runtime *rt)
{
    if (!rt)
        return;
    /* VMM processes keep running; only this daemon's handles go. */
    for (struct bg_vm_entry *e = rt->entries, *next; e; e = next) {
        next = e->next;
        bg_vmm_instance_done(&e->vi);
        pthread_mutex_destroy(&e->lock);
        free(e->name);
        free(e);
    }
    for (struct bg_vm_conn_ref *c = rt->conns, *next; c; c = next) {
        next = c->next;
        bg_agent_conn_free(c->conn);
        free(c);
    }
    pthread_mutex_destroy(&rt->lock);
    free(rt->runtime_dir);
    free(rt->state_dir);
    free(rt->cache_dir);
    free(rt->accel);
    free(rt->firecracker_path);
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

int bg_vm_get(struct bg_vm_runtime *rt, const char *name, struct bg_vm *ret, struct bg_error *err)
{
    int r = bg_store_vm_get(rt->store, name, ret, err);

    if (r == -ENOENT)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_VM_NOT_FOUND),
                            "no VM named '%s'; 'banger vm ls' lists them", BG_QUOTE(name));
    return r;
}

/* 0 when img is ready and the selected VMM can boot it (or none is usable: starting says
 * why). */
static int image_check(const struct bg_vm_runtime *rt, const struct bg_image *img,
                       struct bg_error *err)
{
    if (img->state == BG_IMAGE_STATE_IMPORTING)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_NOT_READY),
                            "image '%s' is still importing; wait for its operation to finish",
                            img->name);
    if (img->state != BG_IMAGE_STATE_READY)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_NOT_READY),
                            "image '%s' failed (%s); remove it and import or build it again",
                            img->name, img->error ? img->error : "no reason recorded");
    if (!rt->vmm || (img->vmms & rt->vmm->image_vmm))
        return 0;
    if (rt->vmm->elf_kernel_only)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_UNSUPPORTED),
                            "image '%s' cannot boot under %s: its kernel is not an uncompressed "
                            "ELF vmlinux and it has no vmlinux; import it again with --vmlinux "
                            "(docs/images.md) or set vmm = \"qemu\"",
                            img->name, rt->vmm->name);
    return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_UNSUPPORTED),
                        "image '%s' cannot boot under %s", img->name, rt->vmm->name);
}

int bg_vm_image_load(struct bg_vm_runtime *rt, const char *name, struct bg_image *ret,
                     struct bg_error *err)
{
    struct bg_image img = {0};
    int r = bg_store_image_get(rt->store, name, &img, err);

    if (r == -ENOENT)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_IMAGE_NOT_FOUND),
                            "no image named '%s'; 'banger image ls' lists them, 'banger image "
                            "import' adds one",
                            BG_QUOTE(name));
    if (r < 0)
        return r;
    if ((r = image_check(rt, &img, err)) < 0) {
        bg_image_done(&img);
        return r;
    }
    *ret = img;
    return 0;
}

int bg_vm_image_usable(struct bg_vm_runtime *rt, const char *image, struct bg_error *err)
{
    struct bg_image img;
    int r = bg_vm_image_load(rt, image, &img, err);

    if (r == 0)
        bg_image_done(&img);
    return r;
}

int bg_vm_entry_load_instance(struct bg_vm_runtime *rt, struct bg_vm_entry *e)
{
    struct bg_store_runtime row = {0};
    int r = bg_store_runtime_get(rt->store, e->name, &row, NULL);

    if (r < 0)
        return r;
    const struct bg_vmm_driver *drv = bg_vmm_find(rt->drivers, rt->n_drivers, row.vmm);
    if (!drv) {
        bg_store_runtime_done(&row);
        return -ENOENT;
    }
    bg_vmm_instance_done(&e->vi);
    e->vi = (struct bg_vmm_instance){
        .pid = (pid_t)row.pid,
        .start_time = row.start_time,
        .agent_path = bg_steal_ptr(&row.agent_path),
        .control_path = bg_steal_ptr(&row.control_path),
        .console_path = bg_steal_ptr(&row.console_path),
    };
    snprintf(e->vi.accel, sizeof(e->vi.accel), "%s", row.accel);
    e->drv = drv;
    bg_store_runtime_done(&row);
    return 0;
}

void bg_vm_entry_forget(struct bg_vm_runtime *rt, struct bg_vm_entry *e)
{
    struct bg_vm_conn_ref *ref;
    struct bg_vm_paths p;

    bg_vm_entry_detach(rt, e, &ref);
    bg_vm_conn_unref(rt, ref);
    e->drv = NULL;
    bg_vmm_instance_done(&e->vi);
    bg_vm_paths_init(rt, e->name, &p);
    bg_vm_run_files_remove(rt, p.run_dir);
    bg_vm_paths_done(&p);
    (void)bg_store_runtime_delete(rt->store, e->name, NULL);
}

void bg_vm_holds_void(struct bg_vm_runtime *rt, const char *name)
{
    pthread_mutex_lock(&rt->lock);
    for (struct bg_vm_hold *h = rt->holds; h; h = h->next)
        if (!strcmp(h->name, name))
            h->live = false;
    pthread_mutex_unlock(&rt->lock);
}

struct bg_vm_entry *bg_vm_lock(struct bg_vm_runtime *rt, const char *name)
{
    struct bg_vm_entry *e;

    pthread_mutex_lock(&rt->lock);
    for (e = rt->entries; e; e = e->next)
        if (!strcmp(e->name, name))
            break;
    if (!e) {
        e = bg_calloc(1, sizeof(*e));
        e->name = bg_strdup(name);
        pthread_mutex_init(&e->lock, NULL);
        e->next = rt->entries;
        rt->entries = e;
    }
    e->users++;
    pthread_mutex_unlock(&rt->lock);
    pthread_mutex_lock(&e->lock);
    return e;
}

void bg_vm_unlock(struct bg_vm_runtime *rt, struct bg_vm_entry *e)
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
        free(e->name);
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

int bg_vm_agent_acquire(struct bg_vm_runtime *rt, const char *name, struct bg_agent_conn **ret,
                        struct bg_error *err)
{
    struct bg_vm_conn_ref *ref = conn_borrow(rt, name);
    struct bg_vm vm;
    int r;

    if (ref) {
        *ret = ref->conn;
        return 0;
    }
    if ((r = bg_vm_get(rt, name, &vm, err)) < 0)
        return r;
    if (vm.state == BG_VM_STATE_RUNNING)
        return bg_error_set(err, BG_ERR(BG_PROBLEM_VM_NOT_RUNNING),
                            "vm '%s' is running but its agent is not connected", name);
    return bg_error_set(err, BG_ERR(BG_PROBLEM_VM_NOT_RUNNING),
                        "vm '%s' is %s, not running; start it with 'banger vm start %s'", name,
                        bg_vm_state_name(vm.state), name);
}

void bg_vm_agent_release(struct bg_vm_runtime *rt, struct bg_agent_conn *c)
{
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
