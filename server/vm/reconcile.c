/* SPDX-License-Identifier: MIT */
/* At daemon start: adopt the VMM processes that outlived the previous daemon, clean up after
 * the ones that did not. Disks are never touched here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banger/log.h"
#include "banger/timefmt.h"
#include "guest/agentconn.h"
#include "store/store.h"
#include "vm/vm-internal.h"

#define ADOPT_AGENT_MS 10000

static int adopt_agent(struct bg_vm_runtime *rt, struct bg_vm_entry *e, struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + ADOPT_AGENT_MS;
    struct bg_agent_conn *conn = NULL;
    int fd = -1;
    int r;

    if (!e->vi.agent_path)
        return bg_error_set(err, -ENOENT, "no agent socket recorded");
    if ((r = e->drv->agent_connect(&e->vi, deadline, &fd, err)) < 0)
        return r;
    if ((r = bg_agent_conn_open(fd, deadline, &conn, err)) < 0)
        return r;
    bg_vm_entry_attach(rt, e, conn);
    return 0;
}

/* The daemon died between spawning the VMM and recording its pid: the driver finds it from
 * what it left in the run dir. */
static void find_unrecorded(struct bg_vm_runtime *rt, struct bg_vm_entry *e)
{
    struct bg_vm_paths p;

    if (!e->drv->find_unrecorded)
        return;
    bg_vm_paths_init(rt, e->name, &p);
    if (e->drv->find_unrecorded(p.run_dir, &e->vi) == 0)
        bg_log_info("reconcile vm '%s': found %s pid %d, started before it was recorded", e->name,
                    e->drv->name, (int)e->vi.pid);
    bg_vm_paths_done(&p);
}

/* One VM found active in the store. */
static void reconcile_one(struct bg_vm_runtime *rt, struct bg_vm *vm)
{
    struct bg_vm_entry *e = bg_vm_lock(rt, vm->spec.name);
    struct bg_error err = {0};
    enum bg_vm_state was = vm->state;

    bool known = bg_vm_entry_load_instance(rt, e) == 0;
    if (known && e->vi.pid == 0)
        find_unrecorded(rt, e);
    bool alive = known && bg_vmm_instance_alive(&e->vi);

    if (alive && was != BG_VM_STATE_STOPPING && adopt_agent(rt, e, &err) == 0) {
        vm->state = BG_VM_STATE_RUNNING;
        bg_log_info("reconcile vm '%s': adopted pid %d (was %s)", vm->spec.name, (int)e->vi.pid,
                    bg_vm_state_name(was));
    } else if (alive && was == BG_VM_STATE_RUNNING) {
        /* keep it: the guest runs; the agent may come back (acquire says it is missing) */
        vm->state = BG_VM_STATE_RUNNING;
        bg_log_warn("reconcile vm '%s': pid %d runs but its agent did not answer: %s",
                    vm->spec.name, (int)e->vi.pid, err.msg);
    } else {
        if (alive)
            (void)bg_vmm_stop(e->drv, &e->vi, 0, NULL);
        bg_vm_entry_forget(rt, e);
        vm->state = was == BG_VM_STATE_STARTING ? BG_VM_STATE_FAILED : BG_VM_STATE_STOPPED;
        if (was == BG_VM_STATE_STARTING)
            snprintf(vm->error, sizeof(vm->error), "bangerd stopped while the VM was starting");
        bg_log_warn("reconcile vm '%s': %s; now %s", vm->spec.name,
                    alive ? "stopped its VMM" : "its VMM is gone", bg_vm_state_name(vm->state));
    }
    if (bg_vm_record_state(rt, vm, vm->state, NULL, &err) < 0)
        bg_log_error("reconcile vm '%s': %s", vm->spec.name, err.msg);
    bg_vm_unlock(rt, e);
}

int bg_vm_reconcile(struct bg_vm_runtime *rt, struct bg_error *err)
{
    struct bg_vm *vms = NULL;
    size_t n = 0;
    int r;

    if ((r = bg_store_vm_list(rt->store, NULL, &vms, &n, err)) < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        enum bg_vm_state s = vms[i].state;
        /* an auto-remove VM is not adopted: it is deleted below, VMM and all */
        if ((s == BG_VM_STATE_STARTING || s == BG_VM_STATE_RUNNING || s == BG_VM_STATE_STOPPING) &&
            !vms[i].spec.auto_remove)
            reconcile_one(rt, &vms[i]);
    }
    free(vms);
    return bg_vm_reconcile_auto_remove(rt, err);
}
